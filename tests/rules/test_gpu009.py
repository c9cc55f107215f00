"""GPU009: tests of the rule migrator/transforms/gpu009_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations



from rulekit import context, pod, run_until


def test_gpu009_mig_single_strategy() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: 2}",
                      extra="  nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB-MIG-3g.20gb}"))
    plan, out = run_until("GPU009", ctx)
    (req,) = plan.requests
    assert req.device_class == "mig.nvidia.com" and req.count == 2
    assert "profile == '3g.20gb'" in req.selectors[0] and "'NVIDIA-A100-SXM4-40GB'" in req.selectors[1]
