"""GPU101 vendor-semantics: leave pods alone where ``nvidia.com/gpu`` means something else.

## What it does
Skips a pod whose containers ask for HAMi resources (``nvidia.com/gpumem``,
``gpumem-percentage``, ``gpucores``, ``priority``) or whose pod template carries HAMi
annotations (``nvidia.com/use-gputype``, ``nvidia.com/vgpu-mode``, ...).

## Why
Under HAMi, ``nvidia.com/gpu: 1`` is one *vGPU slot* carved out of a shared card, sized by
``gpumem``/``gpucores``. Rewriting it to ``count: 1`` of ``gpu.nvidia.com`` would hand the pod
a whole device. (Project-HAMi/HAMi ``examples/nvidia/example.yaml``; corpus README trap 5.)

## Example
    resources: {limits: {nvidia.com/gpu: 1, nvidia.com/gpumem: 3000}}

## Fix safety
No fix: reported as *skipped* with the reason.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU101"
NAME = "vendor-semantics"
SUMMARY = "nvidia.com/gpu next to HAMi resources or annotations means vGPU slots: not converted"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    hami_asks = [a for a in ctx.asks if a.resource in ctx.tables.hami_resources]
    hami_annotations = {k for k in ctx.annotations if k in ctx.tables.hami_annotations}
    hami = sorted({a.resource for a in hami_asks} | hami_annotations)
    if hami:
        yield block(ctx.finding(CODE, Status.SKIPPED,
                                     "HAMi vGPU request (" + ", ".join(hami) + "): nvidia.com/gpu counts "
                                     "vGPU slots here, not whole devices; not converted",
                                     None if hami_annotations else ctx.only_container(hami_asks)))
