"""Build the switch plan, then prove it by replaying it in the model (rollout-model.md §6, §8).

Plan shape (waves; a wave starts when the previous one has finished):
  1. preflight checks (DeviceClasses, DRA slices, Kubernetes version and gates, no node served by
     both managers);
  2. fix nodes served by both managers;
  3. create every ResourceClaimTemplate (before any workload names it: invariant I3);
  4. per workload, smallest first: cut over device-plugin nodes only when DRA capacity is short
     (cordon, drain honouring PDBs, device plugin off, wait until ``nvidia.com/gpu`` allocatable
     is 0, DRA driver on, wait for complete ResourceSlices, uncordon), a temporary strategy only
     when the workload's own would stall, the template switch, waiting for the rollout, and the
     original strategy restored;
  5. cleanup after the rollback window (remaining device-plugin nodes).

Every step is applied to a working model as it is planned; the proof replays the whole plan
from the snapshot's state and checks that every workload completes, no state has a node served
by both managers (I1), and no pod is ever created from a template that does not exist (I2/I3).
"""

from __future__ import annotations

import collections
import heapq
import shlex
from dataclasses import dataclass, field
from typing import Any, Iterator

from migrator.plan.model import Model, PNode, SimPod, Workload, deployment_fence, resolve
from migrator.plan.topology import CLUSTERPOLICY, Topology, operator_profile, stacks

MAX_WAIT_TICKS = 400



@dataclass
class Step:
    wave: int
    action: str
    kind: str
    name: str
    namespace: str | None
    detail: str
    op: tuple[Any, ...]
    command: str = ""
    capacity_lost: dict[str, int] = field(default_factory=dict)  #: filled by the proof


@dataclass
class WorkloadDecision:
    workload: Workload
    deadlock_without_plan: bool
    switch_strategy: dict[str, Any] | None
    reason: str
    capacity_lost: int = 0
    completed: bool = False
    blocked: bool = False  #: cannot complete on this cluster whatever the order: not switched


@dataclass
class Proof:
    ok: bool
    problems: list[str]
    trace: list[str]
    ticks: int


@dataclass(frozen=True)
class NotMigrated:
    """A pod template (or object) the rewrite reports as manual or skipped: not in the runbook's
    steps, listed so it does not vanish (its finding, as ``scan`` gives it)."""

    kind: str | None
    namespace: str | None
    name: str | None
    container: str | None
    pod_template: str  #: "Kind namespace/name", plus the pod spec's path when it is not the usual one
    code: str
    status: str  #: "manual" or "skipped"
    reason: str
    file: str
    line: int | None


@dataclass(frozen=True)
class ExtendedPath:
    """A pod template that keeps its manifest: DRA serves it through a DeviceClass with
    ``extendedResourceName`` (KEP-5004) once its nodes are switched (migrator/proof/kep5004.py)."""

    kind: str
    namespace: str | None
    name: str
    pod_template: str  #: "Kind namespace/name" (plus the pod spec's path when unusual)
    file: str
    resources: dict[str, int]  #: what each pod asks for (device-plugin arithmetic)
    device_classes: dict[str, str | None]  #: resource -> the snapshot's mapping class (None: none)
    served: bool  #: the target's gate is on and the snapshot maps every resource: DRA can serve it
    reason: str  #: why it may keep its manifest


@dataclass
class Plan:
    decisions: list[WorkloadDecision]
    steps: list[Step]
    preflight: list[str]
    proof: Proof | None = None
    alternative: list[str] = field(default_factory=list)  #: the KEP-5004 "nodes first" path
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  #: one line per input that could not be planned
    not_migrated: list[NotMigrated] = field(default_factory=list)
    extended: list[ExtendedPath] = field(default_factory=list)  #: the KEP-5004 path: manifests untouched
    topology: Topology | None = None  #: the GPU Operator install shown and targeted

    def summary(self) -> dict[str, int]:
        """What the plan covers, counted as rewrite counts its findings (one per finding)."""
        blocked = sum(1 for d in self.decisions if d.blocked)
        return {"workloads": len(self.decisions), "switched": len(self.decisions) - blocked, "blocked": blocked,
                "not_migrated": len(self.not_migrated),
                "manual": sum(1 for n in self.not_migrated if n.status == "manual"),
                "skipped": sum(1 for n in self.not_migrated if n.status == "skipped"),
                "extended_resource": len(self.extended)}


