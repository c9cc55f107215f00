"""GPU104: tests of the rule migrator/transforms/gpu104_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from migrator.model import Status
from rulekit import assert_blocked


@pytest.mark.parametrize("annotation,value", [("gpu-fraction", "0.5"), ("gpu-memory", "2000"),
                                              ("gpu-fraction-num-devices", "2")])
def test_gpu104_annotation_request(annotation: str, value: str) -> None:
    text = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: p, annotations: {{{annotation}: "{value}"}}}}
    spec:
      containers: [{{name: c, image: x}}]
    """
    assert_blocked(text, "GPU104", Status.MANUAL, f"GPU share requested by annotation ({annotation}={value})")
