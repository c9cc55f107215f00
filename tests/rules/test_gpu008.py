"""GPU008: tests of the rule migrator/transforms/gpu008_*.py on the smallest inputs that show it."""

from __future__ import annotations

import pytest
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


@pytest.mark.parametrize("value", ["1.\u00b2", "\u0663.1", "1.x", "1.2.3.4"])
def test_gpu008_a_version_label_that_is_no_version_stays_in_the_node_selection(value: str) -> None:
    """``'\u00b2'.isdigit()`` is true and ``int('\u00b2')`` fails: such a value once ended in an internal
    error (GPU900); like any value with no mapping it stays in the node selection, and is said."""
    ctx = context(pod("      limits: {nvidia.com/gpu: 1}",
                      extra=f"  nodeSelector: {{nvidia.com/cuda.driver-version.full: '{value}'}}"))
    plan, out = run_until("GPU008", ctx)
    (req,) = plan.requests
    assert req.selectors == () and plan.translation.remove_selector_keys == []
    assert any(f.code == "GPU008" and "nvidia.com/cuda.driver-version.full" in f.message for f in out), out
