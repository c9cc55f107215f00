"""GPU001: tests of the rule migrator/transforms/gpu001_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations



from rulekit import context, pod, run_until


def test_gpu001_whole_gpu_counts_and_wiring() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: '3', cpu: 1}"))
    plan, _ = run_until("GPU001", ctx)
    assert [(r.name, r.device_class, r.count) for r in plan.requests] == [("main", "gpu.nvidia.com", 3)]
    assert plan.wiring == {("containers", 0): ["main"]}
    assert plan.removals == [("containers", 0, "nvidia.com/gpu")]
