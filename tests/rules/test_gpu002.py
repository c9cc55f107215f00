"""GPU002: tests of the rule migrator/transforms/gpu002_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from migrator.model import Status
from rulekit import assert_blocked, context, pod, run_until


@pytest.mark.parametrize("resource,profile", [
    ("nvidia.com/mig-1g.5gb", "1g.5gb"),
    ("nvidia.com/mig-1g.10gb.me", "1g.10gb+me"),
    ("nvidia.com/mig-1g.10gb.me.all", "1g.10gb+me.all"),
    ("nvidia.com/mig-1g.10gb-me", "1g.10gb-me"),
    ("nvidia.com/mig-1c.3g.20gb", "1c.3g.20gb"),
])
def test_gpu002_mig_profile(resource: str, profile: str) -> None:
    ctx = context(pod(f"      limits: {{{resource}: 2}}"))
    plan, _ = run_until("GPU002", ctx)
    (req,) = plan.requests
    assert req.device_class == "mig.nvidia.com" and req.count == 2
    assert req.selectors == ("'profile' in device.attributes['gpu.nvidia.com'] && "
                             f"device.attributes['gpu.nvidia.com'].profile == '{profile}'",)


@pytest.mark.parametrize("name", ["nvidia.com/mig-weird", "nvidia.com/mig-", "nvidia.com/mig-1g", "nvidia.com/mig-7x.80gb"])
def test_gpu002_unknown_mig_name_is_manual(name: str) -> None:
    assert_blocked(pod(f"      limits: {{{name}: 1}}"), "GPU002", Status.MANUAL, f"unknown MIG resource {name!r}")
