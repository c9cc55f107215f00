"""GPU103 sharing: never turn a time-sliced, MPS or single-strategy MIG "GPU" into a whole device.

## What it does
Skips a pod that asks for ``nvidia.com/gpu.shared``, or that selects nodes whose GFD labels say
``nvidia.com/gpu`` is a replica there (``nvidia.com/gpu.product`` ending in ``-SHARED``,
``nvidia.com/gpu.sharing-strategy: time-slicing|mps``, ``nvidia.com/gpu.replicas`` > 1; GKE
``cloud.google.com/gke-gpu-sharing-strategy`` and ``gke-max-shared-clients-per-gpu``), or a MIG
slice of a profile the labels do not name (``nvidia.com/mig.strategy: single`` without a
``-MIG-<profile>`` product label; with one, GPU009 converts the pod). Every operator counts, in
nodeSelector, any required term and any preference: the pod is reported when the nodes a
requirement admits *may* be such nodes (``replicas Gt 1``, ``sharing-strategy NotIn [none]``,
``product NotIn [T4-SHARED]``, ``replicas Exists``...), rules in ``rules/resources.yaml``.
With ``--sharing``, the time-slicing/MPS cases it names by value are converted by GPU011 instead.

## Why
On such nodes the device plugin advertises shares (replicas x GPUs) or MIG devices under the
``nvidia.com/gpu`` name (dra-api.md §5.1-5.3). ``count: 1`` of ``gpu.nvidia.com`` would be a
whole, exclusive GPU: more than the pod had, and maybe none free. The DRA form (a shared claim
with ``GpuConfig`` sharing, or ``mig.nvidia.com``) needs a decision.

## Example
    nodeSelector: {nvidia.com/gpu.product: Tesla-T4-SHARED}

## Fix safety
No fix: reported as *needs manual action* with the reason.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU103"
NAME = "sharing"
SUMMARY = "time-slicing/MPS replicas and single-strategy MIG slices are not whole GPUs: manual"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if plan.sharing or plan.shares:  # GPU011 converted it (--sharing)
        return
    shared_asks = [a for a in ctx.asks if a.resource in ctx.tables.shared_resources and a.count]
    shared = sorted({a.resource for a in shared_asks})
    if shared:
        # shared_resources are the shares of profiles with sharing.converted: opaqueConfig.sharingKind is set
        kinds = sorted({p.opaque_config.sharing_kind for r in shared if (p := ctx.tables.vendor_of(r)) is not None
                        and p.opaque_config is not None})
        yield block(ctx.finding(CODE, Status.MANUAL,
                                     f"{', '.join(shared)} is a time-slicing/MPS replica, not a device; "
                                     f"the DRA form is a shared claim with {'/'.join(kinds)} sharing",
                                     ctx.only_container(shared_asks)))
        return
    # the node-dependent resources the sharing labels (rules/resources.yaml) are about
    resource = next((a.resource for a in ctx.asks if a.resource in ctx.tables.sharing_nodes and a.count), None)
    if resource is None:
        return
    strategy = ctx.tables.sharing_nodes[resource].nodes.strategy
    strategy_label = strategy.label if strategy is not None else None
    from migrator.k8s.selection import sharing_hits
    from migrator.transforms.gpu009_mig_single import decide

    pod = ctx.pod_data()
    mig = decide(ctx)
    for (label, op, values), rule in sharing_hits(pod, ctx.tables.sharing_labels):
        if rule.mig and mig is not None and mig[0] == "mig" and (rule.label == strategy_label or op == "In"):
            continue  # GPU009 converts it: every term names the profile
        if rule.mig and mig is not None and mig[0] == "manual" and op == "In":
            continue  # GPU009 reports it with the reason
        what = (f"{label}={values[0]}" if op == "In" and len(values) == 1
                else f"{label} {op}" + (f" {list(values)}" if values else ""))
        yield block(ctx.finding(CODE, Status.MANUAL,
                                     f"node selection {what} {'means' if op == 'In' else 'may mean'} {resource} is "
                                     f"{rule.meaning} on those nodes, not whole GPUs; choose the "
                                     "DRA form by hand"))
        return
