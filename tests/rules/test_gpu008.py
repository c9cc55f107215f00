"""GPU008: tests of the rule migrator/transforms/gpu008_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations



from rulekit import context, pod, run_until


def test_gpu008_selection_moves_and_keeps() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: 1}",
                      extra="  nodeSelector: {nvidia.com/gpu.family: hopper, disk: ssd, nvidia.com/gpu.product: 'x y'}"))
    plan, out = run_until("GPU008", ctx)
    (req,) = plan.requests
    assert req.selectors == ("('architecture' in device.attributes['gpu.nvidia.com'] && "
                             "device.attributes['gpu.nvidia.com'].architecture == 'Hopper')",)
    assert plan.translation.remove_selector_keys == ["nvidia.com/gpu.family"]
    assert any("no mapping" in f.message for f in out)  # 'x y' is not a GFD product label
