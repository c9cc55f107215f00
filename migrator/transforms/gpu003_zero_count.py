"""GPU003 zero-count: ``nvidia.com/gpu: 0`` is dropped, with no claim.

## What it does
Removes GPU resources whose count is 0 from ``limits``/``requests`` and creates nothing for them.

## Why
A zero request holds no device; a claim would hold at least one (``count`` must be > 0,
dra-api.md §1.3). On GKE/EKS the ExtendedResourceToleration admission plugin tolerated the
``nvidia.com/gpu`` taint for this pod because it named the resource (it looks at names, not
amounts); GPU005 writes that toleration into the pod, so it may land where it could before.

## Example
    limits: {nvidia.com/gpu: 0, rdma/ib: 0}
Use instead:
    limits: {rdma/ib: 0}

## Fix safety
Safe: the pod held no GPU before and holds none after.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, RemoveResource

CODE = "GPU003"
NAME = "zero-count"
SUMMARY = "nvidia.com/gpu: 0 is removed; no claim is created"
FIX = FixSafety.SAFE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    for ask in ctx.gpu_asks():
        if ask.count == 0:
            yield RemoveResource(ask.section, ask.index, ask.resource)
            yield ctx.finding(CODE, Status.INFO,
                              f"container {ask.container!r}: dropped {ask.resource}: 0 (no claim); the "
                              f"pod keeps the {ask.resource} toleration the admission plugin gave it (GPU005)",
                              ask.container)