class Executor:
    """Applies plan steps to a model; waits run controller ticks until their condition holds."""

    def __init__(self, model: Model, trace: list[str] | None = None) -> None:
        self.m = model
        self.trace = trace
        self.problems: list[str] = []
        self.lost: dict[str, int] = {}
        #: hazards the snapshot already had: reported in preflight, fixed by the plan's first wave
        self.preexisting = set(model.both_managers())
        self._hazards_seen = len(model.hazard_log)

    def log(self, text: str) -> None:
        if self.trace is not None:
            self.trace.append(f"t={self.m.tick_count:<4} {text}")

    def tick(self) -> None:
        self.m.tick()
        for key in sorted(self.m.active):  # the order the runbook lists losses in: never the hash seed's
            w = self.m.workloads[key]
            if w.kind == "DaemonSet":
                lost = len([p for p in self.m.pods(key) if p.state != "running"])
            else:
                lost = max(0, w.replicas - self.m.available(w))
            if lost > self.lost.get(key, 0):
                self.lost[key] = lost
        self._collect_hazards()

    def _collect_hazards(self) -> None:
        for h in self.m.hazard_log[self._hazards_seen:]:
            self.problems.append(f"I1 violated at {h}")
        self._hazards_seen = len(self.m.hazard_log)

    def settle(self) -> None:
        """Tick until nothing changes for two ticks."""
        same = 0
        for _ in range(MAX_WAIT_TICKS):
            before = self.m.version
            self.tick()
            same = same + 1 if self.m.version == before and not self.m.terminating else 0
            if same >= 2:
                return

    def wait_for(self, cond: Any, what: str) -> bool:
        same = 0
        for _ in range(MAX_WAIT_TICKS):
            if cond():
                return True
            before = self.m.version
            self.tick()
            same = same + 1 if self.m.version == before and not self.m.terminating else 0
            if same >= 3:
                break
        if cond():
            return True
        self.problems.append(f"t={self.m.tick_count}: stuck waiting for {what}")
        return False

    def apply(self, step: Step) -> None:
        m, op = self.m, step.op
        self.log(f"wave {step.wave}: {step.action} {step.kind} {step.name}: {step.detail}")
        kind = op[0]
        if kind == "create_template":
            m.templates.add(op[1])
            m.epoch += 1
        elif kind == "cordon":
            m.nodes[op[1]].cordoned = True
        elif kind == "uncordon":
            m.nodes[op[1]].cordoned = False
            m.epoch += 1
        elif kind == "drain":
            self._drain(op[1])
        elif kind == "dp_off":
            m.nodes[op[1]].dp_on = False
        elif kind == "wait_dp_zero":
            self.wait_for(lambda: m.nodes[op[1]].dp_pods == 0, f"device-plugin pods to leave {op[1]}")
        elif kind == "dra_on":
            node = m.nodes[op[1]]
            if node.dp_pods:
                self.problems.append(f"I1: DRA enabled on {op[1]} while device-plugin pods hold its GPUs")
            if node.dp_on:
                self.problems.append(f"I1: DRA enabled on {op[1]} while its device plugin still serves GPUs")
            m.set_dra(op[1])
        elif kind == "strategy":
            w = m.workloads[op[1]]
            w.strategy_now = op[2]
            if w.kind == "StatefulSet":
                w.partition = int(((op[2] or {}).get("rollingUpdate") or {}).get("partition", 0) or 0)
            m.active.add(w.key)
        elif kind == "partition":
            m.workloads[op[1]].partition = op[2]
            m.active.add(op[1])
        elif kind == "switch":
            w = m.workloads[op[1]]
            missing = [t for t in w.templates if t not in m.templates]
            if missing:
                self.problems.append(f"I3 violated: {w.key} switched before template(s) {', '.join(missing)} exist")
            w.target = "new"
            w.old_spec = len([p for p in m.pods(w.key) if p.rev == "old" and p.state != "terminating"])
            w.new_spec = 0
            m.active.add(w.key)
        elif kind == "deletion_cost":
            for p in m.pods(op[1]):
                if p.rev == "old" and p.node == op[2]:
                    p.cost = op[3]
        elif kind == "delete_pod":
            for p in list(m.pods(op[1])):
                if p.pinned == op[2]:
                    m.terminate(p)
        elif kind == "cluster_dp_off":
            for node in m.nodes.values():
                node.dp_on = False
        elif kind == "delete_pods":
            for p in list(m.pods(op[1])):
                if p.state != "terminating" and (p.dp or p.rev == "old"):
                    m.terminate(p)
            m.active.add(op[1])
        elif kind == "wait_dp_zero_all":
            self.wait_for(lambda: all(n.dp_pods == 0 for n in m.nodes.values()),
                          "device-plugin pods to leave every node")
        elif kind == "cluster_dra_on":
            for name in m.names:
                node = m.nodes[name]
                if not node.devices or node.dra_on:
                    continue
                if node.dp_pods:
                    self.problems.append(f"I1: DRA enabled on {name} while device-plugin pods hold its GPUs")
                m.set_dra(name)
        elif kind == "wait_rollout":
            w = m.workloads[op[1]]
            self.wait_for(lambda: m.complete(w), f"the rollout of {w.key}")
        self._collect_hazards()
        if kind in ("dp_off", "dra_on"):
            node = m.nodes[op[1]]
            if node.dp_on and node.dra_on and node.name not in self.preexisting:
                self.problems.append(f"I1 violated: {node.name} served by both managers")
            if not (node.dp_on and node.dra_on):
                self.preexisting.discard(node.name)
        self.settle()

    def _drain(self, node: str) -> None:
        """Evict every pod on the node but DaemonSet pods, honouring PDBs (evictions are retried)."""
        m = self.m
        for _ in range(MAX_WAIT_TICKS):
            victims = [p for p in m.on_node.get(node, []) if p.state == "running" and p.pinned is None]
            if not victims:
                return
            for p in victims:
                w = m.workloads.get(p.wl)
                if w is not None and w.pdb is not None and not self._pdb_allows(w):
                    continue
                m.terminate(p)
            self.tick()
        left = sorted({p.wl for p in m.on_node.get(node, []) if p.state == "running" and p.pinned is None})
        if left:
            self.problems.append(f"drain of {node} blocked by a PodDisruptionBudget ({', '.join(left)})")

    def _pdb_allows(self, w: Workload) -> bool:
        pdb = w.pdb or {}
        healthy = self.m.available(w)
        if "minAvailable" in pdb:
            return healthy - resolve(pdb["minAvailable"], w.replicas, True) > 0
        if "maxUnavailable" in pdb:
            return resolve(pdb["maxUnavailable"], w.replicas, True) - (w.replicas - healthy) > 0
        return True


# ---- planning ------------------------------------------------------------------------------------

def _step(wave: int, action: str, kind: str, name: str, ns: str | None, detail: str, op: tuple[Any, ...],
          command: str = "") -> Step:
    return Step(wave, action, kind, name, ns, detail, op, command)


