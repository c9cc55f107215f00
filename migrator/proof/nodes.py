"""What a device-plugin ``nvidia.com/gpu`` is on one node of a snapshot, read from the node itself.

One classifier for ``verify`` and ``rewrite --cluster``: from a snapshot Node (labels, allocatable
and the devices of its ResourceSlices) it says whether ``nvidia.com/gpu`` there is

- ``whole``: a whole, exclusive GPU;
- ``mig``: a MIG slice (the device plugin's single strategy, or a GKE MIG node pool), with the
  profiles the node's labels or MIG devices name (none when nothing names them);
- ``shared``: a time-slicing/MPS replica (GFD sharing labels, ``-SHARED`` products, GKE sharing
  pools, or more ``nvidia.com/gpu`` advertised than the node has GPUs);
- ``unknown``: the node serves ``nvidia.com/gpu`` but nothing on it says which;
- ``none``: the node has no NVIDIA GPU at all.

The facts are data: rules/nodes.yaml, and the share and MIG labels of rules/resources.yaml and
rules/clouds/*.yaml that the rewrite reads on pods.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from migrator.proof.cluster import Device, Node, allocatable_count

WHOLE, MIG, SHARED, UNKNOWN, NONE = "whole", "mig", "shared", "unknown", "none"


@dataclass(frozen=True, slots=True)
class NodeGpu:
    """What ``nvidia.com/gpu`` is on one node, and why the classifier says so."""

    kind: str  #: WHOLE, MIG, SHARED, UNKNOWN or NONE
    reason: str
    profiles: tuple[str, ...] = ()  #: MIG: the slices' profiles (empty: not named on the node)

    def describe(self) -> str:
        part = node_profile().partitions.name
        if self.kind == MIG:
            what = f"a {part} {' or '.join(self.profiles)} slice" if self.profiles else \
                f"a {part} slice of an unnamed profile"
        else:
            what = {WHOLE: "a whole exclusive GPU", SHARED: "a time-slicing/MPS share of a GPU",
                    UNKNOWN: f"not known (a whole GPU, a {part} slice or a share)", NONE: "not served"}[self.kind]
        return f"{what} ({self.reason})"


@dataclass(frozen=True, slots=True)
class NodeFacts:
    resource: str
    strategy_label: str
    strategy_single: str
    strategy_whole: frozenset[str]
    product_label: str
    count_labels: tuple[str, ...]
    whole_evidence: tuple[str, ...]


@functools.cache
def _cloud_rows(directory: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """rules/nodes.yaml's count and whole-evidence labels: the clouds', not a vendor's."""
    data = yaml.load((Path(directory) / "nodes.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return (tuple(r["label"] for r in data.get("countLabels") or ()),
            tuple(r["label"] for r in data.get("wholeEvidence") or ()))


def node_facts(tables: Any = None) -> NodeFacts:
    """The node profile's ``nodes`` block (rules/vendors/*.yaml; the vendor rules/nodes.yaml names)
    with the clouds' count and whole-evidence labels of rules/nodes.yaml after its own."""
    if tables is None:
        from migrator.tables import load_tables

        tables = load_tables()
    n = node_profile(tables).nodes
    counts, whole = _cloud_rows(str(tables.source))
    return NodeFacts(n.resource, n.strategy.label, n.strategy.single, frozenset(n.strategy.whole),
                     n.partition_product.label, tuple(r.label for r in n.count_labels) + counts,
                     tuple(r.label for r in n.whole_evidence) + whole)


def node_profile(tables: Any = None) -> Any:
    """The vendor profile of the resource this module reads off a node: the one whose
    ``nodes.resource`` is rules/nodes.yaml's ``resource`` (with ``nodes.strategy`` and
    ``partitions``: rules/vendors/*.yaml). Its driver, device types, partition attributes and
    resource names are what a node's devices and labels are read with."""
    if tables is None:
        from migrator.tables import load_tables

        tables = load_tables()
    return tables.node_profile()


def _says(rule: Any, value: str) -> bool:
    """Does a node's ``value`` of a sharingLabels row (tables.SharingLabel) mean a share or a slice?"""
    if rule.domain == "integer":
        v = value.strip()
        return v.lstrip("-").isdigit() and int(v) >= rule.minimum
    return bool(rule.value.search(value))


def mig_parents(node: Node) -> set[str]:
    """Identities of the devices the node publishes partitions of (their parents are partitioned):
    the node profile's ``partitions.parentAttribute`` of its partition devices."""
    p = node_profile()
    dom, parent = p.attribute_domain, p.partitions.parent_attribute
    kind = p.device_types.attribute
    return {str(d.attr(parent, dom)) for d in node.devices
            if d.attr(kind, dom) == p.device_types.partition and d.attr(parent, dom)}


def _typed(d: Device, p: Any, kind: str | None) -> bool:
    """A device of the profile's driver whose ``deviceTypes.attribute`` is ``kind``."""
    return d.driver == p.driver and d.attr(p.device_types.attribute, p.attribute_domain) == kind


def classify(node: Node, tables: Any = None) -> NodeGpu:
    """What ``nvidia.com/gpu`` is on ``node`` (see the module docstring)."""
    from migrator.k8s.selection import families
    from migrator.tables import load_tables

    tables = tables or load_tables()
    facts = node_facts(tables)
    p = node_profile(tables)
    part = p.partitions.name
    labels = node.labels
    fam = families(str(tables.source))

    shares: dict[str, list[str]] = {}  # meaning -> the labels that say it
    for r in tables.sharing_labels:
        if not r.mig and r.label in labels and _says(r, labels[r.label]):
            shares.setdefault(r.meaning, []).append(f"{r.label}={labels[r.label]}")
    if shares:
        return NodeGpu(SHARED, "; ".join(f"{', '.join(v)}: {k}" for k, v in shares.items()))

    served = facts.resource in node.allocatable
    advertised = allocatable_count(node, facts.resource) if served else 0
    migs = [d for d in node.devices if _typed(d, p, p.device_types.partition)]
    gpus = [d for d in node.devices if _typed(d, p, p.device_types.whole)]

    # single-strategy MIG: the strategy label, GFD's -MIG-<profile> product, a cloud partition label
    single: list[str] = []
    profiles: set[str] = set()
    strategy = labels.get(facts.strategy_label)
    if strategy == facts.strategy_single:
        single.append(f"{facts.strategy_label}={strategy}")
    product = labels.get(facts.product_label, "")
    m = p.partitions.product_pattern.match(product) if p.partitions.product_pattern is not None else None
    if m:
        single.append(f"{facts.product_label}={product}")
        profiles.add(m.group("profile"))
    for label, pattern in fam.partitions:
        if label in labels:
            single.append(f"{label}={labels[label]}")
            if pattern.fullmatch(labels[label]):
                profiles.add(labels[label])
    if single:
        if not profiles:  # the slices the node publishes say which (dra-api.md §4.2 `profile`)
            pa = p.partitions.profile_attribute
            profiles = {str(d.attr(pa, p.attribute_domain)) for d in migs if d.attr(pa, p.attribute_domain)}
        return NodeGpu(MIG, ", ".join(single), tuple(sorted(profiles)))

    for label in facts.count_labels:
        count = labels.get(label, "")
        if served and count.isdigit() and advertised > int(count):
            return NodeGpu(SHARED, f"it advertises {advertised} {facts.resource} for {label}={count} GPUs: "
                                   "replicas")
    if strategy in facts.strategy_whole:
        return NodeGpu(WHOLE, f"{facts.strategy_label}={strategy}")
    evidence = [label for label in facts.whole_evidence if label in labels]
    if evidence:
        return NodeGpu(WHOLE, f"{evidence[0]}={labels[evidence[0]]} and no {part} or sharing label")
    for label in facts.count_labels:
        count = labels.get(label, "")
        if served and count.isdigit() and advertised == int(count):
            return NodeGpu(WHOLE, f"{advertised} {facts.resource} for {label}={count} GPUs")
    if gpus and not migs:
        # the DRA driver publishes whole GPUs as type gpu (dra-api.md §4.2); a share or a slice is
        # a device-plugin notion no label here records
        return NodeGpu(WHOLE, "its ResourceSlices publish whole GPUs only")
    present = p.nodes.present_label
    if served or gpus or migs or (present is not None and labels.get(present) == "true"):
        have = (f"{advertised} {facts.resource} allocatable" if served else
                f"{part} devices but no {part} strategy label" if migs else f"{p.name} GPUs")
        return NodeGpu(UNKNOWN, f"it has {have}; no GFD or cloud label says what they are")
    return NodeGpu(NONE, f"no {p.name} GPU")


def device_resource(dev: Device, parents: set[str], single: bool = False) -> str | None:
    """The device-plugin resource that would have exposed this published device, if any.

    ``single``: the node's ``nvidia.com/gpu`` is a MIG slice (``classify``). MIG resources write
    the profile's '+' as '.' (dra-api.md §5.1); a GPU whose MIG devices are published is
    ``mig-partitioned-gpu``: older drivers publish such parents as whole GPUs too
    (kubernetes-sigs/dra-driver-nvidia-gpu#719), the device plugin never served them whole.
    """
    p = node_profile()
    if dev.driver != p.driver:
        return other_vendor_resource(dev)
    part, dom = p.partitions, p.attribute_domain
    t = dev.attr(p.device_types.attribute, dom)
    if t == p.device_types.partition:
        if single:
            return p.nodes.resource
        name = str(dev.attr(part.profile_attribute, dom) or "?")
        if part.resource_from_profile is not None:
            name = name.replace(*part.resource_from_profile)
        return f"{part.resource_prefix or ''}{name}"
    if t == p.device_types.whole:
        return "mig-partitioned-gpu" if dev.attr(part.identity_attribute or "", dom) in parents else p.nodes.resource
    return None


def other_vendor_resource(dev: Device) -> str | None:
    """For a device of another vendor's DRA driver, the device-plugin resource that exposed it, from
    its profile (rules/vendors/*.yaml): a whole device is the whole-device row whose selector it
    matches (Intel's i915 or xe by the bound driver), a partition is the partition prefix plus its
    profile attribute when a partition row's pattern takes that name (AMD's ``amd.com/cpx_nps4``)."""
    from migrator.tables import load_tables

    t = load_tables()
    prof = next((p for p in t.vendors.profiles if p.driver == dev.driver), None)
    if prof is None:
        return None
    kind = dev.attr(prof.device_types.attribute, prof.attribute_domain)
    matcher = _matcher()
    for row in t.devices:
        if row.vendor != prof.vendor:
            continue
        if row.kind == "whole" and row.name and kind == prof.device_types.whole:
            if row.selector is None or matcher.matches([row.selector.format()], dev):
                return row.name
        elif row.kind == "partition" and row.pattern is not None and prof.partitions is not None \
                and prof.device_types.partition is not None and kind == prof.device_types.partition:
            profile = dev.attr(prof.partitions.profile_attribute, prof.attribute_domain)
            name = f"{prof.partitions.resource_prefix or ''}{profile}"
            if profile is not None and row.pattern.match(name):
                return name
    return None


def _matcher() -> Any:
    # a fresh matcher (its caches are keyed by device name, unique only within one snapshot); the
    # compiled selectors are shared
    from migrator.proof.matcher import DeviceMatcher

    return DeviceMatcher(_evaluator())


@functools.cache
def _evaluator() -> Any:
    from migrator.k8s.cel import Evaluator

    return Evaluator()


def offered(node: Node, gpu: NodeGpu, resource: str) -> int:
    """How many of ``resource`` the node hands out: its allocatable when it runs the device
    plugin, else the published devices that would be them."""
    if resource in node.allocatable:
        return allocatable_count(node, resource)
    parents = mig_parents(node)
    return sum(1 for d in node.devices if device_resource(d, parents, gpu.kind == MIG) == resource)


def serving(node: Node, gpu: NodeGpu) -> int:
    return offered(node, gpu, node_profile().nodes.resource)


def reachable(nodes: Any, pod: dict[str, Any], need: dict[str, int],
              gpu_of: Any = None) -> list[tuple[Node, NodeGpu]]:
    """The nodes a device-plugin pod that asks for ``nvidia.com/gpu`` may land on: its node
    selection and tolerations admit them (``pod`` as admission left it) and they hand out all it
    needs; each with what its ``nvidia.com/gpu`` is. Empty when the pod asks for none."""
    from migrator.proof.cluster import selects, tolerates

    if not need.get(node_profile().nodes.resource):
        return []
    gpu_of = gpu_of or classify
    out = []
    for node in nodes:
        if selects(pod, node) and tolerates(pod, node):
            gpu = gpu_of(node)
            if all(offered(node, gpu, r) >= n for r, n in need.items()):
                out.append((node, gpu))
    return out


def mig_profiles(node: Node) -> set[str]:
    """MIG profiles the node offers in any form: published devices, or mixed-strategy resources
    (``nvidia.com/mig-<p>``, '+' written as '.': dra-api.md §5.1)."""
    import re

    p = node_profile()
    part, dom = p.partitions, p.attribute_domain
    out = {str(d.attr(part.profile_attribute, dom)) for d in node.devices
           if _typed(d, p, p.device_types.partition) and d.attr(part.profile_attribute, dom)}
    prefix = part.resource_prefix
    if not prefix:
        return out
    # the partition row's profileFromResource turns a resource suffix back into the profile
    row = next((r for r in p.resources if r.kind == "partition" and r.device_class == part.device_class), None)
    undo = row.profile_replace if row is not None else None
    for name in node.allocatable:
        if name.startswith(prefix) and allocatable_count(node, name):
            out.add(re.sub(undo[0], undo[1], name[len(prefix):]) if undo else name[len(prefix):])
    return out
