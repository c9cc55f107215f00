"""The planner's model of a cluster (rollout-model.md §8.1) and its controllers (§8.3).

State: nodes served by the device plugin (``dp_on``) and/or the DRA driver (``dra_on``; a node
with both is the double-allocation hazard), a device ledger (device-plugin GPUs per node and DRA
devices held by pods, including terminating ones), which ResourceClaimTemplates exist, and
workloads with their controller arithmetic:

- Deployment RollingUpdate: surge rounds up, unavailable rounds down, both 0 => unavailable 1
  (kubernetes/kubernetes pkg/controller/deployment/util ResolveFenceposts); scale up to
  ``R + S``; scale down by ``Σspec − (R−U) − (new.spec − new.available)``, unhealthy old pods first
  (``reconcileOldReplicaSets``); a ReplicaSet replaces missing pods with its own template.
- Deployment Recreate: old pods all gone before any new pod.
- StatefulSet RollingUpdate: highest ordinal first, delete then recreate, one at a time, only
  ordinals >= ``partition``; a deleted pod below the partition comes back at the old revision.
- DaemonSet: pods are bound to their node; RollingUpdate deletes up to ``maxUnavailable`` old
  pods at a time; OnDelete replaces only pods the planner deletes.

One tick: terminating pods from the previous tick are gone (their devices are free), the
controllers reconcile, the scheduler places pending pods (first fit, by node name).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

from migrator.cel import Evaluator, device_value
from migrator.cluster import Device, selects, tolerates

GPU_RESOURCE = re.compile(r"^nvidia\.com/(gpu|mig-.+)$")


def resolve(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent field of a rolling update, as the controllers resolve it."""
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        frac = float(value[:-1]) * total / 100
        return math.ceil(frac - 1e-9) if round_up else math.floor(frac + 1e-9)
    return int(value)


