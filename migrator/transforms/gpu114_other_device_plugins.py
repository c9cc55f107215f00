"""GPU114 other-device-plugins: extended resources no vendor profile knows stay with their device plugin.

## What it does
Lists, per pod, the extended resources its containers ask for that no vendor profile
(``rules/vendors/*.yaml``, or one given with ``--vendor-file``) knows: an FPGA, a NIC, a
custom accelerator. They are left exactly as written; the pod's GPUs are still converted.

## Why
The device plugin that serves such a resource keeps serving it: nothing about it changes when
GPUs move to DRA. Saying so keeps it from being skipped in silence: a reviewer sees that the
pod still depends on another device plugin (and can add a vendor profile to migrate it too).
An extended resource is one outside the ``kubernetes.io`` namespaces (kubernetes
pkg/apis/core/helper ``IsExtendedResourceName``).

## Example
    resources: {limits: {nvidia.com/gpu: 1, xilinx.com/fpga-xilinx_u250: 1}}
The GPU becomes a claim; ``xilinx.com/fpga-xilinx_u250: 1`` stays, and GPU114 says why.

## Fix safety
No fix: information only.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan

CODE = "GPU114"
NAME = "other-device-plugins"
SUMMARY = "extended resources no vendor profile knows: left with their device plugin (info)"
FIX = FixSafety.NONE


def others(ctx: PodContext) -> list[tuple[str, str]]:
    """(container, resource) of every extended resource no vendor profile knows."""
    from migrator.k8s.tolerations import is_extended_resource

    t = ctx.tables
    out: list[tuple[str, str]] = []
    for a in ctx.asks:
        if is_extended_resource(a.resource) and t.vendor_of(a.resource) is None and a.resource not in t.reported \
                and (a.container, a.resource) not in out:
            out.append((a.container, a.resource))
    return out


def finding(ctx: PodContext) -> Finding | None:
    found = others(ctx)
    if not found:
        return None
    listed = ", ".join(f"{r} ({c})" for c, r in found)
    containers = {c for c, _ in found}
    return ctx.finding(CODE, Status.INFO, f"left with its device plugin: {listed}: no vendor profile knows "
                       "it (a profile given with --vendor-file would migrate it)",
                       next(iter(containers)) if len(containers) == 1 else None)


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    f = finding(ctx)
    if f is not None:
        yield f
