"""GPU108 served-by-dra: leave pods alone that a KEP-5004 DeviceClass serves from DRA.

## What it does
When the input also holds a ``resource.k8s.io`` DeviceClass whose ``spec.extendedResourceName``
is the resource a pod asks for (``nvidia.com/gpu``, ``nvidia.com/mig-1g.12gb``), the pod is left
as it is and reported. With ``--migration-path extended-resource`` (or ``auto`` on a target that
turns DRAExtendedResource on by default, 1.36+, when the cluster snapshot of ``plan`` holds the
mapping class), every pod that could keep its manifest is left as it is too (skipped; manual when
the target's gate is off by default), and the others are rewritten with the reason
(``migrator/proof/kep5004.py``: MIG resources, sharing, single-strategy MIG, attribute selection on GPU
labels, init containers the scheduler's claim would give other counts). ``scan --format json``
gives that decision for every converted pod (``kep5004``).

## Why
With the DRAExtendedResource feature (alpha in 1.34-1.35, beta and on by default in 1.36, GA in
1.37: rules/kubernetes.yaml) the scheduler turns such a
request into a claim by itself (KEP-5004; dra-driver ``demo/specs/extended-resources/``;
dra-api.md §3.1; migrator/proof/kep5004.py quotes the scheduler). The manifest was written for that path
on purpose, or needs no rewrite: nodes switch, manifests stay.

## Example
    kind: DeviceClass ... spec: {extendedResourceName: nvidia.com/mig-1g.12gb}
    ... resources: {limits: {nvidia.com/mig-1g.12gb: 1}}

``--migration-path rewrite`` rewrites them all, a mapping class in the input or not.

## Fix safety
No fix: reported as *skipped*.
"""

from __future__ import annotations

from typing import Iterable

from migrator.k8s.kube import parse_version, releases
from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU108"
NAME = "served-by-dra"
SUMMARY = "resources a DeviceClass maps with extendedResourceName (KEP-5004) are already DRA: skipped"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if ctx.mode.migration_path == "rewrite":
        return  # the user asked for claims everywhere
    hit = sorted({a.resource for a in ctx.asks if a.count and a.resource in ctx.served_by_dra})
    if hit:
        gate = releases().gates["DRAExtendedResource"]
        if not gate.exists(parse_version(ctx.mode.kube_version)):
            # the release has no KEP-5004 at all: the class's extendedResourceName does nothing there
            yield ctx.finding(CODE, Status.INFO,
                              f"{', '.join(hit)}: the input's DeviceClass maps it with extendedResourceName, but "
                              f"Kubernetes {ctx.mode.kube_version} has no KEP-5004 (from "
                              f"{gate.since[0]}.{gate.since[1]}): converted")
            return
        caveat = "" if gate.enabled(parse_version(ctx.mode.kube_version)) else (
            f"; on Kubernetes {ctx.mode.kube_version} only where the DRAExtendedResource feature gate is "
            f"enabled (on by default from {gate.first()})")
        yield block(ctx.finding(CODE, Status.SKIPPED,
                                     f"{', '.join(hit)} is served by DRA through a DeviceClass "
                                     f"extendedResourceName (KEP-5004) in this input; left as it is{caveat}"))
