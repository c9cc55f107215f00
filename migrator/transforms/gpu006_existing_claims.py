"""GPU006 existing-claims: append to claims a pod already has; never clobber, never clash.

## What it does
When the pod already lists ``resourceClaims`` (an IMEX channel, a half-done migration), the new
claim is appended and gets the first free name of ``gpu``, ``gpu-2``, ``gpu-3``...; containers'
existing ``resources.claims`` are kept and appended to.

## Why
Claim names must be unique in a pod (DNS labels, dra-api.md §2). Replacing the list would drop
the ComputeDomain channel the job needs (dra-driver ``demo/specs/imex/nvbandwidth-test-job.yaml``).

## Example
    resourceClaims: [{name: gpu, resourceClaimName: imex-channel}]
Use instead: keep it and add ``{name: gpu-2, resourceClaimTemplateName: ...}``.

## Fix safety
Safe.
"""

from __future__ import annotations

from typing import Iterable

from migrator.text.documents import get, items, str_at
from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, SetField

CODE = "GPU006"
NAME = "existing-claims"
SUMMARY = "claims already on the pod are kept; the new claim takes a free name"
FIX = FixSafety.SAFE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if not plan.requests:
        return
    taken = {str_at(c, "name") for c in items(get(ctx.pod, "resourceClaims"))}
    name, n = "gpu", 2
    while name in taken:
        name, n = f"gpu-{n}", n + 1
    yield SetField("claim_name", name)
    if taken:
        yield ctx.finding(CODE, Status.INFO,
                          f"pod already has claims ({', '.join(sorted(t for t in taken if t))}); "
                          f"kept, GPU claim added as {name!r}")
