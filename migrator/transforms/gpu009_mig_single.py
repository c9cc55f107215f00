"""GPU009 mig-single: ``nvidia.com/gpu`` on single-strategy MIG nodes becomes a MIG device of that profile.

## What it does
When the pod selects nodes by a GFD product label of the form ``<product>-MIG-<profile>``, or by
GKE's ``cloud.google.com/gke-gpu-partition-size: <profile>`` (rules/clouds/gke-partitions.yaml),
the whole-GPU requests made by GPU001/GPU004 become ``mig.nvidia.com`` requests with selectors
on ``profile == '<profile>'`` and on the parent's ``productName``; GPU008 then drops the GFD
label (GKE's stays: its autoscaler reads it). Decided per required affinity term (each ANDed
with nodeSelector): every term must name the same profile; ORed terms that mix MIG and
whole-GPU nodes, several profiles, or a partition size under NotIn/Exists are reported.

## Why
Under the device plugin's *single* MIG strategy every MIG device is advertised as
``nvidia.com/gpu`` and GFD appends ``-MIG-<profile>`` to ``nvidia.com/gpu.product``
(dra-api.md §5.1, §5.3). Under DRA the same slice is a ``mig.nvidia.com`` device whose
``profile`` attribute is that profile and whose ``productName`` is the parent GPU's
(NVIDIA DRA driver v25.12 ``deviceinfo.go``). A ``gpu.nvidia.com`` request would take a whole
GPU instead of a slice.

## Example
    nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3-MIG-1g.10gb}
    resources: {limits: {nvidia.com/gpu: 1}}
Use instead: a request ``{exactly: {deviceClassName: mig.nvidia.com, count: 1, selectors:
[profile == '1g.10gb' && productName (dashes) == 'NVIDIA-H100-80GB-HBM3']}}``

## Fix safety
Safe: the same slice, on the same GPU model.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, ReplaceRequests, SetField, block

CODE = "GPU009"
NAME = "mig-single"
SUMMARY = "nvidia.com/gpu on single-strategy MIG nodes (-MIG-<profile> product label) -> mig.nvidia.com"
FIX = FixSafety.SAFE


def decide(ctx: PodContext) -> tuple[str, object] | None:
    """None: no MIG here; ("manual", why); or ("mig", (parents, profile)), decided per affinity term."""
    from migrator.k8s.selection import alternatives, families, mig_term

    single = ctx.tables.single_partition_profile()
    if single is None:
        return None
    part = single.partitions.name
    pod = ctx.pod_data()
    terms = [mig_term(alt, families(str(ctx.tables.source))) for alt in alternatives(pod)]
    if all(t.kind == "whole" for t in terms):
        return None
    unknown = [t.why for t in terms if t.kind == "unknown"]
    if unknown:
        return "manual", unknown[0]
    if any(t.kind == "whole" for t in terms):
        # ORed terms: some nodes give a slice, others a whole GPU; no one device class says both
        return "manual", f"the node affinity terms mix {part} and whole-GPU nodes (no single device class)"
    slices = frozenset().union(*(t.slices for t in terms))
    profiles = {p for _, p in slices}
    parents = {parent for parent, _ in slices}
    if len(profiles) != 1 or (None in parents and len(parents) > 1):
        return "manual", f"the node selection names several {part} profiles or parents ({sorted(profiles)})"
    return "mig", (sorted(p for p in parents if p), profiles.pop())


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    prof = ctx.tables.single_partition_profile()
    if prof is None:
        return
    resource = prof.nodes.resource
    if not any(a.resource == resource and a.count for a in ctx.asks):
        return
    found = decide(ctx)
    if found is None:
        return
    part = prof.partitions
    if found[0] == "manual":
        yield block(ctx.finding(CODE, Status.MANUAL, f"single-strategy {part.name}: {found[1]}; "
                                                     f"choose the {part.name} profile by hand"))
        return
    parents: list[str]
    profile: str
    parents, profile = found[1]  # type: ignore[misc]  # "mig": (parents, profile), as decide() says
    from migrator.k8s.selection import q

    A = prof.attributes_cel
    pa = part.profile_attribute
    # the parent's product as the partition product label spells it (its nodeLabels row's sanitize)
    product = prof.label_rule(prof.nodes.partition_product.label)
    name = f"{A}.{product.attribute}"
    if product.sanitize is not None:
        name += f".replace({q(product.sanitize[0])}, {q(product.sanitize[1])})"
    selectors: tuple[str, ...] = (f"({q(pa)} in {A} && {A}.{pa} == {q(profile)})",)
    if len(parents) == 1:
        selectors += (f"({q(product.attribute)} in {A} && {name} == {q(parents[0])})",)
    elif parents:
        selectors += (f"({q(product.attribute)} in {A} && {name} in "
                      f"[{', '.join(q(p) for p in parents)}])",)
    yield ReplaceRequests(tuple(
        dataclasses.replace(r, device_class=part.device_class, selectors=r.selectors + selectors)
        if r.device_class == prof.whole_class else r for r in plan.requests))
    yield SetField("mig_single", True)
    of = f" of {' or '.join(parents)}" if parents else ""
    kind = f"single-strategy {part.name}" if parents else f"GKE {part.name} partition"
    yield ctx.finding(CODE, Status.INFO, f"{kind}: {resource} here is a {profile} slice{of}; "
                                         f"requested from {part.device_class}")
