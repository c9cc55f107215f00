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
  Where MaxUnavailableStatefulSet is on (rules/kubernetes.yaml), up to ``maxUnavailable`` at a
  time, counting unavailable pods; Parallel first deletes old pods that are already unavailable
  (kubernetes v1.37.2 pkg/controller/statefulset/stateful_set_control.go
  updateStatefulSetAfterInvariantEstablished).
- DaemonSet: pods are bound to their node; RollingUpdate deletes up to ``maxUnavailable`` old
  pods at a time; OnDelete replaces only pods the planner deletes.

One tick: terminating pods from the previous tick are gone (their devices are free), the
controllers of active workloads reconcile, the scheduler places pending pods (first fit, by
node name). Ledgers are kept per node and updated on bind and release, so a tick costs what the
active workloads and pending pods cost, not the size of the cluster.
"""

from __future__ import annotations

import bisect
import copy
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator

from migrator.proof.matcher import DeviceMatcher
from migrator.proof.cluster import Device, Taint, selects, tolerates
from migrator.k8s.tolerations import admission_tolerations

class _GpuResource:
    """Matches the device-plugin resources a vendor profile converts (whole devices and partitions:
    rules/vendors/*.yaml), as the planner counts them; ``match`` as a compiled pattern's."""

    def match(self, resource: str) -> bool:
        from migrator.transforms.base import device_rule
        from migrator.tables import load_tables

        return device_rule(resource, load_tables()) is not None


GPU_RESOURCE = _GpuResource()
DevKey = tuple[str, ...]


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
    taints: tuple[Taint, ...]
    dp_alloc: dict[str, int]  #: device-plugin allocatable GPU resources
    devices: list[Device]  #: DRA devices published now (or expected after a cut-over)
    dp_on: bool
    dra_on: bool
    #: spec.unschedulable: the scheduler binds no new pod here, except DaemonSet pods (the
    #: DaemonSet controller adds the node.kubernetes.io/unschedulable toleration:
    #: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/#taints-and-tolerations)
    cordoned: bool = False
    expected: bool = False  #: devices inferred from node labels (the node is not on DRA yet)
    dp_used: dict[str, int] = field(default_factory=dict)
    devs_used: set[DevKey] = field(default_factory=set)
    dp_pods: int = 0  #: pods holding device-plugin GPUs here
    dp_bound: int = 0  #: of those, the ones not terminating (a drain would evict them)

    def copy(self) -> PNode:
        n = copy.copy(self)
        n.dp_used, n.devs_used = dict(self.dp_used), set(self.devs_used)
        return n


@dataclass(eq=False)
class SimPod:
    wl: str
    rev: str  #: "old" (device plugin) or "new" (claims)
    node: str | None = None
    state: str = "pending"  #: pending | running | terminating
    dp: dict[str, int] = field(default_factory=dict)
    devs: list[DevKey] = field(default_factory=list)
    ordinal: int | None = None
    pinned: str | None = None  #: DaemonSet pods only run on this node
    #: controller.kubernetes.io/pod-deletion-cost the plan gave it: a ReplicaSet scaling down
    #: deletes running, ready pods with the lowest cost first (kubernetes pkg/controller
    #: controller_utils.go ActivePodsWithRanks, rank 4; PodDeletionCost beta and on since 1.22)
    cost: int = 0


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
    at_once: int = 1  #: pods that must run at the same time for it to work (see build.pods_at_once)
    selector: str = ""  #: its pods' label selector in kubectl -l syntax ("" when it has none)
    #: KEP-5004 path: the manifest stays (new_pod is old_pod, never switched); its device-plugin pods
    #: are served from DRA through ``requests`` (the mapping class) on nodes without device-plugin
    #: capacity (migrator/proof/kep5004.py); no requests: no class or gate serves it, only the device plugin does
    extended: bool = False
    # controller state
    target: str = "old"
    strategy_now: dict[str, Any] = field(default_factory=dict)
    old_spec: int = 0
    new_spec: int = 0
    partition: int = 0
    #: StatefulSet: pods it may take down at once (1 unless MaxUnavailableStatefulSet is on), and
    #: podManagementPolicy Parallel
    sts_max_unavailable: int = 1
    sts_parallel: bool = False
    consumable: bool = False  #: its claims take consumable shares (not modelled)

    @property
    def gpus(self) -> int:
        return sum(self.dp_need.values()) * max(self.replicas, 1)

    @functools.cached_property
    def signature(self) -> tuple[Any, ...]:
        """What decides where the new pods fit (shared by workloads with identical pods)."""
        return (repr(self.new_pod.get("nodeSelector")), repr(self.new_pod.get("affinity")),
                repr(self.new_pod.get("tolerations")),
                tuple((r.count, tuple(tuple(a) for a in r.alternatives)) for r in self.requests))


class Model:
    def __init__(self, nodes: dict[str, PNode], matcher: DeviceMatcher | None = None) -> None:
        self.nodes = nodes
        self.names = sorted(nodes)
        self.dra_names = [n for n in self.names if nodes[n].dra_on]  #: kept in sync by set_dra()
        self.by_wl: dict[str, list[SimPod]] = {}
        self.pending: list[SimPod] = []
        self.terminating: list[SimPod] = []
        self.workloads: dict[str, Workload] = {}
        self.active: set[str] = set()
        self.templates: set[str] = set()  #: "namespace/name" of existing ResourceClaimTemplates
        self.matcher = matcher or DeviceMatcher()
        self._eligible: dict[tuple[Any, ...], bool] = {}
        self.tick_count = 0
        self.version = 0
        self.gated: set[str] = set()  #: workloads whose new pods waited for a missing template
        self.hazard_log: list[str] = []
        self.on_node: dict[str, list[SimPod]] = {}  #: bound pods per node
        #: bumped whenever capacity may have grown (a release, a node change, a new template):
        #: a pod that did not fit is not retried until then
        self.epoch = 0
        self._failed: dict[tuple[Any, ...], int] = {}
        #: the DRA nodes that may have a free device, sorted (a superset: a full one is dropped when
        #: a scan meets it, put back when a pod releases devices there), so a placement scans the
        #: nodes with room, not every DRA node; None until first used
        self._dra_room: list[str] | None = None
        #: likewise, device-plugin nodes that may hold no device-plugin pod (cut-over candidates)
        self._dp_empty: list[str] | None = None
        #: likewise, nodes that may have free device-plugin GPUs (where a drained pod may go)
        self._dp_room: list[str] | None = None
        #: nodes with devices, by ``dp_bound``, each list sorted (exact counts: kept on every bind,
        #: termination and release; a node off the device plugin or on DRA is dropped when met)
        self._busy: dict[int, list[str]] | None = None

    def clone(self) -> Model:
        m = Model({k: v.copy() for k, v in self.nodes.items()}, self.matcher)
        m._eligible = self._eligible  # a pure cache
        mapping: dict[int, SimPod] = {}
        for wl, pods in self.by_wl.items():
            out = []
            for p in pods:
                q = copy.copy(p)
                q.dp, q.devs = dict(p.dp), list(p.devs)
                mapping[id(p)] = q
                out.append(q)
            m.by_wl[wl] = out
        m.pending = [mapping[id(p)] for p in self.pending if id(p) in mapping]
        m.terminating = [mapping[id(p)] for p in self.terminating if id(p) in mapping]
        m.workloads = {k: copy.copy(w) for k, w in self.workloads.items()}
        m.active = set(self.active)
        for pods in m.by_wl.values():
            for p in pods:
                if p.node is not None and p.state != "pending":
                    m.on_node.setdefault(p.node, []).append(p)
        m.templates = set(self.templates)
        m.tick_count, m.version, m.epoch = self.tick_count, self.version, self.epoch
        m.dra_names = list(self.dra_names)
        return m

    # ---- pods and ledger ---------------------------------------------------------------------

    def pods(self, wl: str) -> list[SimPod]:
        return self.by_wl.get(wl, [])

    def all_pods(self) -> list[SimPod]:
        return [p for pods in self.by_wl.values() for p in pods]

    def add(self, pod: SimPod) -> SimPod:
        self.by_wl.setdefault(pod.wl, []).append(pod)
        self.version += 1
        if pod.state == "pending":
            self.pending.append(pod)
        elif pod.node is not None:
            self._hold(pod, pod.node)
        return pod

    def _hold(self, pod: SimPod, node_name: str) -> None:
        node = self.nodes[node_name]
        self.on_node.setdefault(node_name, []).append(pod)
        if pod.dp:
            for r, n in pod.dp.items():
                node.dp_used[r] = node.dp_used.get(r, 0) + n
            node.dp_pods += 1
            if pod.state != "terminating":
                self._count_bound(node, 1)
            if node.dra_on:
                self.hazard(f"{node.name}: a device-plugin pod runs where DRA serves the GPUs")
        node.devs_used.update(pod.devs)

    def _release(self, pod: SimPod) -> None:
        if pod.node is None or pod.state == "pending":
            return
        node = self.nodes[pod.node]
        if pod.devs and self._dra_room is not None and _has(self.dra_names, pod.node):
            _insort(self._dra_room, pod.node)
        if pod.dp and node.dp_pods == 1 and self._dp_empty is not None:
            _insort(self._dp_empty, pod.node)
        if pod.dp and self._dp_room is not None:
            _insort(self._dp_room, pod.node)
        self.epoch += 1
        bound = self.on_node.get(pod.node)
        if bound is not None and pod in bound:
            bound.remove(pod)
        if pod.dp:
            for r, n in pod.dp.items():
                node.dp_used[r] = node.dp_used.get(r, 0) - n
            node.dp_pods -= 1
            if pod.state != "terminating":
                self._count_bound(node, -1)
        node.devs_used.difference_update(pod.devs)

    def _count_bound(self, node: PNode, delta: int) -> None:
        old = node.dp_bound
        node.dp_bound = old + delta
        busy = self._busy
        if busy is not None and old in busy:
            names = busy[old]
            i = bisect.bisect_left(names, node.name)
            if i < len(names) and names[i] == node.name:  # not dropped yet
                del names[i]
                _insort(busy.setdefault(old + delta, []), node.name)

    def terminate(self, pod: SimPod) -> None:
        if pod.state == "terminating":
            return
        if pod.dp and pod.node is not None and pod.state != "pending":
            self._count_bound(self.nodes[pod.node], -1)  # still held, no longer counted as bound
        pod.state = "terminating"  # holds its devices until the next tick
        self.terminating.append(pod)
        self.version += 1
        w = self.workloads.get(pod.wl)
        if w is not None and w.modelled:
            self.active.add(w.key)
        elif w is None and pod.dp and pod.pinned is None:
            # someone else's pod: its controller recreates it under its own template
            self.add(SimPod(pod.wl, "old", dp=dict(pod.dp)))

    def set_dra(self, name: str) -> None:
        node = self.nodes[name]
        node.dra_on, node.expected = True, False
        _insort(self.dra_names, name)  # no copy per cut-over: nothing iterates it while one happens
        if self._dra_room is not None:
            _insort(self._dra_room, name)
        self.epoch += 1

    def dra_with_room(self) -> Iterator[str]:
        """``dra_names`` less the nodes whose devices are all held, in the same order. Lazy: a full
        node met on the way is dropped from the index; nothing may release devices meanwhile."""
        room = self._dra_room
        if room is None:
            room = self._dra_room = list(self.dra_names)
        i = 0
        while i < len(room):
            node = self.nodes[room[i]]
            if len(node.devs_used) >= len(node.devices):
                del room[i]
                continue
            yield room[i]
            i += 1

    def dp_empty(self) -> Iterator[str]:
        """Nodes with devices on the device plugin only that hold no device-plugin pod, by name
        (cordoned ones included): the cut-overs that evict nothing. Lazy, as ``dra_with_room``."""
        empty = self._dp_empty
        if empty is None:
            empty = self._dp_empty = sorted(self.nodes)
        i = 0
        while i < len(empty):
            node = self.nodes[empty[i]]
            # a node leaves for good once off the device plugin or on DRA (neither is undone), and
            # until its last device-plugin pod is released when it holds some (_release puts it back)
            if not node.devices or not node.dp_on or node.dra_on or node.dp_pods:
                del empty[i]
                continue
            yield empty[i]
            i += 1

    def dp_with_room(self) -> Iterator[str]:
        """Nodes on the device plugin with a free device-plugin GPU of some resource, by name (a
        superset of where a device-plugin pod fits). Lazy, as ``dra_with_room``: a node without
        room met on the way is dropped until a release there puts it back."""
        room = self._dp_room
        if room is None:
            room = self._dp_room = list(self.names)
        i = 0
        while i < len(room):
            node = self.nodes[room[i]]
            used = node.dp_used
            if not node.dp_on or not any(a - used.get(r, 0) > 0 for r, a in node.dp_alloc.items()):
                del room[i]
                continue
            yield room[i]
            i += 1

    def busy_dp(self) -> Iterator[tuple[int, str]]:
        """Nodes with devices on the device plugin only that hold device-plugin pods, as (pods bound
        there and not terminating, name), in that order: the cut-overs that evict something, fewest
        evictions first."""
        busy = self._busy
        if busy is None:
            busy = self._busy = {}
            for name in self.names:
                node = self.nodes[name]
                if node.devices and node.dp_on and not node.dra_on:
                    busy.setdefault(node.dp_bound, []).append(name)
        for count in sorted(busy):
            names = busy[count]
            i = 0
            while i < len(names):
                node = self.nodes[names[i]]
                if not node.dp_on or node.dra_on:  # for good: neither is undone
                    del names[i]
                    continue
                if node.dp_pods:
                    yield count, names[i]
                i += 1

    def hazard(self, text: str) -> None:
        self.hazard_log.append(f"t={self.tick_count}: {text}")

    def dp_used(self, node: str) -> dict[str, int]:
        return self.nodes[node].dp_used

    # ---- device matching ---------------------------------------------------------------------

    def _matches(self, exprs: list[str], d: Device) -> bool:
        # an evaluation error: allocation aborts on this device, so it is never chosen; the
        # matcher keeps the error for the plan to report (migrator/proof/matcher.py)
        return self.matcher.matches(exprs, d)

    def eligible(self, w: Workload, node: PNode) -> bool:
        """Node selection and taints for the new pod (cached: they do not change in a plan)."""
        key = (w.signature, node.name)
        hit = self._eligible.get(key)
        if hit is None:
            pod = dict(w.new_pod, tolerations=admission_tolerations(w.new_pod))  # it is admitted too
            hit = self._eligible[key] = selects(pod, node) and tolerates(pod, node)  # type: ignore[arg-type]
        return hit

    def fit_new(self, w: Workload, node: PNode, used: set[DevKey] | None = None) -> list[DevKey] | None:
        if not node.dra_on or (node.cordoned and w.kind != "DaemonSet"):
            return None
        return self._fit(w, node, node.devs_used if used is None else used)

    def most_new(self, w: Workload, want: int) -> int:
        """An upper bound of the new pods of ``w`` the cluster can ever hold (stops at ``want``): every
        node on DRA or able to be cut over, every device free, no other workload."""
        return self._pack(w, self.nodes.values(), want, fresh=True)

    def fits_on(self, w: Workload, name: str) -> bool:
        """Whether one new pod of ``w`` fits on node ``name`` once it is on DRA and empty."""
        return self._pack(w, [self.nodes[name]], 1, fresh=True) == 1

    def _pack(self, w: Workload, nodes: Any, want: int, fresh: bool) -> int:
        """New pods of ``w`` placed greedily on ``nodes`` (their free devices, or all if ``fresh``)."""
        fitted = 0
        for node in nodes:
            if not fresh and len(node.devs_used) >= len(node.devices):
                continue
            used: set[DevKey] = set() if fresh else set(node.devs_used)
            while fitted < want:
                got = self._fit(w, node, used)
                if got is None:
                    break
                used.update(got)
                fitted += 1
            if fitted >= want:
                break
        return fitted

    def _fit(self, w: Workload, node: PNode, used: set[DevKey]) -> list[DevKey] | None:
        if len(used) >= len(node.devices) or not self.eligible(w, node):
            return None
        taken: list[DevKey] = []
        for req in w.requests:
            got: list[DevKey] | None = None
            for exprs in req.alternatives:
                free = []
                for d in node.devices:
                    if d.key in used or d.key in taken or not self._matches(exprs, d):
                        continue
                    free.append(d.key)
                    if len(free) == req.count:
                        break
                if len(free) >= req.count:
                    got = free  # type: ignore[assignment]  # device keys: tuples of four str
                    break
            if got is None:
                return None
            taken += got
        return taken

    def fit_old(self, w: Workload | None, pod: SimPod, node: PNode) -> bool:
        if not node.dp_on or (node.cordoned and pod.pinned is None):
            return False
        if w is not None:
            key = ("old", w.key, node.name)
            ok = self._eligible.get(key)
            if ok is None:
                tol = admission_tolerations(w.old_pod)  # ExtendedResourceToleration
                ok = self._eligible[key] = selects(w.old_pod, node) and tolerates(  # type: ignore[arg-type]
                    dict(w.old_pod, tolerations=tol), node)  # type: ignore[arg-type]
            if not ok:
                return False
        return all(node.dp_alloc.get(r, 0) - node.dp_used.get(r, 0) >= n for r, n in pod.dp.items())

    def new_capacity(self, w: Workload, want: int) -> int:
        """How many new pods of ``w`` fit on DRA nodes now (stops counting at ``want``)."""
        return self._pack(w, (n for n in map(self.nodes.__getitem__, self.dra_with_room()) if not n.cordoned),
                          want, fresh=False)

    # ---- one tick ----------------------------------------------------------------------------

    def tick(self) -> None:
        self.tick_count += 1
        for p in self.terminating:
            self._release(p)
            pods = self.by_wl.get(p.wl)
            if pods is not None and p in pods:
                pods.remove(p)
        if self.terminating:
            self.version += 1
        self.terminating = []
        for key in sorted(self.active):
            w = self.workloads[key]
            if w.target == "new":
                self._reconcile(w)
            else:
                self._replace_missing(w, "old")
            if self._settled(w):
                self.active.discard(key)
        self._schedule()

    def _settled(self, w: Workload) -> bool:
        pods = self.pods(w.key)
        if any(p.state != "running" for p in pods):
            return False
        if w.target == "new":
            return self.complete(w)
        return len(pods) >= (len(w.ds_nodes) if w.kind == "DaemonSet" else w.replicas)

    def _new_pod(self, w: Workload, rev: str, ordinal: int | None = None, pinned: str | None = None) -> SimPod:
        return self.add(SimPod(w.key, rev, dp=dict(w.dp_need) if rev == "old" else {}, ordinal=ordinal,
                               pinned=pinned))

    def _replace_missing(self, w: Workload, rev: str) -> None:
        """Controllers put back pods that were evicted (drain), with the revision they belong to."""
        pods = self.pods(w.key)
        live = [p for p in pods if p.state != "terminating"]
        if w.kind == "DaemonSet":
            for node in sorted(set(w.ds_nodes) - {p.pinned for p in pods}):
                self._new_pod(w, rev, pinned=node)
        elif w.kind == "StatefulSet":
            have = {p.ordinal for p in pods}
            for i in range(w.replicas):
                if i not in have:
                    self._new_pod(w, rev, ordinal=i)
        else:  # a ReplicaSet replaces a deleted pod at once (the old one may still terminate)
            for _ in range(max(0, w.replicas - len(live))):
                self._new_pod(w, rev)

    def _reconcile(self, w: Workload) -> None:
        if w.templates and not all(t in self.templates for t in w.templates):
            self.gated.add(w.key)
        if w.kind == "Deployment":
            self._deployment(w)
        elif w.kind == "StatefulSet":
            self._statefulset(w)
        elif w.kind == "DaemonSet":
            self._daemonset(w)

    def _deployment(self, w: Workload) -> None:
        R = w.replicas
        strategy = w.strategy_now or {}
        pods = self.pods(w.key)
        old = [p for p in pods if p.rev == "old" and p.state != "terminating"]
        new = [p for p in pods if p.rev == "new" and p.state != "terminating"]
        if strategy.get("type") == "Recreate":
            if old:
                for p in old:
                    self.terminate(p)
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
                    self.terminate(p)
                    w.old_spec -= 1
                    k -= 1
                avail = new_avail + len([p for p in old if p.state == "running"])
                n = min(k, avail - (R - U))
                running = sorted((p for p in old if p.state == "running"), key=lambda p: p.cost)  # stable
                for p in running[:max(0, n)]:
                    self.terminate(p)
                    w.old_spec -= 1
            pods = self.pods(w.key)
            old = [p for p in pods if p.rev == "old" and p.state != "terminating"]
            new = [p for p in pods if p.rev == "new" and p.state != "terminating"]
        for _ in range(w.new_spec - len(new)):  # each ReplicaSet converges with its own template
            self._new_pod(w, "new")
        for _ in range(w.old_spec - len(old)):
            self._new_pod(w, "old")

    def _statefulset(self, w: Workload) -> None:
        pods = self.pods(w.key)
        by_ord = {p.ordinal: p for p in pods}
        for i in range(w.replicas):
            if i not in by_ord:
                by_ord[i] = self._new_pod(w, "new" if i >= w.partition else "old", ordinal=i)
        if w.sts_max_unavailable > 1:
            self._statefulset_budget(w, by_ord)
            return
        for i in range(w.replicas - 1, w.partition - 1, -1):
            p = by_ord.get(i)
            if p is None or p.state == "terminating":
                return
            if p.rev == "new":
                if p.state != "running":
                    return  # wait for Ready before the next ordinal
                continue
            self.terminate(p)  # delete, then recreate at the new revision
            return

    def _statefulset_budget(self, w: Workload, by_ord: dict[int | None, SimPod]) -> None:
        """The controller with MaxUnavailableStatefulSet on: count the unavailable pods (not
        running, terminating included); delete old-revision pods from the highest ordinal down
        to the partition until ``maxUnavailable`` are unavailable."""
        U = w.sts_max_unavailable
        ordinals = range(w.replicas - 1, w.partition - 1, -1)
        unavailable = sum(1 for i in range(w.replicas) if by_ord[i].state != "running")
        if w.sts_parallel:
            stale = [by_ord[i] for i in ordinals
                     if by_ord[i].rev == "old" and by_ord[i].state == "pending"]
            if unavailable >= U and not stale:
                return
            for p in stale:  # already down: replacing it costs nothing
                self.terminate(p)
            budget = U - unavailable
            for i in ordinals:
                if budget <= 0:
                    break
                p = by_ord[i]
                if p.rev == "old" and p.state == "running":
                    self.terminate(p)
                    budget -= 1
            return
        budget = U - unavailable
        for i in ordinals:
            if budget <= 0:
                break
            p = by_ord[i]
            if p.rev == "old" and p.state != "terminating":
                self.terminate(p)
                budget -= 1

    def _daemonset(self, w: Workload) -> None:
        pods = self.pods(w.key)
        for node in sorted(set(w.ds_nodes) - {p.pinned for p in pods}):
            self._new_pod(w, "new", pinned=node)  # a deleted pod comes back from the current template
        if (w.strategy_now or {}).get("type") == "OnDelete":
            return
        ru = (w.strategy_now or {}).get("rollingUpdate") or {}
        U = max(1, resolve(ru.get("maxUnavailable", 1), len(w.ds_nodes), True))
        unavailable = len([p for p in pods if p.state != "running"])
        for p in [p for p in pods if p.rev == "old" and p.state == "running"]:
            if unavailable >= U:
                break
            self.terminate(p)
            unavailable += 1

    def _schedule(self) -> None:
        still: list[SimPod] = []
        full: set[tuple[Any, ...]] = set()  #: (signature) with no room left this tick
        for p in self.pending:
            if p.state != "pending":
                continue
            w = self.workloads.get(p.wl)
            retry_key = (p.rev, w.signature if (w is not None and p.rev == "new") else p.wl, p.pinned)
            if self._failed.get(retry_key) == self.epoch:
                still.append(p)
                continue
            placed = False
            if p.rev == "new":
                if w is None or (w.templates and not all(t in self.templates for t in w.templates)):
                    still.append(p)
                    continue
                sig = w.signature
                if sig not in full or p.pinned:
                    for n in ([p.pinned] if p.pinned else self.dra_with_room()):
                        node = self.nodes[n]
                        if len(node.devs_used) >= len(node.devices):
                            continue
                        got = self.fit_new(w, node)
                        if got is not None:
                            p.node, p.devs, p.state = n, got, "running"
                            self._hold(p, n)
                            placed = True
                            break
                    if not placed and not p.pinned:
                        full.add(sig)
            else:
                # a pod that needs a device-plugin GPU fits only where one is free: the index of such
                # nodes is a superset of where it fits, in the same order (by name)
                for n in ([p.pinned] if p.pinned else self.dp_with_room() if any(v > 0 for v in p.dp.values())
                          else self.names):
                    if self.fit_old(w, p, self.nodes[n]):
                        p.node, p.state = n, "running"
                        self._hold(p, n)
                        placed = True
                        break
                if not placed and w is not None and w.extended and w.requests:
                    placed = self._place_extended(w, p)
            if placed:
                self.version += 1
            else:
                self._failed[retry_key] = self.epoch
                still.append(p)
        self.pending = still

    def _place_extended(self, w: Workload, p: SimPod) -> bool:
        """An unchanged ``nvidia.com/gpu`` pod on a DRA node: the scheduler makes its claim from the
        mapping DeviceClass where the node's allocatable has none of the resource (kubernetes
        v1.37.2 extendeddynamicresources.go filterExtendedResources); it then holds devices, not
        device-plugin GPUs."""
        for n in ([p.pinned] if p.pinned else self.dra_with_room()):
            node = self.nodes[n]
            if node.dp_on or len(node.devs_used) >= len(node.devices):
                continue  # a node with device-plugin capacity serves the resource itself
            got = self.fit_new(w, node)
            if got is not None:
                p.node, p.devs, p.dp, p.state = n, got, {}, "running"
                self._hold(p, n)
                return True
        return False

    # ---- queries -----------------------------------------------------------------------------

    def available(self, w: Workload) -> int:
        return len([p for p in self.pods(w.key) if p.state == "running"])

    def complete(self, w: Workload) -> bool:
        pods = self.pods(w.key)
        if w.kind == "DaemonSet":
            return bool(pods) and len(pods) >= len(w.ds_nodes) and all(
                p.rev == "new" and p.state == "running" for p in pods)
        return (len([p for p in pods if p.rev == "new" and p.state == "running"]) == w.replicas
                and not any(p.rev == "old" for p in pods))

    def both_managers(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.dp_on and n.dra_on]


def _insort(names: list[str], name: str) -> None:
    i = bisect.bisect_left(names, name)
    if i == len(names) or names[i] != name:
        names.insert(i, name)


def _has(names: list[str], name: str) -> bool:
    i = bisect.bisect_left(names, name)
    return i < len(names) and names[i] == name