def cutover_steps(wave: int, node: str, why: str, cordoned_before: bool = False, uncordon: bool = True,
                  stack: Any = None) -> list[Step]:
    """The cut-over of one node. ``cordoned_before``: the snapshot has it cordoned (the user's
    choice): the runbook says so, and with ``uncordon`` (its DRA devices are needed) says that the
    plan cordons it again at the end; without, it stays cordoned. ``stack``: the GPU Operator install
    whose labels switch the node (migrator/plan/topology.py; the ClusterPolicy one by default)."""
    # without a stack: the operator's vendor profile's cutoverLabels (the GPU Operator's per-node
    # operand label and the label the DRA chart's kubeletPlugin.nodeSelector selects in its docs)
    prof = operator_profile()
    dp_off = stack.device_plugin_off if stack is not None else prof.device_plugin_off
    dra_on = stack.dra_on if stack is not None else prof.dra_on
    vendor = getattr(stack, "vendor", None)  #: another vendor's node: its installer's own way
    res = next(iter(getattr(stack, "resources", ())), prof.nodes.resource)  #: what its device plugin advertises
    if cordoned_before:
        why += ("; it was cordoned before this plan" + (
            ": uncordoned after the cut-over so new pods can use its DRA devices, and cordoned again when the plan "
            "ends" if uncordon else " and stays cordoned after the cut-over"))
    steps = [
        _step(wave, "cordon", "Node", node, None, why, ("cordon", node), f"kubectl cordon {node}"),
        _step(wave, "drain", "Node", node, None, "evict its pods (PodDisruptionBudgets honoured; DaemonSet pods stay)",
              ("drain", node), f"kubectl drain {node} --ignore-daemonsets --delete-emptydir-data"),
        _step(wave, "label", "Node", node, None, f"device plugin off ({dp_off})", ("dp_off", node),
              f"kubectl label node {node} {dp_off} --overwrite") if dp_off else
        _step(wave, "update", "Node", node, None, f"device plugin off: stop {vendor}'s device plugin on this node "
              "the way it was installed (its profile names no node label for it)" if vendor else
              "device plugin off: the GPU Operator's GPUCluster install runs "
              "none, so stop the one that serves this node the way it was installed", ("dp_off", node),
              f"# stop the device plugin on {node}"),
        _step(wave, "wait", "Node", node, None, f"until allocatable {res} is 0 and no "
              "device-plugin pod holds a GPU (never run both managers on one node)", ("wait_dp_zero", node),
              f"kubectl get node {node} -o jsonpath='{{.status.allocatable.{res.replace('.', chr(92) + '.')}}}'"
              "  # expect 0 or empty"),
        _step(wave, "label", "Node", node, None, f"DRA kubelet plugin on ({dra_on})", ("dra_on", node),
              f"kubectl label node {node} {dra_on} --overwrite") if dra_on else
        _step(wave, "update", "Node", node, None, f"DRA kubelet plugin on: run {vendor}'s DRA driver on this node "
              "the way it is installed (its profile names no node label for it)", ("dra_on", node),
              f"# start the DRA kubelet plugin on {node}"),
        _step(wave, "wait", "Node", node, None, "until its ResourceSlices are published and complete "
              "(pool resourceSliceCount reached; can take minutes)", ("wait_slices", node),
              f"kubectl get resourceslices --field-selector spec.nodeName={node} -o yaml"),
    ]
    if uncordon:
        steps.append(_step(wave, "uncordon", "Node", node, None,
                           "temporarily: it was cordoned before this plan, which cordons it again when it ends"
                           if cordoned_before else "", ("uncordon", node), f"kubectl uncordon {node}"))
    return steps


def _kubectl_target(w: Workload) -> str:
    ns = f" -n {w.namespace}" if w.namespace else ""
    return f"{w.kind.lower()}/{w.name}{ns}"


def _strategy_field(w: Workload) -> str:
    return "strategy" if w.kind == "Deployment" else "updateStrategy"


@dataclass(frozen=True)
class _VendorStack:
    vendor: str
    device_plugin_off: str | None
    dra_on: str | None
    resources: tuple[str, ...] = ()


class _Later:
    """``key in later``: a workload planned after the current one (the counts _run keeps)."""

    def __init__(self, counts: collections.Counter[str]) -> None:
        self.counts = counts

    def __contains__(self, key: object) -> bool:
        return self.counts.get(key, 0) > 0  # type: ignore[call-overload]


