"""GPU007: tests of the rule migrator/transforms/gpu007_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations



from migrator.model import Status
from rulekit import context, pod, run_until


def test_gpu007_runtime_hints() -> None:
    text = pod("      limits: {nvidia.com/gpu: 1}", extra="  runtimeClassName: nvidia")
    plan, out = run_until("GPU007", context(text))
    assert out and "runtimeClassName" in out[0].message and out[0].status is Status.MANUAL
