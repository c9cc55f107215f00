"""GPU008 node-selection: GPU labels in node selection become CEL selectors on the claim.

## What it does
Translates ``nodeSelector`` and required node affinity on GPU labels (GFD ``nvidia.com/gpu.product``,
``gpu.memory``, ``gpu.family``, ``gpu.compute.*``, ``cuda.driver-version.*``; GKE
``cloud.google.com/gke-accelerator``; AWS/Karpenter labels; see ``rules/selection.yaml`` and
``rules/clouds/``) into CEL selectors on every request (``In``, ``NotIn``, ``Exists``,
``DoesNotExist``, ``Gt``, ``Lt``; terms ORed, expressions ANDed). Preferred affinity terms on GPU
labels become ``firstAvailable`` subrequests in weight order, with the required set as the last
alternative (GPU009 covers ``-MIG-`` products). Translated labels leave the node selection
unless ``--keep-node-labels`` (or the rule pack says the label also picks other hardware, e.g.
Karpenter and cloud labels that autoscalers read: then their preferred terms stay too, since
Karpenter provisions for preferences). Labels with no mapping stay and are reported, and so is
every label of the GPU families (``rules/selection.yaml`` ``families``) that has no rule at all,
e.g. ``nvidia.com/gpu.count``, ``nvidia.com/cuda.runtime-version.major``.

## Why
Under DRA the GPU choice belongs to the claim: GFD's labels may no longer be published on
nodes that run the DRA driver instead of the device plugin, and a pod whose node selection
names them would stay Pending. The selectors say the same thing about the devices themselves
(dra-api.md §1.7, §5.3). Every attribute is guarded: a device without it must not abort
allocation.

## Example
    nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3, topology.kubernetes.io/zone: a}
Use instead: ``nodeSelector: {topology.kubernetes.io/zone: a}`` and the selector
``'productName' in device.attributes['gpu.nvidia.com'] &&
device.attributes['gpu.nvidia.com'].productName.replace(' ', '-') == 'NVIDIA-H100-80GB-HBM3'``

## Fix safety
Safe for the label values the rule packs know; others are kept in the node selection.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from migrator.k8s.kube import releases
from migrator.model import Finding, FixSafety, Status
from migrator.text.shape import dotted
from migrator.transforms.base import Intent, PodContext, PodPlan, ReplaceRequests, SetField

CODE = "GPU008"
NAME = "node-selection"
SUMMARY = "GPU node labels (GFD, GKE, AWS) -> CEL selectors; GPU preferences -> firstAvailable"
FIX = FixSafety.SAFE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if not plan.requests:
        return
    from migrator.k8s.selection import cel_domain, families, label_rules, translate  # only for pods that get a claim

    A = cel_domain(str(ctx.tables.source))[0]
    # The label tables translate into the attributes A names: a request of a profile with another
    # attribute domain would get selectors its devices never match. Its node selection stays as
    # written (placement unchanged).
    others = sorted({p.name for r in plan.requests if (p := ctx.tables.vendor_of(r.resource)) is not None
                     and p.attributes_cel != A})
    if others:
        if ctx.node_selection:
            yield ctx.finding(CODE, Status.INFO, f"node selection kept as written: {', '.join(others)} node labels "
                              "are not translated into device selectors")
        return
    rules = dict(label_rules(str(ctx.tables.source)))
    notes: list[str] = []
    dropped: list[str] = []  # reported below with their own reason
    # partitions.compareMemoryLabels false: a partition's memory is the slice's, not the card's that
    # a memory label describes
    sliced = {p.partitions.device_class: p.partitions.name for p in ctx.tables.vendors.profiles
              if p.partitions is not None and not p.partitions.compare_memory_labels}
    kind = next((sliced[r.device_class] for r in plan.requests if r.device_class in sliced), None)
    if kind is not None:
        for label in [k for k, r in rules.items() if r.translate == "memory-mib"]:
            del rules[label]
            dropped.append(label)
            if any(lbl == label for lbl, _ in ctx.node_selection):
                notes.append(f"{label}: a {kind} request's memory is not compared with a node label")
    pod = ctx.pod_data()
    product: list[str] = []
    if plan.mig_single:  # GPU009 already turned the partition product label into selectors
        single = ctx.tables.single_partition_profile()
        product = [single.nodes.partition_product.label]
        rules.pop(product[0], None)
        yield SetField("remove_selector_keys", [k for k, v in (pod.get("nodeSelector") or {}).items()
                                                if k in product and not ctx.mode.keep_node_labels])
    fam = families(str(ctx.tables.source))
    # GPU009 turned these into the partition request's selectors; they stay (the product label for
    # single-strategy MIG nodes, GKE's partition size for its autoscaler)
    handled = frozenset(product + [lbl for lbl, _ in fam.partitions] + dropped)
    t = translate(pod, rules, ctx.mode.keep_node_labels,
                  allow_preferences=releases().gate("DRAPrioritizedList", ctx.mode.kube_version),
                  where=dotted(ctx.ref.path),
                  fam=fam, handled=handled)
    yield SetField("translation", t)
    extra = tuple(t.selectors)
    alternatives: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if t.preferences:
        alternatives = tuple((f"pref-{i + 1}", (cel,)) for i, (_, cel, _) in enumerate(t.preferences))
        alternatives += (("fallback", ()),)
    yield ReplaceRequests(tuple(dataclasses.replace(r, selectors=r.selectors + extra, alternatives=alternatives)
                                for r in plan.requests))
    if t.translated or t.preferences:
        what = ", ".join(t.translated + [f"{len(t.preferences)} preference(s) -> firstAvailable"] *
                         bool(t.preferences))
        yield ctx.finding(CODE, Status.INFO, f"GPU node selection translated into the claim's selectors: {what}")
    for kept in t.kept + notes:
        yield ctx.finding(CODE, Status.INFO, f"kept in node selection: {kept}")
