"""GPU101 vendor-semantics: leave pods alone where a GPU resource means something else.

## What it does
Skips a pod whose containers ask for HAMi resources (``nvidia.com/gpumem``,
``gpumem-percentage``, ``gpucores``, ``priority``) or whose pod template carries HAMi
annotations (``nvidia.com/use-gputype``, ``nvidia.com/vgpu-mode``, ...). Likewise for what a
vendor profile lists as a share or a resource with no DRA form of its own (``rules/vendors/``):
Intel's GPU Aware Scheduling shares (``gpu.intel.com/millicores``, ``memory.max``, ``tiles``:
skipped) and its monitoring resources (manual: the DRA form is an ``adminAccess`` claim).

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
SUMMARY = "GPU resources that mean shares or slots (HAMi, a vendor profile's shares): not converted"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    reported = [a for a in ctx.asks if a.resource in ctx.tables.reported and a.count]
    if reported:
        a = reported[0]
        vendor, why, kind = ctx.tables.reported[a.resource]
        yield block(ctx.finding(CODE, Status.SKIPPED if kind == "share" else Status.MANUAL,
                                f"{a.resource}: {why}; not converted", ctx.only_container(reported)))
        return
    hami_asks = [a for a in ctx.asks if a.resource in ctx.tables.hami_resources]
    hami_annotations = {k for k in ctx.annotations if k in ctx.tables.hami_annotations}
    hami = sorted({a.resource for a in hami_asks} | hami_annotations)
    if hami:
        # the profile whose `foreign` rows list them: its node-dependent resource is what counts slots
        names = set(hami)
        prof = next((p for p in ctx.tables.vendors.profiles for f in p.foreign
                     if names & (set(f.resources) | set(f.annotations))), None)
        resource = prof.nodes.resource if prof is not None and prof.nodes is not None else "the device resource"
        yield block(ctx.finding(CODE, Status.SKIPPED,
                                     "HAMi vGPU request (" + ", ".join(hami) + f"): {resource} counts "
                                     "vGPU slots here, not whole devices; not converted",
                                     None if hami_annotations else ctx.only_container(hami_asks)))
