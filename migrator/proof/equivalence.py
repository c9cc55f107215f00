"""``dra-migrate verify``: prove on a cluster snapshot that each migrated pod can get the same devices.

For every pod template the rewrite converts, two sets of devices are computed from the
snapshot's ResourceSlices:

- *before* (device plugin): the devices of the kind each extended resource denotes
  (``nvidia.com/gpu``: whole GPUs that are not MIG-partitioned, or, on a node whose
  ``nvidia.com/gpu`` is a MIG slice, its MIG devices; ``nvidia.com/mig-<p>``: MIG devices of
  profile ``<p>``) on the nodes the original pod may land on (node selector, required affinity,
  taints/tolerations) that hold at least the requested number;
- *after* (DRA): the devices the claim's requests may be allocated (DeviceClass selectors from
  the snapshot, the request's CEL selectors, every ``firstAvailable`` alternative) on the nodes
  the migrated pod may land on that hold at least the requested number.

They must be equal per resource. What ``nvidia.com/gpu`` is on each node is read from the node
itself (migrator/proof/nodes.py: MIG strategy and product labels, cloud partition and sharing labels,
replicas, the MIG devices it publishes), never from the manifest: a pod whose ``nvidia.com/gpu``
was a MIG slice or a time-slicing/MPS share on a node it may use, and whose claim asks for
something else there (or the reverse), is reported with the node and why, also when its
manifest names no GPU label and when the node is still on the device plugin (no ResourceSlice).
A whole-GPU request that could take a GPU whose MIG mode is on
(dra-driver-nvidia-gpu#719: the driver also publishes MIG-partitioned parents as whole GPUs) is
reported even when the sets agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrator.proof.matcher import DeviceMatcher, has_capacity
from migrator.k8s.podspec import (alternatives, as_list, capacity_requests, claim_requests, count_of,
                              label_of, pod_needs, selector_exprs)
from migrator.proof.cluster import Device, Node, Snapshot, selects, tolerates
from migrator.proof.nodes import (MIG, SHARED, WHOLE, NodeGpu, classify, device_resource as _kind, mig_parents as _mig_parents,
                            node_profile, reachable)

#: Outcome.result values
EQUIVALENT, DIFFERENT, NOTHING = "equivalent", "different", "nothing-to-compare"


@dataclass(frozen=True)
class Outcome:
    workload: str
    where: str
    #: EQUIVALENT (same non-empty device sets), DIFFERENT, or NOTHING: no device is reachable
    #: before or after, so equality proves nothing (a proof over nothing is not a proof)
    result: str
    lines: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.result == EQUIVALENT


class Prover:
    def __init__(self, snapshot: Snapshot, extended_resource_toleration: bool = True) -> None:
        self.snap = snapshot
        #: the ExtendedResourceToleration admission plugin (on in GKE and EKS) adds a NoSchedule
        #: toleration for every extended resource a pod requests (kubernetes/kubernetes#55839;
        #: plugin/pkg/admission/extendedresourcetoleration/admission.go)
        self.ert = extended_resource_toleration
        self.matcher = DeviceMatcher()
        self._gpu: dict[str, NodeGpu] = {}

    def gpu(self, node: Node) -> NodeGpu:
        """What ``nvidia.com/gpu`` is on ``node``, from the node itself (migrator/proof/nodes.py)."""
        if node.name not in self._gpu:
            self._gpu[node.name] = classify(node)
        return self._gpu[node.name]

    def _matches(self, exprs: list[str], d: Device) -> bool | str:
        return self.matcher.match(exprs, d)

    def admitted(self, pod: dict[str, Any]) -> dict[str, Any]:
        """``pod`` as the scheduler sees it: with the plugin's tolerations when it is modelled.

        Applied to the pod before *and* after the rewrite: both go through admission, and the
        rewritten pod still requests its other extended resources (migrator/k8s/tolerations.py).
        """
        if not self.ert:
            return pod
        from migrator.k8s.tolerations import admission_tolerations

        return dict(pod, tolerations=admission_tolerations(pod))

    def before(self, pod: dict[str, Any]) -> tuple[dict[str, set[tuple[str, ...]]], list[tuple[Node, NodeGpu]]]:
        """The devices the device-plugin pod may get per resource, and every node it may land on
        that serves its ``nvidia.com/gpu``, with what that is there (migrator/proof/nodes.py).

        Those nodes count whether the snapshot shows them by their devices (ResourceSlices) or by
        their allocatable ``nvidia.com/gpu`` (a node still on the device plugin)."""
        need = pod_needs(pod)
        pod = self.admitted(pod)
        out: dict[str, set[tuple[str, ...]]] = {r: set() for r in need}
        for node in self.snap.nodes.values():
            if not (selects(pod, node) and tolerates(pod, node)):
                continue
            gpu = self.gpu(node)
            parents = _mig_parents(node)
            by_kind: dict[str, list[Device]] = {}
            for d in node.devices:
                k = _kind(d, parents, gpu.kind == MIG)
                if k:
                    by_kind.setdefault(k, []).append(d)
            if all(len(by_kind.get(r, [])) >= n for r, n in need.items()):
                for r in need:
                    out[r] |= {d.key for d in by_kind.get(r, [])}
        return out, reachable(self.snap.nodes.values(), pod, need, self.gpu)

    def _class_exprs(self, name: str, problems: list[str]) -> list[str]:
        exprs, problem = self.snap.class_exprs(name)
        if problem:
            problems.append(problem)
        return exprs

    def after(self, pod: dict[str, Any], claims: dict[str, dict[str, Any]]) -> tuple[dict[str, set[tuple[str, ...]]], list[str]]:
        problems: list[str] = []
        #: (count, alternatives: (selectors, capacity requests))
        requests: list[tuple[int, list[tuple[list[str], dict[str, str]]]]] = []
        from migrator.text.shape import ShapeError

        for pc in pod.get("resourceClaims") or []:
            obj = claims.get(pc.get("resourceClaimTemplateName") or pc.get("resourceClaimName") or "")
            if obj is None:
                continue
            try:
                reqs = claim_requests(obj)
            except ShapeError as exc:
                problems.append(f"{label_of(obj)}: {exc} (its devices are not counted)")
                continue
            for req in reqs:
                alts = alternatives(req)
                requests.append((count_of(alts[0]), [(self._class_exprs(a.get("deviceClassName") or "", problems) +
                                                      selector_exprs(a), capacity_requests(a)) for a in alts]))
        out: dict[str, set[tuple[str, ...]]] = {}
        pod = self.admitted(pod)
        for node in self.snap.nodes.values():
            if not (selects(pod, node) and tolerates(pod, node)):
                continue
            parents = _mig_parents(node)
            per_request: list[list[Device]] = []
            options: list[tuple[int, list[list[Device]]]] = []  # (count, devices of each alternative)
            for count, alts in requests:
                chosen: list[Device] = []
                usable: list[list[Device]] = []
                for exprs, caps in alts:
                    hits = []
                    for d in node.devices:
                        if caps and not has_capacity(d, caps):
                            continue  # a device without the requested capacity is never allocated
                        m = self._matches(exprs, d)
                        if isinstance(m, str):
                            problems.append(f"{node.name}/{d.name}: selector {m} (allocation would abort)")
                        elif m:
                            hits.append(d)
                    if len(hits) >= count or (caps and hits):
                        chosen += [d for d in hits if d not in chosen]
                        usable.append(hits)
                per_request.append(chosen if len(chosen) >= count or (chosen and all(c for _, c in alts)) else [])
                if not all(c for _, c in alts):  # consumable shares may share a device with another request
                    options.append((count, usable))
            # The allocator gives every request of the pod's claims its own devices: two requests
            # of one each on a one-GPU node do not fit (kube-scheduler's DRA allocator, checked by
            # tests/e2e/test_scheduler_equivalence.py against the real scheduler).
            if requests and all(per_request) and _jointly(options):
                for devs in per_request:
                    for d in devs:
                        out.setdefault(_kind(d, parents, self.gpu(node).kind == MIG) or "other",
                                       set()).add(d.key)
        return out, problems


def _jointly(options: list[tuple[int, list[list[Device]]]], limit: int = 4096) -> bool:
    """Whether some choice of one alternative per request gets every request its count of
    devices, no device twice (a bipartite matching of request slots to devices)."""
    import itertools

    for n, choice in enumerate(itertools.product(*[alts for _, alts in options])):
        if n >= limit:  # more combinations than any real claim has: do not claim it fits
            return False
        slots = [hits for (count, _), hits in zip(options, choice) for _ in range(count)]
        owner: dict[tuple[str, ...], int] = {}

        def place(i: int, seen: set[tuple[str, ...]], slots: list[list[Device]] = slots,
                  owner: dict[tuple[str, ...], int] = owner) -> bool:  # this iteration's, bound: B023
            for d in slots[i]:
                if d.key not in seen:
                    seen.add(d.key)
                    if d.key not in owner or place(owner[d.key], seen):
                        owner[d.key] = i
                        return True
            return False

        if all(place(i, set()) for i in range(len(slots))):
            return True
    return False


def prove_text(text: str, path: str, snap: Snapshot, mode: Any, prover: Prover | None = None) -> list[Outcome]:
    """Migrate ``text`` in memory and compare device sets for every converted pod spec.

    Raises InvalidInput for a file that cannot be read, or (the backstop) that fails unexpectedly.
    """
    from migrator.errors import InvalidInput

    try:
        return _prove_text(text, path, snap, mode, prover)
    except InvalidInput:
        raise
    except Exception as exc:
        from migrator.errors import one_line

        raise InvalidInput(path, None, f"internal error ({one_line(exc)}); not proven (please report this)") from None


def _prove_text(text: str, path: str, snap: Snapshot, mode: Any, prover: Prover | None = None) -> list[Outcome]:
    from migrator.k8s.pairing import migrate

    prover = prover or Prover(snap)
    migrated = migrate(text, path, mode)
    if migrated.unreadable is not None:
        raise migrated.unreadable
    claims = migrated.claims()
    outcomes: list[Outcome] = []
    for pair in migrated.pairs():
        f, pod_before, pod_after = pair.finding, pair.pod_before, pair.pod_after
        b, reached = prover.before(pod_before)
        a, problems = prover.after(pod_after, claims)
        lines: list[str] = _semantics(reached, pod_after, claims)
        for r in sorted(set(b) | set(a)):
            only_b, only_a = b.get(r, set()) - a.get(r, set()), a.get(r, set()) - b.get(r, set())
            if r == "mig-partitioned-gpu" and only_a:
                part = node_profile().partitions
                ref = f" ({part.parents_published_whole_ref})" if part.parents_published_whole_ref else ""
                lines.append(f"could take {len(only_a)} {part.name}-partitioned GPU(s) as whole GPUs: "
                             + ", ".join(f"{k[0]}/{k[3]}" for k in sorted(only_a)) + ref)
                continue
            if only_b:
                lines.append(f"{r}: {len(only_b)} device(s) reachable before, not after: "
                             + ", ".join(f"{k[0]}/{k[3]}" for k in sorted(only_b)))
            if only_a:
                lines.append(f"{r}: {len(only_a)} device(s) reachable after, not before: "
                             + ", ".join(f"{k[0]}/{k[3]}" for k in sorted(only_a)))
        lines += sorted(set(problems))
        result = DIFFERENT if lines else EQUIVALENT
        if not lines:
            n = sum(len(v) for v in b.values())
            nodes = len({k[0] for v in b.values() for k in v})
            if n:
                lines.append(f"same devices before and after: {n} device(s) on {nodes} node(s)")
            else:
                result = NOTHING
                lines.append(f"no device is reachable before or after: {_why_nothing(snap)}; nothing to "
                             "compare, so nothing is proven")
        outcomes.append(Outcome(f.workload, f.where, result, lines))
    return outcomes


def _semantics(reached: list[tuple[Node, NodeGpu]], pod: dict[str, Any], claims: dict[str, dict[str, Any]]) -> list[str]:
    """One line per node where the device-plugin pod's ``nvidia.com/gpu`` was a MIG slice or a
    share and the migrated pod's claim is not (or the reverse), naming the node and why.

    Read from the nodes themselves, not from the manifest: a pod with no GPU label in its node
    selection still lands on such nodes. A claim shared by name (``resourceClaimName``, the
    ``--sharing`` form) that holds GPUs is a share; a template's requests are exclusive devices.
    """
    from migrator.text.shape import ShapeError
    from migrator.tables import load_tables

    gpu_classes = {d.device_class for d in load_tables().devices}  # the classes GPUs become
    shared = shares = False
    classes: set[str] = set()
    for c in [c for c in as_list(pod.get("resourceClaims")) if isinstance(c, dict)]:
        obj = claims.get(c.get("resourceClaimTemplateName") or c.get("resourceClaimName") or "")
        try:
            reqs = claim_requests(obj) if obj is not None else []
        except ShapeError:  # after() reports it
            continue
        mine = {str(alt.get("deviceClassName")) for req in reqs for alt in alternatives(req)} & gpu_classes
        classes |= mine
        # a claim named by the pod (not made per pod from a template) with GPUs: every pod shares them;
        # requests of consumable capacity (shares) take a share of a device other claims share too
        consumable = any(capacity_requests(alt) for req in reqs for alt in alternatives(req))
        shares = shares or bool(mine and consumable)
        shared = shared or bool(mine and (c.get("resourceClaimName") or consumable))
    p = node_profile()
    part = p.partitions
    gets = ("consumable shares of GPUs" if shares else "one shared claim's devices" if shared else
            f"{part.name} devices" if classes == {part.device_class} else
            "whole exclusive GPUs" if classes <= {p.whole_class} else
            f"devices of {', '.join(sorted(classes))}")
    lines = []
    for node, gpu in reached:
        if (gpu.kind == SHARED and not shared) or (gpu.kind == WHOLE and shared) or \
                (gpu.kind == MIG and not shared and part.device_class not in classes):
            lines.append(f"{node.name}: {p.nodes.resource} there is {gpu.describe()}; the migrated pod gets {gets}")
    return lines


def _why_nothing(snap: Snapshot) -> str:
    if not snap.nodes:
        return "the snapshot has no nodes"
    if not any(True for _ in snap.devices()):
        return ("the snapshot has no ResourceSlice devices (verify names devices by the DRA driver's "
                "ResourceSlices: take the snapshot where the driver publishes them)")
    return "no node this pod may use publishes the devices it asks for"
