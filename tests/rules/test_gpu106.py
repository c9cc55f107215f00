"""GPU106: tests of the rule migrator/transforms/gpu106_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from migrator.model import Status
from rulekit import assert_blocked


@pytest.mark.parametrize("shared", [
    "resources: &r {limits: {nvidia.com/gpu: 1}}}\n      - {name: b, image: x, resources: *r}",
    "resources: {limits: &l {nvidia.com/gpu: 1}}}\n      - {name: b, image: x, resources: {limits: *l}}",
    "resources: {limits: &l {nvidia.com/gpu: 1}}}\n      - {name: b, image: x, resources: {limits: {<<: *l}}}",
])
def test_gpu106_alias(shared: str) -> None:
    text = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: p}}
    spec:
      containers:
      - {{name: a, image: x, {shared}
    """
    assert_blocked(text, "GPU106", Status.MANUAL, "the GPU block is shared through a YAML alias or merge key")
