"""KEP-5004: may a workload keep its manifest and be served by DRA through a DeviceClass with
``extendedResourceName``, or must it be rewritten? One decision, used by rewrite, scan and plan.

The decision reads the rewrite's finished plan for the pod (what the rules would turn it into):
whatever the rewrite has to say in the claim that a DeviceClass mapping cannot say is a reason to
rewrite. Vendor facts (which class maps which resource, what no class maps) are in each vendor
profile's ``deviceClasses[].kep5004`` and ``kep5004.unmapped`` (rules/vendors/*.yaml).

The gate's default per release is in rules/kubernetes.yaml.

How the scheduler serves them (kubernetes v1.35.4 and v1.37.2
pkg/scheduler/framework/plugins/dynamicresources/extendeddynamicresources.go):
- a container request for an extended resource whose name is a DeviceClass's
  spec.extendedResourceName (or deviceclass.resource.kubernetes.io/<class>) is served by DRA on a
  node whose allocatable has none of it, and by the device plugin on a node that has it
  (filterExtendedResources): nodes can switch one at a time, manifests untouched;
- the scheduler creates one ResourceClaim per pod (annotation resource.kubernetes.io/extended-resource-claim,
  owned by the pod) with one ExactCount request of that class per long-lived container and resource
  (app containers and restartPolicy: Always init containers): the class's selectors only, so no
  per-pod attribute selection, firstAvailable, opaque config or sharing;
- a non-sidecar init container reuses whole requests of the long-lived containers declared after
  it, in order, until they cover its count (createResourceRequestAndMappings), then one extra
  request, the largest shortfall of all init containers, which every needy init container maps:
  an init container can see more devices than it asked for (the device plugin gives it exactly k);
- node selection is not changed: labels the DRA nodes no longer carry leave the pod Pending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: --migration-path values (cli, config file, KRM functionConfig)
PATHS = ("auto", "rewrite", "extended-resource")
GATE = "DRAExtendedResource"


@dataclass(frozen=True, slots=True)
class VendorClass:
    resource: str
    device_class: str
    shipped_by: str
    missing_from: str
    fix: str


@dataclass(frozen=True, slots=True)
class Facts:
    classes: dict[str, VendorClass]
    unmapped: tuple[tuple[re.Pattern[str], str], ...]

    def unmapped_why(self, resource: str) -> str | None:
        return next((why for pattern, why in self.unmapped if pattern.search(resource)), None)


def facts() -> Facts:
    """Every vendor profile's DeviceClasses that map a device-plugin resource with
    ``extendedResourceName`` and what no class maps (rules/vendors/*.yaml ``kep5004``; a
    ``--vendor-file`` profile's too)."""
    from migrator.tables import load_tables

    vendors = load_tables().vendors
    hit = _FACTS.get(id(vendors))
    if hit is None or hit[0] is not vendors:
        hit = _FACTS[id(vendors)] = (vendors, _facts(vendors))
    return hit[1]


_FACTS: dict[int, tuple[Any, Facts]] = {}  #: per loaded set of profiles (the tables are cached too)


def _facts(vendors: Any) -> Facts:
    classes: dict[str, VendorClass] = {}
    unmapped: list[tuple[re.Pattern[str], str]] = []
    for p in vendors.first():
        for c in p.device_classes:
            if c.extended_resource_name and c.kep5004 is not None:
                classes[c.extended_resource_name] = VendorClass(
                    c.extended_resource_name, c.name, c.kep5004.shipped_by, c.kep5004.missing_from or "",
                    c.kep5004.fix or f"create a DeviceClass with extendedResourceName: {c.extended_resource_name}")
        unmapped += list(p.kep5004_unmapped)
    return Facts(classes, tuple(unmapped))


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether a converted pod could keep its manifest under KEP-5004, and why (or why not)."""

    eligible: bool
    reason: str
    #: device-plugin resource -> count of the pod (what the scheduler's claim would ask for)
    resources: tuple[tuple[str, int], ...] = ()


def decide(ctx: Any, plan: Any, known: dict[str, str] | None = None) -> Eligibility:
    """``ctx``/``plan``: a pod's PodContext and its finished, unblocked PodPlan. ``known``: resource ->
    DeviceClass name of the mapping classes the input or the cluster holds (a class of the user's
    may map a resource no vendor class does, e.g. a MIG profile)."""
    known = known or {}
    f = facts()
    counts: dict[str, int] = {}
    for r in plan.requests:
        counts[r.resource] = counts.get(r.resource, 0) + r.count
    resources = tuple(sorted(counts.items()))

    def no(reason: str) -> Eligibility:
        return Eligibility(False, reason, resources)

    if plan.sharing:
        kind = next((p.opaque_config.sharing_kind for r in plan.requests
                     if (p := ctx.tables.vendor_of(r.resource)) is not None and p.opaque_config is not None), None)
        return no(f"sharing ({plan.sharing}): the rewrite writes a shared claim with the driver's {kind}; "
                  "a DeviceClass mapping gives each pod whole devices of its own and carries no per-workload config")
    if plan.shares:
        return no("sharing (consumable shares): the rewrite asks one share of a GPU per container; a DeviceClass "
                  "mapping gives each pod whole devices of its own (no capacity request)")
    if plan.mig_single:
        single = ctx.tables.single_partition_profile()
        part, res = single.partitions.name, single.nodes.resource
        return no(f"single-strategy {part}: {res} is a {part} slice on the nodes it selects, and "
                  f"the class mapping {res} serves whole GPUs")
    for res in counts:
        if res in known:
            continue
        why = f.unmapped_why(res)
        if why is not None:
            return no(why)
        if res not in f.classes:
            return no(f"{res}: no vendor DeviceClass maps it with extendedResourceName")
    for r in plan.requests:
        v = f.classes.get(r.resource)
        if r.resource not in known and v is not None and r.device_class != v.device_class:
            return no(f"{r.resource} is served from {r.device_class} here (the rewrite's reading of the node "
                      f"selection), not from {v.device_class}, which maps the resource")
    leaving = leaving_labels(ctx, plan)
    if leaving:
        return no(f"attribute selection ({', '.join(leaving)}): the claim the scheduler makes asks only for the "
                  "class's devices, and these GPU labels may not be published on DRA nodes; the rewrite moves them "
                  "into the claim's selectors")
    bad = init_mismatch(ctx)
    if bad is not None:
        return no(bad)
    served = ", ".join(f"{res} x {n} by DeviceClass {known.get(res) or f.classes[res].device_class}"
                       for res, n in resources)
    return Eligibility(True, f"can keep its manifest: {served} through extendedResourceName (KEP-5004)", resources)


def leaving_labels(ctx: Any, plan: Any) -> list[str]:
    """GPU labels the pod's node selection names (any term, preferences too) that do not stay on DRA
    nodes: GFD's, and any the rule packs do not know. Labels a rule marks ``remove: false`` (cloud and
    Karpenter labels that autoscalers read, GPU Operator's gpu.present) are the node's own and keep
    selecting the same nodes, so the class's whole GPUs there are the ones the pod got; anything the
    translation could not say (``kept``) counts as leaving."""
    t = plan.translation
    if t is None and not plan.remove_selector_keys:
        return []
    from migrator.k8s.selection import all_reqs, families, label_rules

    rules = label_rules(str(ctx.tables.source))
    fam = families(str(ctx.tables.source))
    out = sorted({key for key, _, _ in all_reqs(ctx.pod_data())
                  if (key in rules or fam.is_gpu_label(key)) and (key not in rules or rules[key].remove)})
    out += sorted(set(plan.remove_selector_keys) - set(out))
    if not out and t is not None and t.kept:
        out = [t.kept[0]]
    return out


def init_mismatch(ctx: Any) -> str | None:
    """The first init container that the scheduler's extended-resource claim would give another
    number of devices than the device plugin does (it gives exactly what the container asks).

    The scheduler's wiring, as in kubernetes v1.37.2 extendeddynamicresources.go
    createRequestsAndMappings: each long-lived container (app, or init with restartPolicy: Always)
    gets its own request; a short-lived init container i takes whole requests of the long-lived
    containers at indices >= i in order until they cover its count, and every init container that
    still falls short maps the one extra request of the largest shortfall."""
    order: list[tuple[str, bool, dict[str, int]]] = []  #: (name, long-lived, resource -> count) in index order
    for section in ("initContainers", "containers"):
        for c in (c for c in ctx.containers if c.section == section):
            need = {a.resource: a.count for a in ctx.asks
                    if a.section == section and a.index == c.index and a.count}
            order.append((c.name, section == "containers" or c.sidecar, need))
    for res in sorted({r for _, _, need in order for r in need}):
        long_req = [need.get(res) if long else None for _, long, need in order]
        seen: list[tuple[str, int, int, int]] = []  #: (name, asked, reused, own shortfall)
        for i, (name, long, need) in enumerate(order):
            k = need.get(res, 0)
            if long or not k:
                continue
            reused = 0
            for r in long_req[i:]:
                if r:
                    reused += r
                    if reused >= k:
                        break
            seen.append((name, k, reused, max(0, k - reused)))
        extra = max((s for *_, s in seen), default=0)
        for name, k, reused, short in seen:
            got = reused + (extra if short else 0)
            if got != k:
                return (f"init-container semantics: the scheduler's claim would give init container {name!r} {got} "
                        f"{res} device(s) (it reuses whole requests of the containers after it), the device plugin "
                        f"gives it {k}")
    return None


def mapping_classes(snapshot: Any) -> dict[str, str]:
    """resource -> a cluster snapshot's DeviceClass that maps it with ``extendedResourceName`` (usable
    ones). For Mode.extended_classes: ``plan`` uses it, and so can any command that reads a cluster.

    A resource several classes map is left out: the scheduler serves it from the newest one
    (dynamic-resource-allocation v0.37.2 deviceclass/extendedresourcecache, creationTimestamp, then
    the lower name), which a snapshot may not say; ``ambiguous`` names them."""
    return {res: names[0] for res, names in _mappings(snapshot).items() if len(names) == 1}


def ambiguous(snapshot: Any) -> dict[str, list[str]]:
    return {res: names for res, names in _mappings(snapshot).items() if len(names) > 1}


def _mappings(snapshot: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, cls in sorted(snapshot.device_classes.items()):
        if cls.extended_resource_name and not cls.problem:
            out.setdefault(cls.extended_resource_name, []).append(name)
    return out


def gate_on(kube_version: str) -> bool:
    from migrator.k8s.kube import releases

    return releases().gate(GATE, kube_version)


def gate_text(kube_version: str) -> str:
    from migrator.k8s.kube import releases

    g = releases().gates[GATE]
    if gate_on(kube_version):
        return f"{GATE} is on by default in {kube_version}"
    return (f"{GATE} is off by default in {kube_version} (on from {g.first()}): enable it on kube-apiserver, "
            "kube-scheduler, kube-controller-manager and kubelet")


def class_text(resources: tuple[tuple[str, int], ...], known: dict[str, str]) -> str:
    """What serves the resources, or what to create when the cluster shows no mapping class."""
    f = facts()
    parts: list[str] = []
    for res, _ in resources:
        if res in known:
            parts.append(f"DeviceClass {known[res]} maps {res}")
            continue
        v = f.classes.get(res)
        if v is None:
            parts.append(f"no DeviceClass maps {res}: create one with extendedResourceName: {res}")
        else:
            parts.append(f"needs a DeviceClass with extendedResourceName: {res} ({v.device_class} from "
                         f"{v.shipped_by} has it; {v.missing_from}: {v.fix})")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Choice:
    leave: bool  #: keep the manifest (KEP-5004) instead of rewriting it
    status: str = ""  #: "skipped" (served) or "manual" (left as asked, but the gate must be turned on first)
    message: str = ""
    warn: bool = False  #: no DeviceClass that maps the resources is known: check one exists first
    note: str = ""  #: when rewritten although the user asked for the extended-resource path


def choose(path: str, kube_version: str, e: Eligibility, known: dict[str, str]) -> Choice:
    """``auto`` keeps the manifest only when it is sure the pod is served: the target turns the gate on
    by default and a DeviceClass the input or the cluster holds maps every resource the pod asks for.
    ``extended-resource`` keeps every eligible manifest and says what is missing; ``rewrite`` never does."""
    if path == "rewrite":
        return Choice(False)
    if not e.eligible:
        return Choice(False, note=f"rewritten, not left to KEP-5004: {e.reason}" if path == "extended-resource" else "")
    mapped = all(res in known for res, _ in e.resources)
    on = gate_on(kube_version)
    if path == "auto" and not (on and mapped):
        return Choice(False)
    what = ", ".join(f"{res} x {n}" for res, n in e.resources)
    base = (f"left as it is for KEP-5004: {what} is served from DRA on nodes without device-plugin capacity "
            f"and by the device plugin elsewhere ({class_text(e.resources, known)}; {gate_text(kube_version)})")
    return Choice(True, "skipped" if on else "manual", base, warn=not mapped)
