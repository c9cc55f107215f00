"""GPU002 mig-profile: ``nvidia.com/mig-<profile>: N`` becomes N ``mig.nvidia.com`` devices of that profile.

## What it does
Mixed-strategy MIG resources become requests of class ``mig.nvidia.com`` with the selector
``device.attributes['gpu.nvidia.com'].profile == '<profile>'``. The device plugin writes
go-nvlib's ``+`` attribute separator as ``.`` (``mig-1g.10gb.me``); the DRA driver publishes
``1g.10gb+me``, so the ``+`` is restored. MIG names the table does not know are reported.

## Why
The DRA driver publishes MIG devices with ``type: mig`` and a ``profile`` attribute
(NVIDIA DRA driver v25.12 ``deviceinfo.go``; device plugin ``internal/rm/rm.go``; dra-api.md
§4.2, §5.1).

## Example
    limits: {nvidia.com/mig-1g.5gb: 1}
Use instead: a request ``{exactly: {deviceClassName: mig.nvidia.com, count: 1, selectors:
[{cel: {expression: "device.attributes['gpu.nvidia.com'].profile == '1g.5gb'"}}]}}``

## Fix safety
Safe for the profiles in the vendor profile (``rules/vendors/nvidia.yaml``); others are not converted.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, add_request, app_or_sidecar, block, device_rule

CODE = "GPU002"
NAME = "mig-profile"
SUMMARY = "nvidia.com/mig-<profile>: N -> mig.nvidia.com request with a profile selector"
FIX = FixSafety.SAFE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    for ask in ctx.asks:
        if ctx.tables.unknown_device.search(ask.resource) and device_rule(ask.resource, ctx.tables) is None:
            if ask.count:
                found = ctx.tables.unknown_row(ask.resource)
                if found is not None and found[1].fix is not None:
                    prof, row = found
                    kind = prof.partitions.name if prof.partitions is not None else prof.name
                    text = f"container {ask.container!r}: unknown {kind} resource {ask.resource!r}; {row.fix}"
                else:
                    text = f"container {ask.container!r}: {ask.resource!r}: {found[1].reason if found else ''}"
                yield block(ctx.finding(CODE, Status.MANUAL, text, ask.container))
                return
    if plan.blocked:
        return
    for ask in ctx.gpu_asks():
        rule = device_rule(ask.resource, ctx.tables)
        if rule is not None and rule.kind == "partition" and ask.count and app_or_sidecar(ctx, ask):
            yield from add_request(ctx, plan, ask)
