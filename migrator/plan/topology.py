"""Which GPU Operator install the snapshot shows, and how the plan switches its nodes.

Two installs (rules/gpu-operator.yaml, with their sources):
- ``clusterpolicy``: the device plugin under a ClusterPolicy and the DRA driver chart beside it;
  nodes are switched one at a time by labels, so rollouts and cut-overs interleave;
- ``gpucluster``: the operator's DRA stack. It cannot coexist with a ClusterPolicy, so moving to
  it is one cluster-wide cut-over: every device-plugin pod stops for the window.

The snapshot shows the install by its custom resources (read from a file snapshot or live), else by
the deploy labels each stack's node labeller sets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

AUTO, CLUSTERPOLICY, GPUCLUSTER = "auto", "clusterpolicy", "gpucluster"
CHOICES = (AUTO, CLUSTERPOLICY, GPUCLUSTER)


@dataclass(frozen=True)
class Stack:
    name: str
    kind: str  #: the custom resource that installs it
    api_version: str
    path: str  #: where the API serves the resource (read live)
    per_node: bool  #: nodes can be switched one at a time
    device_plugin_off: str | None  #: "key=value" that stops the device plugin on one node
    dra_on: str  #: "key=value" that runs the DRA kubelet plugin on one node
    labels: tuple[str, ...]  #: node labels this stack's labeller sets
    sample: str | None = None  #: where the operator ships an example of the resource (``sample``)
    #: the tracking issue when the stack's whole-device DeviceClass has no extendedResourceName
    no_extended_resource_name: str | None = None

    @property
    def resource(self) -> str:
        """kubectl's ``<plural>.<group>`` name of the install resource (from ``path`` and ``apiVersion``)."""
        return f"{self.path.rstrip('/').rsplit('/', 1)[1]}.{self.api_version.split('/')[0]}"


@dataclass(frozen=True)
class Topology:
    """What the snapshot shows and what the plan targets."""

    shown: str  #: clusterpolicy | gpucluster | both | unknown
    evidence: str  #: how the snapshot shows it, for the runbook
    target: Stack  #: the stack the nodes end on
    cluster_wide: bool  #: one cut-over for the whole cluster (ClusterPolicy -> GPUCluster)
    objects: tuple[tuple[str, str], ...]  #: (kind, name) of the operator's resources in the snapshot

    def names(self, kind: str) -> list[str]:
        return [n for k, n in self.objects if k == kind]


@functools.lru_cache(maxsize=1)
def stacks() -> dict[str, Stack]:
    from migrator.tables import gpu_operator

    data = gpu_operator()
    out: dict[str, Stack] = {}
    for name, row in data["stacks"].items():
        obj = data["objects"][row["object"]]
        out[name] = Stack(name, row["object"], obj["apiVersion"], obj["path"], bool(row["per_node"]),
                          row.get("device_plugin_off"), row["dra_on"], tuple(row.get("labels") or ()),
                          obj.get("sample"), row.get("no_extended_resource_name"))
    return out


def operator_profile() -> Any:
    """The vendor profile of the GPUs the operator installs (rules/gpu-operator.yaml ``vendor``): the
    nodes its stacks switch, the device-plugin resource (``nodes.resource``) the runbook checks and
    the node labels (``nodeLabels``) the plan reads a device-plugin node's future DRA devices from."""
    from migrator.tables import gpu_operator, load_tables

    vendor = gpu_operator()["vendor"]
    prof = load_tables().vendors.by_vendor(vendor)
    if prof is None or prof.nodes is None:
        raise ValueError(f"rules/gpu-operator.yaml: vendor {vendor!r} has no profile with a nodes block "
                         "(rules/vendors/*.yaml)")
    return prof


def detect(snap: Any, choice: str = AUTO) -> Topology:
    """The install the snapshot shows and the plan's target. ``choice``: ``auto`` keeps the shown
    install (a ClusterPolicy one when nothing shows), ``clusterpolicy`` / ``gpucluster`` name the
    target (from a ClusterPolicy, ``gpucluster`` is the cluster-wide cut-over)."""
    all_ = stacks()
    objects = tuple(sorted(getattr(snap, "operator_objects", ()) or ()))
    kinds = {k for k, _ in objects}
    by_kind = {s.kind: s for s in all_.values()}
    shown_objs = sorted(by_kind[k].name for k in kinds if k in by_kind)
    if len(shown_objs) > 1:
        shown = "both"
        evidence = "the snapshot holds both " + " and ".join(f"{k} {', '.join(n for kk, n in objects if kk == k)}"
                                                            for k in sorted(kinds))
    elif shown_objs:
        shown = shown_objs[0]
        kind = all_[shown].kind
        evidence = f"the snapshot holds {kind} {', '.join(n for k, n in objects if k == kind)}"
    else:
        labelled = {name: sorted(n.name for n in snap.nodes.values() if any(lbl in n.labels for lbl in s.labels))
                    for name, s in all_.items()}
        found = [name for name, nodes in labelled.items() if nodes]
        if len(found) == 1:
            shown = found[0]
            nodes = labelled[shown]
            evidence = (f"no operator resource in the snapshot; {len(nodes)} node(s) carry the {shown} stack's "
                        f"deploy labels ({', '.join(nodes[:3])}{', ...' if len(nodes) > 3 else ''})")
        elif found:
            shown = "both"
            evidence = "no operator resource in the snapshot; nodes carry deploy labels of both stacks"
        else:
            shown = "unknown"
            evidence = ("no GPU Operator resource or deploy label in the snapshot (the device plugin may be "
                        "installed another way: the node steps use the GPU Operator's labels)")
    if choice == AUTO:
        target = all_[GPUCLUSTER] if shown == GPUCLUSTER else all_[CLUSTERPOLICY]
    else:
        target = all_[choice]
    cluster_wide = target.name == GPUCLUSTER and shown != GPUCLUSTER
    return Topology(shown, evidence, target, cluster_wide, objects)
