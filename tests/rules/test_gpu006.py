"""GPU006: tests of the rule migrator/transforms/gpu006_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations



from migrator.model import Status
from rulekit import context, pod, run_until


def test_gpu006_claim_name_avoids_existing() -> None:
    extra = "  resourceClaims: [{name: gpu, resourceClaimName: a}, {name: gpu-2, resourceClaimName: b}]"
    plan, out = run_until("GPU006", context(pod("      limits: {nvidia.com/gpu: 1}", extra=extra)))
    assert plan.claim_name == "gpu-3" and out[0].status is Status.INFO
