"""GPU003: tests of the rule migrator/transforms/gpu003_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations



from migrator.model import Status
from rulekit import context, pod, run_until


def test_gpu003_zero_count_removed_without_claim() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: 0}"))
    plan, out = run_until("GPU003", ctx)
    assert plan.removals == [("containers", 0, "nvidia.com/gpu")] and not plan.requests
    assert out[0].status is Status.INFO
