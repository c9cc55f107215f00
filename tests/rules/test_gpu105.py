"""GPU105: tests of the rule migrator/transforms/gpu105_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from migrator.model import Status
from rulekit import assert_blocked


@pytest.mark.parametrize("api,kind", [("example.com/v1", "Thing"), ("ml.example.org/v1beta2", "TrainingRun")])
def test_gpu105_unknown_kind(api: str, kind: str) -> None:
    text = f"""
    apiVersion: {api}
    kind: {kind}
    metadata: {{name: t}}
    spec:
      containers: [{{name: c, image: x, resources: {{limits: {{nvidia.com/gpu: 1}}}}}}]
    """
    assert_blocked(text, "GPU105", Status.MANUAL, f"not converted: {kind} ({api}) is not in rules/workloads.yaml")
