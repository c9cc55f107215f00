"""GPU111 cutover-labels: a pod that selects nodes by a label the migration itself changes.

## What it does
Reports, and does not convert, a pod whose node selection (nodeSelector or any required term, any operator) names a label that the move from the device plugin to the DRA driver
changes on the nodes: ``nvidia.com/gpu.deploy.device-plugin`` (the runbook sets it to ``false``
per pool), GPU Operator 26.7's
``nvidia.com/gpu.deploy.dra-driver`` and its siblings (list: ``rules/selection.yaml`` ``cutover``).

## Why
The GPU Operator's device-plugin DaemonSet selects ``nvidia.com/gpu.deploy.device-plugin=true``
and the cut-over turns it off per pool by labelling the nodes ``false`` (dra-api.md §6); 26.7
labels DRA nodes with ``gpu.deploy.dra-driver`` (dra-2026.md §2). A pod that requires the old
value would stay Pending on every migrated node; one that requires the new value could not run
before the cut-over. Only a person can say what the selection was for.

## Example
    nodeSelector: {nvidia.com/gpu.deploy.device-plugin: "true"}

## Fix safety
No fix: reported as *needs manual action*.
"""  # noqa: E501  (printed as is by `rules explain`: left unwrapped)

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU111"
NAME = "cutover-labels"
SUMMARY = "node selection on labels the cut-over changes (gpu.deploy.device-plugin, gpu.deploy.dra-driver): manual"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if not any(a.count for a in ctx.gpu_asks()) and not any(
            a.count and a.resource in ctx.tables.shared_resources for a in ctx.asks):
        return
    from migrator.k8s.selection import alternatives, families

    cutover = families(str(ctx.tables.source)).cutover
    # required selection only: a preference for such nodes strands nothing (GPU008 reports it)
    keys = sorted({key for alt in alternatives(ctx.pod_data()) for key, _, _ in alt if key in cutover})
    if keys:
        yield block(ctx.finding(CODE, Status.MANUAL,
                                     f"node selection on {', '.join(keys)}: the migration changes this "
                                     "label on the nodes it moves to the DRA driver, so the pod would not "
                                     "schedule there (or only there); drop or change it by hand"))
