"""GPU113 cluster-devices: with ``--cluster``/``--context``, the nodes decide what ``nvidia.com/gpu`` is.

## What it does
With a cluster snapshot (``rewrite --cluster SNAPSHOT`` or ``--context NAME``), a pod asking for
``nvidia.com/gpu`` that GPU001/GPU004 would convert to whole GPUs (class ``gpu.nvidia.com``) is
checked against every node it may land on (node selection, taints and tolerations with the
ExtendedResourceToleration plugin's, enough ``nvidia.com/gpu`` allocatable or published). What
``nvidia.com/gpu`` is on each node is read from the node (migrator/proof/nodes.py, rules/nodes.yaml),
as ``verify`` reads it:

- a whole GPU on all of them: converted as without a snapshot;
- a MIG slice of one profile on all of them (single strategy, GKE MIG pools), and no other node
  the pod may use offers that profile in another form (mixed strategy ``nvidia.com/mig-<p>``,
  published MIG devices): requested from ``mig.nvidia.com`` with ``profile == '<p>'``;
- anything else (some nodes whole and some slices, several profiles, shares, nodes nothing says
  anything about): reported, naming the nodes and what ``nvidia.com/gpu`` is on each.

A pod no node of the snapshot serves is converted as without a snapshot, with a warning.

## Why
A manifest alone cannot say which nodes its pods land on: a plain ``nvidia.com/gpu: 1`` pod also
lands on single-strategy MIG nodes, where the device plugin serves MIG slices under that name,
and on time-slicing nodes, where it serves replicas (dra-api.md §5.1, §5.2). A claim for
``gpu.nvidia.com`` gets whole exclusive GPUs only: it would lose the MIG nodes and take whole
GPUs where the pod had a share. ``firstAvailable`` would change which device a pod gets first, so
it is not offered for mixed node sets.

## Example
    resources: {limits: {nvidia.com/gpu: 1}}     # and the snapshot has nodes labelled
                                                  # nvidia.com/mig.strategy: single

## Fix safety
Safe when converted (the nodes say it is the same device); otherwise reported as *needs manual
action* with the nodes and the reason.
"""

from __future__ import annotations

from typing import Any, Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, ReplaceRequests, block

CODE = "GPU113"
NAME = "cluster-devices"
SUMMARY = "with --cluster: nvidia.com/gpu on MIG, shared or unknown nodes the pod may use is not converted to whole GPUs"
FIX = FixSafety.SAFE

#: nodes named per kind of node in a message (the rest are counted)
SHOWN = 3

_CLASSES: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(snapshot) -> (snapshot, node name -> NodeGpu)


def _gpu_of(snap: Any) -> Any:
    """The classifier, memoised per snapshot (a batch asks it once per pod and node)."""
    from migrator.proof.nodes import classify

    kept = _CLASSES.get(id(snap))
    if kept is None or kept[0] is not snap:
        if len(_CLASSES) >= 4:  # a run has one snapshot; tests make many: keep few alive
            _CLASSES.clear()
        kept = _CLASSES[id(snap)] = (snap, {})
    memo = kept[1]

    def gpu(node: Any) -> Any:
        if node.name not in memo:
            memo[node.name] = classify(node)
        return memo[node.name]

    return gpu


def _names(nodes: list[Any]) -> str:
    names = sorted(n.name for n in nodes)
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    snap = ctx.mode.cluster
    if snap is None or plan.sharing or plan.mig_single:
        return
    # the requests for a resource whose nodes say what it is (nodes.strategy), made from the whole class
    whole = [r for r in plan.requests if (p := ctx.tables.strategy_profile(r.resource)) is not None
             and r.device_class == p.whole_class]
    if not whole:
        return
    prof = ctx.tables.strategy_profile(whole[0].resource)
    res, part = prof.nodes.resource, prof.partitions
    from migrator.k8s.podspec import pod_needs as _need
    from migrator.proof.nodes import MIG, WHOLE, mig_profiles, reachable
    from migrator.k8s.tolerations import admission_tolerations

    pod = ctx.pod_data()
    # the ExtendedResourceToleration plugin's tolerations (on in GKE and EKS: verify's default);
    # with them the pod may reach more nodes, so more are checked
    pod = dict(pod, tolerations=admission_tolerations(pod))
    gpu_of = _gpu_of(snap)
    reach = reachable(snap.nodes.values(), pod, _need(pod), gpu_of)
    src = f"cluster {snap.source}"
    if not reach:
        yield ctx.finding(CODE, Status.INFO, f"{src}: no node serves this pod's {res}; converted to "
                                             "whole GPUs as without a snapshot", warn=True)
        return
    kinds = {g.kind for _, g in reach}
    if kinds == {WHOLE}:
        yield ctx.finding(CODE, Status.INFO, f"{src}: {res} is a whole GPU on all {len(reach)} node(s) "
                                             "this pod may use")
        return
    profiles = {g.profiles for _, g in reach}
    if kinds == {MIG} and len(profiles) == 1 and len(next(iter(profiles))) == 1:
        (profile,), = profiles
        reached = {n.name for n, _ in reach}
        # a partition-class claim of that profile also takes slices the pod could not get before:
        # those on nodes it may use where they are resources of their own (mixed strategy)
        from migrator.proof.cluster import selects, tolerates

        also = [n for n in snap.nodes.values() if n.name not in reached and selects(pod, n) and tolerates(pod, n)
                and profile in mig_profiles(n)]
        if not also:
            import dataclasses

            from migrator.k8s.selection import q

            A, pa = prof.attributes_cel, part.profile_attribute
            sel = (f"({q(pa)} in {A} && {A}.{pa} == {q(profile)})",)
            yield ReplaceRequests(tuple(dataclasses.replace(r, device_class=part.device_class,
                                                            selectors=r.selectors + sel)
                                        if r in whole else r for r in plan.requests))
            yield ctx.finding(CODE, Status.INFO, f"{src}: {res} is a {profile} {part.name} slice on every node "
                                                 f"this pod may use ({_names([n for n, _ in reach])}); requested "
                                                 f"from {part.device_class}")
            return
        yield block(ctx.finding(CODE, Status.MANUAL, (
            f"{src}: {res} is a {profile} {part.name} slice on every node this pod may use "
            f"({_names([n for n, _ in reach])}), but {_names(also)} also offer(s) {profile} slices the pod "
            f"cannot get today (as {part.resource_prefix}*): a {part.device_class} claim would take them too; "
            "choose by hand")))
        return
    groups: dict[str, list[Any]] = {}
    for node, gpu in reach:
        groups.setdefault(gpu.describe(), []).append(node)
    parts = [f"{_names(nodes)}: {what}" for what, nodes in sorted(groups.items(), key=lambda kv: kv[0])]
    yield block(ctx.finding(CODE, Status.MANUAL, (
        f"{src}: {res} is not a whole GPU on every node this pod may use ({'; '.join(parts)}); "
        "a claim for whole GPUs would change what it gets there; choose the DRA form by hand")))