class Planner:
    def __init__(self, initial: Model, preflight: list[str],
                 template_files: dict[str, tuple[tuple[str, bool], ...]] | None = None,
                 topology: Topology | None = None) -> None:
        self.initial = initial
        self.topology = topology
        self.stack = topology.target if topology is not None else None
        #: "namespace/name" -> (file, written by the rewrite) of the files holding that template
        self.template_files = template_files or {}
        self.m = initial.clone()
        self.ex = Executor(self.m)
        self.steps: list[Step] = []
        self.wave = 0
        self.preflight = preflight
        #: nodes the user cordoned (the snapshot's spec.unschedulable): never capacity for old pods;
        #: one the plan uncordons for its DRA devices is cordoned again when the plan ends
        self.cordoned_before = {n for n, node in initial.nodes.items() if node.cordoned}
        self.uncordoned: list[str] = []
        self.later: Any = set()  #: workloads planned after the current one (run() keeps it; ``in`` only)
        self.protected: set[str] = set()  #: workloads whose pods no last-resort cut-over may evict
        self.forced: dict[str, str] = {}  #: workloads blocked because their rollout did not complete: why
        self.evicted: set[str] = set()  #: workloads whose pods a last-resort cut-over evicted (this pass)

    def stack_for(self, node: str) -> Any:
        """The labels that switch ``node``: the GPU Operator install's for NVIDIA nodes, the vendor
        profile's cut-over labels for another vendor's (rules/vendors/*.yaml ``cutoverLabels``)."""
        from migrator.tables import load_tables

        t = load_tables()
        own = operator_profile().vendor
        vendors = t.vendors_of(self.m.nodes[node].dp_alloc)
        if not vendors or vendors == {own}:
            return self.stack
        prof = t.vendors.by_vendor(sorted(vendors - {own})[0])
        return _VendorStack(prof.name, prof.device_plugin_off, prof.dra_on, tuple(sorted(self.m.nodes[node].dp_alloc)))

    def emit(self, steps: list[Step]) -> None:
        for s in steps:
            self.steps.append(s)
            self.ex.apply(s)

    def next_wave(self) -> int:
        self.wave += 1
        return self.wave

    # -- simulation helpers --------------------------------------------------------------------

    def own_strategy_completes(self, model: Model, w: Workload) -> tuple[bool, int, list[str]]:
        """Closed form (rollout-model.md §8.4): in a device-plugin -> claims switch, GPUs freed by
        old pods are useless to new ones, so any strategy completes iff DRA capacity for all new
        pods is there; otherwise a Deployment loses min(U, R - fit) replicas (U >= 1) or stalls."""
        mw = model.workloads[w.key]
        if w.kind == "DaemonSet":
            ok = all(model.nodes[n].dra_on and model.fit_new(mw, model.nodes[n]) is not None for n in w.ds_nodes)
            return ok, 0 if ok else len([n for n in w.ds_nodes if not model.nodes[n].dra_on]), []
        fit = model.new_capacity(mw, w.replicas)
        if fit >= w.replicas:
            lost = 0
            if w.kind == "Deployment":
                _, U = deployment_fence(w.strategy, w.replicas)
                lost = U if (w.strategy or {}).get("type") != "Recreate" else w.replicas
            elif w.kind == "StatefulSet":
                lost = min(w.sts_max_unavailable, w.replicas)
            return True, lost, []
        if w.kind == "Deployment":
            _, U = deployment_fence(w.strategy, w.replicas)
            return False, min(U, w.replicas - fit), []
        if w.kind == "StatefulSet":
            return False, min(w.sts_max_unavailable, w.replicas - fit), []
        return False, 1, []

    def useful(self, node: PNode, w: Workload) -> bool:
        key = (w.signature, node.name, "useful")
        hit = self.m._eligible.get(key)
        if hit is None:
            probe = PNode(node.name, node.labels, node.taints, node.dp_alloc, node.devices, False, True)
            hit = self.m._eligible[key] = self.m.fit_new(w, probe, set()) is not None
        return hit

    def cutover_candidate(self, w: Workload, allow_own: bool) -> str | None:
        """The least disruptive node to turn into DRA capacity for ``w``: an empty device-plugin
        node, then a cordoned node that needs only an uncordon (DRA already) or an empty one that
        the user cordoned (the runbook says so and cordons it again at the end), then a busy node
        whose other pods fit elsewhere (they are evicted), ``w``'s own pods last."""
        # Tiers 0-2 from the model's index of empty device-plugin nodes (and the user's cordoned DRA
        # nodes), by name: the first empty, uncordoned one that can serve ``w`` ends the search, so
        # a decision asks ``useful`` of the nodes before it, not of every node. (Its device matching
        # records selector errors in the order found; the plan reports the errors met on the way.)
        m = self.m
        tier1 = sorted(n for n in self.cordoned_before if m.nodes[n].devices and m.nodes[n].dra_on
                       and m.nodes[n].cordoned and not m.nodes[n].dp_on)
        first, quiet = None, None
        for name in heapq.merge(m.dp_empty(), tier1):
            node = m.nodes[name]
            if self.useful(node, w):
                if not node.dra_on and not node.cordoned:
                    first = name
                    break
                if quiet is None or (not node.dra_on, name) < quiet:  # tier 1 (an uncordon), then 2
                    quiet = (not node.dra_on, name)
        if first is not None:
            return first
        if quiet is not None:  # evicts nothing: ahead of every busy node
            return quiet[1]
        # Tier 3, busy device-plugin nodes by (other pods evicted, own pods evicted, name), read
        # from the model's index of nodes by pods bound (``w``'s own nodes merged in, re-ranked):
        # a decision costs the candidates it tries, not a scan of every node.
        own: dict[str, int] = {}
        for p in m.pods(w.key):
            if p.dp and p.node is not None and p.state == "running":
                own[p.node] = own.get(p.node, 0) + 1
        if own and not allow_own:
            ranked: Iterator[tuple[int, int, str]] = ((c, 0, n) for c, n in m.busy_dp() if n not in own)
        else:
            mine = sorted((m.nodes[n].dp_bound - c, c, n) for n, c in own.items()
                          if m.nodes[n].devices and m.nodes[n].dp_on and not m.nodes[n].dra_on)
            ranked = heapq.merge(((c, 0, n) for c, n in m.busy_dp() if n not in own), mine)
        later: list[str] = []
        for others, _, name in ranked:
            node = self.m.nodes[name]
            if not self.useful(node, w):
                continue
            if others:
                pods = [p for p in self.m.on_node.get(name, []) if p.dp and p.wl != w.key and p.state != "terminating"]
                if not self._others_fit_elsewhere(name, pods):
                    if allow_own and all(self._planned_later(p.wl) for p in pods):
                        later.append(name)
                    continue
            return name
        # last resort, when the rollout would stall otherwise: a node shared with workloads this plan
        # switches later; their evicted pods stay Pending until their own switch places them on DRA
        if not later:
            return None
        self.evicted |= {p.wl for p in self.m.on_node.get(later[0], []) if p.dp and p.wl != w.key}
        return later[0]

    def _planned_later(self, key: str) -> bool:
        w = self.m.workloads.get(key)
        return w is not None and w.modelled and w.target == "old" and key in self.later and key not in self.protected

    def cut_over(self, wave: int, name: str, why: str) -> None:
        """Turn node ``name`` into DRA capacity (cutover_candidate chose it)."""
        node = self.m.nodes[name]
        before = name in self.cordoned_before
        if before and name not in self.uncordoned:
            self.uncordoned.append(name)
        if node.dra_on:
            self.emit([_step(wave, "uncordon", "Node", name, None,
                             f"{why}: it runs DRA already and was cordoned before this plan; uncordoned so new pods "
                             "can use its devices, and cordoned again when the plan ends", ("uncordon", name),
                             f"kubectl uncordon {name}")])
            return
        self.emit(cutover_steps(wave, name, why, cordoned_before=before, stack=self.stack_for(name)))

    def _others_fit_elsewhere(self, node: str, pods: list[SimPod]) -> bool:
        """Invariant I5: a drained pod must fit on another node under its own template (first fit
        by node name, on the room left by the pods placed before it)."""
        m = self.m
        taken: dict[str, dict[str, int]] = {}
        for p in pods:
            w = m.workloads.get(p.wl)
            if w is not None and w.extended and w.requests:
                continue  # KEP-5004: it comes back with its manifest on a DRA node, this one included
            placed = False
            for name in m.dp_with_room():
                n = m.nodes[name]
                if name == node or n.cordoned or (w is not None and not m.fit_old(w, p, n)):
                    continue
                t = taken.get(name) or {}
                if all((n.dp_alloc[r] - n.dp_used.get(r, 0) if r in n.dp_alloc else 0) - t.get(r, 0) >= k
                       for r, k in p.dp.items()):
                    t = taken.setdefault(name, {})
                    for r, k in p.dp.items():
                        t[r] = t.get(r, 0) + k
                    placed = True
                    break
            if not placed:
                return False
        return True

    # -- the plan ------------------------------------------------------------------------------

    def run(self, decisions: list[WorkloadDecision]) -> None:
        """Plan every workload, then plan again while one is wrong:
        - a rollout that does not complete (pods outside the plan share its nodes and fit nowhere
          else): a user following the runbook would lose replicas for good, so the first such
          workload is blocked and left alone;
        - when that workload's pods were evicted by a last-resort cut-over for an earlier one (it was
          to be switched later), its pods are never evicted instead (then it completes, or the earlier
          workload stalls and is blocked).
        Planning again costs one plan per such workload; none in the common case, and no copy of
        the model per workload (that would make big plans quadratic)."""
        if self.topology is not None and self.topology.cluster_wide:
            self._run_cluster_wide(decisions)
            return
        fields = ("deadlock_without_plan", "switch_strategy", "reason", "blocked", "completed")
        start = [{f: getattr(d, f) for f in fields} for d in decisions]
        self.protected, self.forced = set(), {}
        for _ in range(2 * len(decisions) + 1):
            self.evicted = set()
            self._run(decisions)
            stalled = [d for d in sorted(decisions, key=lambda d: (d.workload.gpus, d.workload.key))
                       if not d.blocked and not d.completed and d.workload.modelled
                       and all(t in self.m.templates for t in d.workload.templates)]  # a missing one is I2's
            if not stalled:
                return
            key = stalled[0].workload.key
            if key in self.evicted and key not in self.protected:
                self.protected.add(key)
            else:
                self.forced[key] = self._stalled_reason(stalled[0].workload, decisions)
            for d, values in zip(decisions, start, strict=True):
                for f, v in values.items():
                    setattr(d, f, v)
            self.m = self.initial.clone()
            self.ex = Executor(self.m)
            self.steps, self.wave, self.uncordoned = [], 0, []

    def _stalled_reason(self, w: Workload, decisions: list[WorkloadDecision]) -> str:
        planned = {d.workload.key for d in decisions if not d.blocked}
        m = self.initial
        mine = {p.node for p in m.pods(w.key) if p.node}
        shared = sorted(mine & {p.node for pods in m.by_wl.values() for p in pods
                                if p.node and p.dp and p.wl not in planned})
        return ("the planner found no order of node cut-overs that gives all its new pods DRA devices without evicting "
                "device-plugin pods this plan does not switch and no other node has room for"
                + (f" (pods outside the plan share {', '.join(shared[:3])}{', ...' if len(shared) > 3 else ''} with it)"
                   if shared else "")
                + "; move those pods, add GPUs or lower replicas first. Not switched")

    def _templates(self, decisions: list[WorkloadDecision]) -> None:
        wave = self.next_wave()
        for t in sorted({t for d in decisions if not d.blocked for t in d.workload.templates}):
            ns, _, name = t.rpartition("/")
            files = [f for f, _ in self.template_files.get(t, ())]
            written = [f for f, new in self.template_files.get(t, ()) if new]
            detail = "before any workload names it" + (
                f" ({', '.join(written)}: written by `dra-migrate rewrite --templates file --write`)" if written else "")
            self.emit([_step(wave, "create", "ResourceClaimTemplate", name, ns or None, detail, ("create_template", t),
                             "kubectl apply" + "".join(f" -f {shlex.quote(f)}" for f in files) if files else "")])

    def _run_cluster_wide(self, decisions: list[WorkloadDecision]) -> None:
        """ClusterPolicy -> GPUCluster: the two cannot coexist (rules/gpu-operator.yaml), so the device
        plugin stops on every node at once and the DRA stack starts on every node at once. No pod may
        hold a device-plugin GPU when DRA starts (invariant I1: the DRA ledger cannot see it), so the
        window is: device plugin off everywhere, every workload switched, every device-plugin pod
        deleted, GPUCluster created; the pods come back on DRA. Nothing runs on GPUs in between."""
        topo = self.topology
        assert topo is not None
        res = operator_profile().nodes.resource
        old, new = stacks()[CLUSTERPOLICY], topo.target  # the kinds of rules/gpu-operator.yaml
        wave = self.next_wave()
        self.emit([_step(wave, "verify", "Cluster", "preflight", None, check, ("verify",))
                   for check in self.preflight])
        self._templates(decisions)
        wave = self.next_wave()
        policies = topo.names(old.kind)
        self.emit([_step(wave, "delete", old.kind, ", ".join(policies) or "(all)", None,
                         "cluster-wide cut-over begins: the GPU Operator removes the device plugin from every node "
                         "(running pods keep their GPUs until they are deleted; none can start on the device plugin)",
                         ("cluster_dp_off",),
                         f"kubectl delete {old.resource} "
                         + (" ".join(policies) if policies else "--all"))])
        # who holds device-plugin GPUs when the window opens: each gets its delete (harmless where
        # its controller already removed them, e.g. Recreate)
        holders = sorted(k for k in self.m.workloads
                         if any(p.dp and p.state != "terminating" and p.node for p in self.m.pods(k)))
        order = sorted(decisions, key=lambda d: (d.workload.gpus, d.workload.key))
        for d in order:
            w = d.workload
            if d.blocked:
                continue
            d.switch_strategy = None
            d.reason = "cluster-wide cut-over to the GPU Operator's GPUCluster: all its pods stop for the window"
            if not w.modelled or w.shared_claim:
                verb = "replace --force" if w.kind in ("Pod", "Job") else "apply"
                self.emit([_step(wave, "update", w.kind, w.name, w.namespace, "switch to claims while nothing runs on "
                                 "GPUs (not modelled: stop its pods if its controller keeps them)", ("unmodelled",),
                                 f"kubectl {verb} -f {shlex.quote(w.file)}")])
                d.completed = True
                continue
            self.emit([_step(wave, "update", w.kind, w.name, w.namespace, "switch the pod template to claims (its new "
                             "pods wait for DRA)", ("switch", w.key),
                             f"kubectl apply -f {shlex.quote(w.file)}  # the rewritten manifest")])
        for key in holders:
            w = self.m.workloads[key]
            ns = w.namespace or "default"
            sel = f" -l {shlex.quote(w.selector)}" if w.selector else ""
            self.emit([_step(wave, "delete", "Pod", f"{w.name} pods", w.namespace,
                             "delete its device-plugin pods (the outage window: PodDisruptionBudgets do not "
                             "apply to a delete); " + ("they come back with the same manifest, served by DRA"
                                                       if w.extended else "they come back from the new template"),
                             ("delete_pods", key), f"kubectl delete pods -n {ns}{sel}")])
        self.emit([
            _step(wave, "wait", old.kind, ", ".join(policies) or "(all)", None,
                  f"until no pod holds a device-plugin GPU and allocatable {res} is 0 on every node "
                  "(never run both managers)", ("wait_dp_zero_all",),
                  "kubectl get nodes -o custom-columns=NAME:.metadata.name,GPU:.status.allocatable."
                  + res.replace(".", "\\.") + "  # expect 0 or <none>"),
        ])
        # DaemonSet pods are bound to their node: were another pod to take that node's device
        # first when DRA starts, they would never run. A cordon keeps every other pod off until
        # they do (the DaemonSet controller tolerates it: model.PNode.cordoned).
        daemons = [d.workload for d in order if d.workload.kind == "DaemonSet" and not d.blocked
                   and d.workload.modelled and d.workload.key in holders]
        fence = [n for n in self.m.names if self.m.nodes[n].devices and not self.m.nodes[n].cordoned] if daemons else []
        fenced = {w.key for w in daemons}
        self.emit([_step(wave, "cordon", "Node", n, None, "until the DaemonSets' pods hold its devices again",
                         ("cordon", n), f"kubectl cordon {n}") for n in fence])
        self.emit([
            _step(wave, "create", new.kind, "gpu-cluster", None,
                  "the GPU Operator's DRA stack on every GPU node (it labels them "
                  f"{topo.target.dra_on})", ("cluster_dra_on",),
                  "kubectl apply -f gpucluster.yaml  # your GPUCluster"
                  + (f": {topo.target.sample}" if topo.target.sample else "")),
            _step(wave, "wait", new.kind, "gpu-cluster", None, "until every GPU node publishes complete "
                  "ResourceSlices (pool resourceSliceCount reached; can take minutes)", ("wait_slices_all",),
                  "kubectl get resourceslices -o wide"),
        ])
        for w in daemons:
            self.emit([_step(wave, "wait", w.kind, w.name, w.namespace, "rollout complete (before the other pods may "
                             "start)", ("wait_rollout", w.key), f"kubectl rollout status {_kubectl_target(w)}")])
        self.emit([_step(wave, "uncordon", "Node", n, None, "", ("uncordon", n), f"kubectl uncordon {n}")
                   for n in fence])
        for d in order:
            w = d.workload
            if d.blocked or not w.modelled or w.shared_claim or w.key in fenced:
                if w.key in fenced:
                    d.completed = self.m.complete(self.m.workloads[w.key])
                continue
            self.emit([_step(wave, "wait", w.kind, w.name, w.namespace, "rollout complete", ("wait_rollout", w.key),
                             f"kubectl rollout status {_kubectl_target(w)}")])
            d.completed = self.m.complete(self.m.workloads[w.key])
        wave = self.next_wave()
        self.emit([_step(wave, "wait", "Cluster", "rollback-window", None,
                         "a rollback is the same window backwards (delete the GPUCluster, create the ClusterPolicy, "
                         "re-apply the old manifests): keep them until the rollback window closes", ("note",))])

    def _run(self, decisions: list[WorkloadDecision]) -> None:
        wave = self.next_wave()
        self.emit([_step(wave, "verify", "Cluster", "preflight", None, check, ("verify",))
                   for check in self.preflight])
        both = sorted(n.name for n in self.m.nodes.values() if n.dp_on and n.dra_on)
        if both:
            wave = self.next_wave()
            for name in both:
                before = name in self.cordoned_before
                steps = cutover_steps(wave, name, "served by both managers: double-allocation hazard",
                                      cordoned_before=before, uncordon=not before, stack=self.stack_for(name))
                self.emit([s for s in steps if s.op[0] != "dra_on"])  # DRA is on already: turn the plugin off
        self._templates(decisions)
        order = sorted(decisions, key=lambda d: (d.workload.gpus, d.workload.key))
        # the keys of the decisions after the current one that are not blocked, kept as counts: a
        # set rebuilt per workload made big plans quadratic (nothing decides another's ``blocked``)
        remaining = collections.Counter(d.workload.key for d in order if not d.blocked)
        later = _Later(remaining)
        for d in order:
            if not d.blocked:
                remaining[d.workload.key] -= 1
                if not remaining[d.workload.key]:
                    del remaining[d.workload.key]
            self.later = later
            self._workload_or_block(d)
        self.later = set()
        self._extended_path()
        wave = self.next_wave()
        rest = sorted(n.name for n in self.m.nodes.values() if n.dp_on and not n.dra_on and n.devices)
        busy = [name for name in rest if self.m.nodes[name].dp_pods]
        if busy:
            self.emit([_step(wave, "wait", "Cluster", "device-plugin-pool", None,
                             f"{len(busy)} node(s) still run device-plugin pods of workloads not in this plan "
                             f"({', '.join(busy[:5])}{'...' if len(busy) > 5 else ''}): cut them over when those pods "
                             "are gone", ("note",))])
        self.emit([_step(wave, "wait", "Cluster", "rollback-window", None,
                         "keep the device-plugin pool and old ReplicaSets until the rollback window closes",
                         ("note",))])
        for name in rest:
            if not self.m.nodes[name].dp_pods:
                before = name in self.cordoned_before
                self.emit(cutover_steps(wave, name, "cleanup: retire the device-plugin pool", cordoned_before=before,
                                        uncordon=not before, stack=self.stack_for(name)))
        for name in self.uncordoned:
            if not self.m.nodes[name].cordoned:
                self.emit([_step(wave, "cordon", "Node", name, None, "restore the cordon it had before this plan (the "
                                 "pods it runs now stay; nothing new is scheduled there)", ("cordon", name),
                                 f"kubectl cordon {name}")])

    def _extended_path(self) -> None:
        """KEP-5004, nodes first: every device-plugin node that runs pods of workloads keeping their
        manifests is cut over; those pods are evicted by the drain (PDBs honoured) and come back with
        the same spec on DRA nodes, this one included once it publishes its devices. Nodes whose other
        device-plugin pods have nowhere to go are left (invariant I5), and so is every node when no
        DeviceClass or gate serves the resource (the preflight says what to change)."""
        ext = {k for k, w in self.m.workloads.items() if w.extended}
        if not ext:
            return
        wave = self.next_wave()
        if not all(self.m.workloads[k].requests for k in ext):
            self.emit([_step(wave, "wait", "Cluster", "kep5004", None, "the KEP-5004 path cannot start: no DeviceClass "
                             "with extendedResourceName serves its workloads on this target (see the preflight); "
                             "their nodes are not switched", ("note",))])
            return
        for name in list(self.m.names):
            node = self.m.nodes[name]
            if not node.dp_on or node.dra_on or not node.devices:
                continue
            bound = [p for p in self.m.on_node.get(name, []) if p.dp and p.state != "terminating"]
            mine = [p for p in bound if p.wl in ext]
            if not mine:
                continue
            others = [p for p in bound if p.wl not in ext]
            if any(p.pinned for p in others) or not self._others_fit_elsewhere(name, others):
                continue
            steps = cutover_steps(wave, name, "KEP-5004 path: its pods of " + ", ".join(sorted({p.wl for p in mine}))
                                  + " keep their manifests and come back on DRA nodes through the mapping DeviceClass",
                                  cordoned_before=name in self.cordoned_before,
                                  uncordon=name not in self.cordoned_before,  # the user's cordon stays
                                  stack=self.stack_for(name))
            # a drain leaves DaemonSet pods: delete them once the plugin is off, so they wait for DRA
            at = next(i for i, s in enumerate(steps) if s.op[0] == "dp_off") + 1
            for wl in sorted({p.wl for p in mine if p.pinned}):
                w = self.m.workloads[wl]
                steps.insert(at, _step(wave, "delete", "Pod", f"{w.name} pod on {name}", w.namespace,
                                       "its DaemonSet recreates it with the same spec; it starts once the node is on DRA",
                                       ("delete_pod", wl, name),
                                       f"kubectl delete pod -n {w.namespace or 'default'} --field-selector "
                                       f"spec.nodeName={name}" + (f" -l {shlex.quote(w.selector)}" if w.selector else "")))
            self.emit(steps)

    def _workload_or_block(self, d: WorkloadDecision) -> None:
        reason = self.forced.get(d.workload.key)
        if reason is not None:  # an earlier pass found that its rollout does not complete
            d.blocked = d.deadlock_without_plan = True
            d.switch_strategy, d.reason = None, reason
        self._workload(d)

    def _workload(self, d: WorkloadDecision) -> None:
        w = d.workload
        if d.blocked:
            self.emit([_step(self.next_wave(), "verify", w.kind, w.name, w.namespace, f"BLOCKED: {d.reason}",
                             ("note",))])
            return
        if w.shared_claim and d.switch_strategy:
            import json

            wave = self.next_wave()
            target = _kubectl_target(w)
            self.emit([
                _step(wave, "update", w.kind, w.name, w.namespace, "temporary strategy Recreate (shared claim)",
                      ("note",), f"kubectl patch {target} --type merge -p '{json.dumps({'spec': {'strategy': d.switch_strategy}})}'"),  # noqa: E501  (the command as printed)
                _step(wave, "update", w.kind, w.name, w.namespace, "switch the pod template to the shared claim",
                      ("unmodelled",), f"kubectl apply -f {shlex.quote(w.file)}"),
                _step(wave, "wait", w.kind, w.name, w.namespace, "rollout complete (all replicas down while it switches)",
                      ("note",), f"kubectl rollout status {target}"),
                _step(wave, "update", w.kind, w.name, w.namespace, "restore the original strategy", ("note",),
                      f"kubectl patch {target} --type merge -p '{json.dumps({'spec': {'strategy': w.strategy or None}})}'"),
            ])
            d.completed = True
            return
        if not w.modelled:
            wave = self.next_wave()
            # A Pod's spec and a Job's pod template cannot be changed in place (the apiserver
            # refuses `apply`: "field is immutable"): they are deleted and created again.
            verb = "replace --force" if w.kind in ("Pod", "Job") else "apply"
            self.emit([_step(wave, "update", w.kind, w.name, w.namespace, d.reason, ("unmodelled",),
                             f"kubectl {verb} -f {shlex.quote(w.file)}")])
            d.completed = True
            return
        wave = self.next_wave()
        ok, _, _ = self.own_strategy_completes(self.m, w)
        while not ok:
            node = self.cutover_candidate(w, allow_own=False)
            if node is None:
                break
            self.cut_over(wave, node, f"DRA capacity for {w.key}")
            ok, _, _ = self.own_strategy_completes(self.m, w)
        if ok:
            d.switch_strategy = None
            self.emit([
                _step(wave, "update", w.kind, w.name, w.namespace, "switch the pod template to claims "
                      "(its own strategy completes)", ("switch", w.key),
                      f"kubectl apply -f {shlex.quote(w.file)}  # the rewritten manifest"),
                _step(wave, "wait", w.kind, w.name, w.namespace, "rollout complete", ("wait_rollout", w.key),
                      f"kubectl rollout status {_kubectl_target(w)}"),
            ])
            d.completed = self.m.complete(self.m.workloads[w.key])
            return
        self._interleave(d, wave)

    def _interleave(self, d: WorkloadDecision, wave: int) -> None:
        """Own strategy would stall: a temporary one, and node cut-overs as old pods leave them."""
        w = d.workload
        field_ = _strategy_field(w)
        target = _kubectl_target(w)
        if w.kind == "Deployment":
            _, U = deployment_fence(w.strategy, w.replicas)
            switch = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": max(1, U)}}
        elif w.kind == "StatefulSet":
            switch = {"type": "RollingUpdate", "rollingUpdate": {"partition": w.replicas}}
        else:
            switch = {"type": "OnDelete"}
        d.switch_strategy = switch
        import json

        if w.kind == "Deployment":
            self.emit(self._deletion_order(w, wave))
        self.emit([
            _step(wave, "update", w.kind, w.name, w.namespace, f"temporary {field_} for the switch: {json.dumps(switch)}",
                  ("strategy", w.key, switch),
                  f"kubectl patch {target} --type merge -p '{json.dumps({'spec': {field_: switch}})}'"),
            _step(wave, "update", w.kind, w.name, w.namespace, "switch the pod template to claims",
                  ("switch", w.key), f"kubectl apply -f {shlex.quote(w.file)}  # the rewritten manifest"),
        ])
        mw = self.m.workloads[w.key]
        if w.kind == "DaemonSet":
            for node in sorted(w.ds_nodes):
                before = node in self.cordoned_before
                steps = cutover_steps(wave, node, f"{w.key}: switch this node's pod", cordoned_before=before,
                                      uncordon=not before, stack=self.stack_for(node))  # DaemonSet pods tolerate the cordon
                delete = _step(wave, "delete", "Pod", f"{w.name} pod on {node}", w.namespace,
                               "recreated from the new template once the node runs DRA",
                               ("delete_pod", w.key, node),
                               f"kubectl delete pod -n {w.namespace or 'default'} --field-selector spec.nodeName={node}"
                               + (f" -l {shlex.quote(w.selector)}" if w.selector else ""))
                self.emit(steps[:2] + [delete] + steps[2:])
        elif w.kind == "StatefulSet":
            for i in range(w.replicas - 1, -1, -1):
                self.emit([_step(wave, "update", w.kind, w.name, w.namespace, f"partition {i}: ordinal {i} moves",
                                 ("partition", w.key, i),
                                 f"kubectl patch {target} --type merge -p '{{\"spec\":{{\"updateStrategy\":"
                                 f"{{\"rollingUpdate\":{{\"partition\":{i}}}}}}}}}'")])
                if not self._ordinal_lands(w, i, wave):
                    break
        else:
            for _ in range(len(self.m.nodes) + 1):
                if self.m.complete(mw):
                    break
                node = self.cutover_candidate(w, allow_own=True)
                if node is None:
                    break
                self.cut_over(wave, node, f"{w.key}: its old pods left this node")
        self.emit([_step(wave, "wait", w.kind, w.name, w.namespace, "rollout complete", ("wait_rollout", w.key),
                         f"kubectl rollout status {target}")])
        restore = w.strategy or None
        self.emit([_step(wave, "update", w.kind, w.name, w.namespace,
                         "restore the original strategy" + ("" if restore else " (remove the temporary one)"),
                         ("strategy", w.key, dict(w.strategy)),
                         f"kubectl patch {target} --type merge -p '{json.dumps({'spec': {field_: restore}})}'")])
        d.completed = self.m.complete(mw)

    def _deletion_order(self, w: Workload, wave: int) -> list[Step]:
        """The order the old ReplicaSet removes its pods, made the plan's: which old pod a
        scale-down deletes is the ReplicaSet controller's choice (ready time, creation time), so
        the plan names the nodes it will cut over by giving their pods rising deletion costs
        (found by tests/e2e/test_rollouts.py: the node the plan named still ran an old pod)."""
        nodes: list[str] = []
        for p in self.m.pods(w.key):
            if p.rev == "old" and p.state == "running" and p.node and p.node not in nodes:
                nodes.append(p.node)
        if len(nodes) < 2:
            return []
        ns = w.namespace or "default"
        sel = f" -l {shlex.quote(w.selector)}" if w.selector else ""
        return [_step(wave, "annotate", "Pod", f"{w.name} pods on {node}", w.namespace,
                      f"pod-deletion-cost {i}: the rollout removes the old pods on {node} "
                      + ("first" if i == 0 else f"after those on {nodes[i - 1]}"),
                      ("deletion_cost", w.key, node, i),
                      f"kubectl annotate pods -n {ns}{sel} --field-selector spec.nodeName={node} "
                      f"controller.kubernetes.io/pod-deletion-cost={i} --overwrite")
                for i, node in enumerate(nodes)]

    def _ordinal_lands(self, w: Workload, i: int, wave: int) -> bool:
        for _ in range(len(self.m.nodes) + 1):
            if any(p.ordinal == i and p.rev == "new" and p.state == "running" for p in self.m.pods(w.key)):
                return True
            node = self.cutover_candidate(w, allow_own=True)
            if node is None:
                return False
            self.cut_over(wave, node, f"{w.key}: DRA capacity for ordinal {i}")
        return False