def deployment_fence(strategy: dict[str, Any], replicas: int) -> tuple[int, int]:
    ru = (strategy or {}).get("rollingUpdate") or {}
    surge = resolve(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # ResolveFenceposts: "surge might not work due to quota"
    return surge, unavailable


@dataclass
class Request:
    count: int
    alternatives: list[list[str]]  #: per firstAvailable entry: class + request selectors


@dataclass
class PNode:
    name: str
    labels: dict[str, str]
    taints: list[dict[str, Any]]
    dp_alloc: dict[str, int]  #: device-plugin allocatable GPU resources
    devices: list[Device]  #: DRA devices published now (or expected after a cut-over)
    dp_on: bool
    dra_on: bool
    cordoned: bool = False
    expected: bool = False  #: devices inferred from node labels (the node is not on DRA yet)


@dataclass
class SimPod:
    wl: str
    rev: str  #: "old" (device plugin) or "new" (claims)
    node: str | None = None
    state: str = "pending"  #: pending | running | terminating
    dp: dict[str, int] = field(default_factory=dict)
    devs: list[tuple[str, ...]] = field(default_factory=list)
    ordinal: int | None = None
    pinned: str | None = None  #: DaemonSet pods only run on this node


@dataclass
class Workload:
    key: str  #: "Kind namespace/name"
    kind: str
    namespace: str | None
    name: str
    replicas: int
    strategy: dict[str, Any]  #: spec.strategy or spec.updateStrategy as written
    old_pod: dict[str, Any]
    new_pod: dict[str, Any]
    dp_need: dict[str, int]
    requests: list[Request]
    templates: list[str]
    file: str
    pdb: dict[str, Any] | None = None
    modelled: bool = True
    shared_claim: bool = False
    ds_nodes: list[str] = field(default_factory=list)  #: DaemonSet: the nodes it runs on
    # controller state
    target: str = "old"
    strategy_now: dict[str, Any] = field(default_factory=dict)
    old_spec: int = 0
    new_spec: int = 0
    partition: int = 0

    @property
    def gpus(self) -> int:
        return sum(self.dp_need.values()) * max(self.replicas, 1)


class Model:
    def __init__(self, nodes: dict[str, PNode], evaluator: Evaluator | None = None) -> None:
        self.nodes = nodes
        self.pods: list[SimPod] = []
        self.workloads: dict[str, Workload] = {}
        self.templates: set[str] = set()  #: "namespace/name" of existing ResourceClaimTemplates
        self.ev = evaluator or Evaluator()
        self._match: dict[tuple[str, tuple[str, ...]], bool] = {}
        self._values: dict[tuple[str, ...], dict[str, Any]] = {}
        self.tick_count = 0
        self.gated: set[str] = set()  #: workloads whose new pods wait for a missing template
        self.events: list[str] = []

    def clone(self) -> "Model":
        m = Model({k: copy.copy(v) for k, v in self.nodes.items()}, self.ev)
        m._match, m._values = self._match, self._values  # caches are pure
        m.pods = [copy.copy(p) for p in self.pods]
        for p in m.pods:
            p.dp, p.devs = dict(p.dp), list(p.devs)
        m.workloads = {k: copy.copy(w) for k, w in self.workloads.items()}
        m.templates = set(self.templates)
        m.tick_count = self.tick_count
        return m

    # ---- ledger ------------------------------------------------------------------------------

    def used_devices(self) -> set[tuple[str, ...]]:
        return {d for p in self.pods for d in p.devs}

    def dp_used(self, node: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.pods:
            if p.node == node and p.dp:
                for r, n in p.dp.items():
                    out[r] = out.get(r, 0) + n
        return out

    def _matches(self, exprs: list[str], d: Device) -> bool:
        key = (d.key + ("|".join(exprs),))
        hit = self._match.get(key)  # type: ignore[arg-type]
        if hit is None:
            value = self._values.get(d.key)
            if value is None:
                value = self._values[d.key] = device_value(d.driver, d.attributes, d.capacity)
            hit = True
            for e in exprs:
                try:
                    if not self.ev.evaluate(e, value):
                        hit = False
                        break
                except RuntimeError:
                    hit = False  # allocation aborts on this device: it is never chosen
                    break
            self._match[key] = hit  # type: ignore[index]
        return hit

    # ---- placement ---------------------------------------------------------------------------

    def fit_new(self, w: Workload, node: PNode, used: set[tuple[str, ...]]) -> list[tuple[str, ...]] | None:
        if not node.dra_on or node.cordoned or not selects(w.new_pod, node) or not tolerates(w.new_pod, node):  # type: ignore[arg-type]
            return None
        taken: list[tuple[str, ...]] = []
        for req in w.requests:
            got: list[tuple[str, ...]] | None = None
            for exprs in req.alternatives:
                free = [d.key for d in node.devices if d.key not in used and d.key not in taken
                        and self._matches(exprs, d)]
                if len(free) >= req.count:
                    got = free[:req.count]
                    break
            if got is None:
                return None
            taken += got
        return taken

    def fit_old(self, w: Workload | None, pod: SimPod, node: PNode) -> bool:
        if not node.dp_on or node.cordoned:
            return False
        if w is not None:
            tol = list(w.old_pod.get("tolerations") or []) + [
                {"key": r, "operator": "Exists", "effect": "NoSchedule"} for r in pod.dp]
            if not selects(w.old_pod, node) or not tolerates(dict(w.old_pod, tolerations=tol), node):  # type: ignore[arg-type]
                return False
        used = self.dp_used(node.name)
        return all(node.dp_alloc.get(r, 0) - used.get(r, 0) >= n for r, n in pod.dp.items())

    # ---- one tick ----------------------------------------------------------------------------

    def tick(self) -> None:
        self.tick_count += 1
        self.pods = [p for p in self.pods if p.state != "terminating"]
        for w in self.workloads.values():
            if w.modelled and w.target == "new":
                self._reconcile(w)
            elif w.modelled:
                self._replace_missing(w, "old")
        self._schedule()

    def _pods_of(self, w: Workload) -> list[SimPod]:
        return [p for p in self.pods if p.wl == w.key]

    def _new_pod(self, w: Workload, rev: str, ordinal: int | None = None, pinned: str | None = None) -> SimPod:
        pod = SimPod(w.key, rev, dp=dict(w.dp_need) if rev == "old" else {}, ordinal=ordinal, pinned=pinned)
        self.pods.append(pod)
        return pod

    def _replace_missing(self, w: Workload, rev: str) -> None:
        """Controllers put back pods that were evicted (drain), with the revision they belong to."""
        live = [p for p in self._pods_of(w) if p.state != "terminating"]
        if w.kind == "DaemonSet":
            for node in sorted(set(w.ds_nodes) - {p.pinned for p in live}):
                self._new_pod(w, rev, pinned=node)
        elif w.kind == "StatefulSet":
            have = {p.ordinal for p in self._pods_of(w)}
            for i in range(w.replicas):
                if i not in have:
                    self._new_pod(w, rev if i >= w.partition or rev == "old" else "old", ordinal=i)
        else:  # a ReplicaSet replaces a deleted pod at once (the old one may still terminate)
            missing = w.replicas - len(live)
            for _ in range(max(0, missing)):
                self._new_pod(w, rev)

    def _terminate(self, pod: SimPod) -> None:
        pod.state = "terminating"  # holds its devices until the next tick

    def _reconcile(self, w: Workload) -> None:
        pods = self._pods_of(w)
        if w.templates and not all(t in self.templates for t in w.templates):
            self.gated.add(w.key)
        if w.kind == "Deployment":
            self._deployment(w, pods)
        elif w.kind == "StatefulSet":
            self._statefulset(w, pods)
        elif w.kind == "DaemonSet":
            self._daemonset(w, pods)

    def _deployment(self, w: Workload, pods: list[SimPod]) -> None:
        R = w.replicas
        strategy = w.strategy_now or {}
        old = [p for p in pods if p.rev == "old" and p.state != "terminating"]
        new = [p for p in pods if p.rev == "new" and p.state != "terminating"]
        if strategy.get("type") == "Recreate":
            if old:
                for p in old:
                    self._terminate(p)
                w.old_spec = 0
                return
            if any(p.rev == "old" for p in pods):
                return  # wait until old pods are gone
            w.old_spec, w.new_spec = 0, R
        else:
            S, U = deployment_fence(strategy, R)
            total = w.old_spec + w.new_spec
            if total < R + S:
                w.new_spec += min(R + S - total, R - w.new_spec)
            new_avail = len([p for p in new if p.state == "running"])
            k = (w.old_spec + w.new_spec) - (R - U) - (w.new_spec - new_avail)
            if k > 0:
                for p in [p for p in old if p.state == "pending"][:k]:
                    self._terminate(p)
                    w.old_spec -= 1
                    k -= 1
                avail = new_avail + len([p for p in old if p.state == "running"])
                n = min(k, avail - (R - U))
                for p in [p for p in old if p.state == "running"][:max(0, n)]:
                    self._terminate(p)
                    w.old_spec -= 1
            old = [p for p in self._pods_of(w) if p.rev == "old" and p.state != "terminating"]
            new = [p for p in self._pods_of(w) if p.rev == "new" and p.state != "terminating"]
        # each ReplicaSet converges to its spec with its own template
        for _ in range(w.new_spec - len(new)):
            self._new_pod(w, "new")
        for _ in range(w.old_spec - len(old)):
            self._new_pod(w, "old")

    def _statefulset(self, w: Workload, pods: list[SimPod]) -> None:
        by_ord = {p.ordinal: p for p in pods}
        for i in range(w.replicas):
            if i not in by_ord:
                self._new_pod(w, "new" if i >= w.partition else "old", ordinal=i)
        for i in range(w.replicas - 1, w.partition - 1, -1):
            p = by_ord.get(i)
            if p is None or p.state == "terminating":
                return
            if p.rev == "new":
                if p.state != "running":
                    return  # wait for Ready before the next ordinal
                continue
            self._terminate(p)  # delete, then recreate at the new revision
            return

    def _daemonset(self, w: Workload, pods: list[SimPod]) -> None:
        live = {p.pinned: p for p in pods if p.state != "terminating"}
        for node in sorted(set(w.ds_nodes) - set(live) - {p.pinned for p in pods}):
            self._new_pod(w, "new", pinned=node)  # a deleted pod comes back from the current template
        if (w.strategy_now or {}).get("type") == "OnDelete":
            return
        ru = (w.strategy_now or {}).get("rollingUpdate") or {}
        nodes = len(w.ds_nodes)
        U = max(1, resolve(ru.get("maxUnavailable", 1), nodes, True))
        unavailable = len([p for p in pods if p.state != "running"])
        for p in [p for p in pods if p.rev == "old" and p.state == "running"]:
            if unavailable >= U:
                break
            self._terminate(p)
            unavailable += 1

    def _schedule(self) -> None:
        used = self.used_devices()
        names = sorted(self.nodes)
        for p in self.pods:
            if p.state != "pending":
                continue
            w = self.workloads.get(p.wl)
            candidates = [p.pinned] if p.pinned else names
            if p.rev == "new":
                if w is None or w.key in self.gated and not all(t in self.templates for t in w.templates):
                    continue
                for n in candidates:
                    if n is None:
                        continue
                    got = self.fit_new(w, self.nodes[n], used)
                    if got is not None:
                        p.node, p.devs, p.state = n, got, "running"
                        used.update(got)
                        break
            else:
                for n in candidates:
                    if n is not None and self.fit_old(w, p, self.nodes[n]):
                        p.node, p.state = n, "running"
                        break

    # ---- queries -----------------------------------------------------------------------------

    def available(self, w: Workload) -> int:
        return len([p for p in self._pods_of(w) if p.state == "running"])

    def complete(self, w: Workload) -> bool:
        pods = self._pods_of(w)
        if w.kind == "DaemonSet":
            return bool(pods) and all(p.rev == "new" and p.state == "running" for p in pods)
        return (len([p for p in pods if p.rev == "new" and p.state == "running"]) == w.replicas
                and not any(p.rev == "old" for p in pods))

    def signature(self) -> tuple[Any, ...]:
        return tuple(sorted((p.wl, p.rev, p.node or "", p.state, p.ordinal or 0) for p in self.pods))

    def hazards(self) -> list[str]:
        """Invariant I1: no node is served by both managers, nor runs DRA under device-plugin pods."""
        out = []
        for n in self.nodes.values():
            if n.dp_on and n.dra_on:
                out.append(f"{n.name}: device plugin and DRA driver both serve GPUs")
            elif n.dra_on and any(p.node == n.name and p.dp for p in self.pods):
                out.append(f"{n.name}: DRA serves GPUs still held by device-plugin pods")
        return out
