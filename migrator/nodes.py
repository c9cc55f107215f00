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

from migrator.cluster import Device, Node, allocatable_count

WHOLE, MIG, SHARED, UNKNOWN, NONE = "whole", "mig", "shared", "unknown", "none"


@dataclass(frozen=True, slots=True)
class NodeGpu:
    """What ``nvidia.com/gpu`` is on one node, and why the classifier says so."""

    kind: str  #: WHOLE, MIG, SHARED, UNKNOWN or NONE
    reason: str
    profiles: tuple[str, ...] = ()  #: MIG: the slices' profiles (empty: not named on the node)

    def describe(self) -> str:
        if self.kind == MIG:
            what = f"a MIG {' or '.join(self.profiles)} slice" if self.profiles else "a MIG slice of an unnamed profile"
        else:
            what = {WHOLE: "a whole exclusive GPU", SHARED: "a time-slicing/MPS share of a GPU",
                    UNKNOWN: "not known (a whole GPU, a MIG slice or a share)", NONE: "not served"}[self.kind]
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
def node_facts(directory: str) -> NodeFacts:
    data = yaml.load((Path(directory) / "nodes.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    strategy = data["migStrategy"]
    return NodeFacts(data["resource"], strategy["label"], strategy["single"], frozenset(strategy["whole"]),
                     data["migProduct"]["label"], tuple(r["label"] for r in data["countLabels"]),
                     tuple(r["label"] for r in data["wholeEvidence"]))


def _says(rule: Any, value: str) -> bool:
    """Does a node's ``value`` of a sharingLabels row (tables.SharingLabel) mean a share or a slice?"""
    if rule.domain == "integer":
        v = value.strip()
        return v.lstrip("-").isdigit() and int(v) >= rule.minimum
    return bool(rule.value.search(value))


def mig_parents(node: Node) -> set[str]:
    """UUIDs of GPUs the node publishes MIG devices of (their parents are MIG-partitioned)."""
    return {str(d.attr("parentUUID")) for d in node.devices if d.attr("type") == "mig" and d.attr("parentUUID")}


def _nvidia(d: Device) -> bool:
    return d.driver == "gpu.nvidia.com"


def classify(node: Node, tables: Any = None) -> NodeGpu:
    """What ``nvidia.com/gpu`` is on ``node`` (see the module docstring)."""
    from migrator.selection import MIG_PRODUCT, families
    from migrator.tables import load_tables

    tables = tables or load_tables()
    facts = node_facts(str(tables.source))
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
    migs = [d for d in node.devices if _nvidia(d) and d.attr("type") == "mig"]
    gpus = [d for d in node.devices if _nvidia(d) and d.attr("type") == "gpu"]

    # single-strategy MIG: the strategy label, GFD's -MIG-<profile> product, a cloud partition label
    single: list[str] = []
    profiles: set[str] = set()
    strategy = labels.get(facts.strategy_label)
    if strategy == facts.strategy_single:
        single.append(f"{facts.strategy_label}={strategy}")
    product = labels.get(facts.product_label, "")
    m = MIG_PRODUCT.match(product) if "-MIG-" in product else None
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
            profiles = {str(d.attr("profile")) for d in migs if d.attr("profile")}
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
        return NodeGpu(WHOLE, f"{evidence[0]}={labels[evidence[0]]} and no MIG or sharing label")
    for label in facts.count_labels:
        count = labels.get(label, "")
        if served and count.isdigit() and advertised == int(count):
            return NodeGpu(WHOLE, f"{advertised} {facts.resource} for {label}={count} GPUs")
    if gpus and not migs:
        # the DRA driver publishes whole GPUs as type gpu (dra-api.md §4.2); a share or a slice is
        # a device-plugin notion no label here records
        return NodeGpu(WHOLE, "its ResourceSlices publish whole GPUs only")
    if served or gpus or migs or labels.get("nvidia.com/gpu.present") == "true":
        have = (f"{advertised} {facts.resource} allocatable" if served else
                "MIG devices but no MIG strategy label" if migs else "NVIDIA GPUs")
        return NodeGpu(UNKNOWN, f"it has {have}; no GFD or cloud label says what they are")
    return NodeGpu(NONE, "no NVIDIA GPU")


def serving(node: Node, gpu: NodeGpu, tables: Any = None) -> int:
    """How many ``nvidia.com/gpu`` the node hands out: its allocatable when it runs the device
    plugin, else the devices that would be them (MIG slices under the single strategy, else whole
    GPUs that are not MIG-partitioned)."""
    from migrator.tables import load_tables

    facts = node_facts(str((tables or load_tables()).source))
    if facts.resource in node.allocatable:
        return allocatable_count(node, facts.resource)
    parents = mig_parents(node)
    want = "mig" if gpu.kind == MIG else "gpu"
    return sum(1 for d in node.devices if _nvidia(d) and d.attr("type") == want
               and not (want == "gpu" and d.attr("uuid") in parents))


def mig_profiles(node: Node) -> set[str]:
    """MIG profiles the node offers in any form: published devices, or mixed-strategy resources
    (``nvidia.com/mig-<p>``, '+' written as '.': dra-api.md §5.1)."""
    import re

    out = {str(d.attr("profile")) for d in node.devices if _nvidia(d) and d.attr("type") == "mig" and d.attr("profile")}
    for name in node.allocatable:
        if name.startswith("nvidia.com/mig-") and allocatable_count(node, name):
            out.add(re.sub(r"^(.*?gb)\.", r"\1+", name[len("nvidia.com/mig-"):]))
    return out