def prove(initial: Model, steps: list[Step], decisions: list[WorkloadDecision], explain: bool) -> Proof:
    """Replay the plan from the snapshot's state; every workload must complete, I1-I3 must hold."""
    model = initial.clone()
    trace: list[str] = []
    ex = Executor(model, trace if explain else None)
    for step in steps:
        ex.lost = {}
        ex.apply(step)
        step.capacity_lost = {k: v for k, v in ex.lost.items() if v}
    problems = list(ex.problems)
    worst: dict[str, int] = {}
    for s in steps:
        for k, v in s.capacity_lost.items():
            worst[k] = max(worst.get(k, 0), v)
    for d in decisions:
        w = model.workloads[d.workload.key]
        if w.modelled and not d.blocked and not model.complete(w):
            problems.append(f"{w.key} does not complete")
        if w.modelled and d.blocked:
            had, has = (len([p for p in m.pods(w.key) if p.rev == "old" and p.state == "running"]) for m in (initial, model))
            if has < had:  # not switched, so the plan must leave it as it found it
                problems.append(f"{w.key} is not switched, but the plan leaves {has} of its {had} running pod(s)")
        d.capacity_lost = worst.get(w.key, 0)
    for w in sorted((w for w in model.workloads.values() if w.extended and w.modelled and w.requests),
                    key=lambda w: w.key):
        want = len(w.ds_nodes) if w.kind == "DaemonSet" else w.replicas
        running = len([p for p in model.pods(w.key) if p.state == "running"])
        if running < want:
            problems.append(f"{w.key} (KEP-5004 path, manifest unchanged) has {running} of its {want} pod(s) running "
                            "at the end")
    for h in model.hazard_log:
        if f"I1 violated at {h}" not in problems:
            problems.append(f"I1 violated at {h}")
    if model.gated:
        problems += [f"{k}: pods created before their template existed" for k in sorted(model.gated)]
    return Proof(not problems, problems, trace, model.tick_count)
