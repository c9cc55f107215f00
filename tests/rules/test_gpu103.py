"""GPU103: tests of the rule migrator/transforms/gpu103_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from migrator.model import Status
from rulekit import assert_blocked, context, pod, run_until


@pytest.mark.parametrize("label,value,meaning", [
    ("nvidia.com/gpu.product", "Tesla-T4-SHARED", "time-sliced/MPS replicas (GFD adds -SHARED)"),
    ("nvidia.com/gpu.replicas", "'4'", "time-sliced/MPS replicas"),
    ("nvidia.com/mig.strategy", "single", "single-strategy MIG slices of an unknown profile"),
    ("nvidia.com/gpu.sharing-strategy", "mps", "time-sliced/MPS replicas"),
    ("nvidia.com/gpu.sharing-strategy", "time-slicing", "time-sliced/MPS replicas"),
])
def test_gpu103_sharing_labels(label: str, value: str, meaning: str) -> None:
    src = pod("      limits: {nvidia.com/gpu: 1}", extra=f"  nodeSelector: {{{label}: {value}}}")
    assert_blocked(src, "GPU103", Status.MANUAL,
                   f"node selection {label}={value.strip(chr(39))} means nvidia.com/gpu is {meaning} on those nodes")


@pytest.mark.parametrize("count", [1, 2, 4])
def test_gpu103_shared_resource_name(count: int) -> None:
    assert_blocked(pod(f"      limits: {{nvidia.com/gpu.shared: {count}}}"), "GPU103", Status.MANUAL,
                   "nvidia.com/gpu.shared is a time-slicing/MPS replica, not a device")


def test_gpu103_plain_product_label_is_fine() -> None:
    plan, out = run_until("GPU103", context(pod("      limits: {nvidia.com/gpu: 1}",
                                                 extra="  nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}")))
    assert not plan.blocked and not out
