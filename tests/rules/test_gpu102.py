"""GPU102: tests of the rule migrator/transforms/gpu102_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from migrator.model import Status
from rulekit import assert_blocked, pod


@pytest.mark.parametrize("value,reason", [
    ("$GPUS", "count '$GPUS' is a placeholder"), ("'${N}'", "count '${N}' is a placeholder"),
    ("'{{ .Values.gpus }}'", "count '{{ .Values.gpus }}' is a placeholder"),
    ("GPU_COUNT", "count 'GPU_COUNT' is a placeholder"), ("1.5", "count '1.5' is 1.5, not a whole number"),
])
def test_gpu102_placeholder_counts(value: str, reason: str) -> None:
    assert_blocked(pod(f"      limits: {{nvidia.com/gpu: {value}}}"), "GPU102", Status.SKIPPED, reason)


@pytest.mark.parametrize("limits,requests", [(2, 1), (1, 2), (1, 0), (8, 4)])
def test_gpu102_limits_requests_mismatch(limits: int, requests: int) -> None:
    src = pod(f"      limits: {{nvidia.com/gpu: {limits}}}\n          requests: {{nvidia.com/gpu: {requests}}}")
    assert_blocked(src, "GPU102", Status.SKIPPED, "nvidia.com/gpu limits and requests differ")
