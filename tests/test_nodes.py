"""migrator/proof/nodes.py: what a device-plugin nvidia.com/gpu is on a node, read from the node; and verify
flags every pod whose nvidia.com/gpu was a MIG slice or a share on a node it may use, GPU labels in
its manifest or not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.cli import main
from migrator.proof.cluster import Node, snapshot_from_objects
from migrator.proof.nodes import MIG, NONE, SHARED, UNKNOWN, WHOLE, classify

# Nodes on which nvidia.com/gpu is a whole GPU: (labels, allocatable nvidia.com/gpu or None, devices)
WHOLE_BASES: dict[str, tuple[dict[str, str], str | None, tuple[str, ...]]] = {
    "GFD T4": ({"nvidia.com/gpu.product": "Tesla-T4", "nvidia.com/gpu.count": "4"}, "4", ()),
    "GFD H100 with sharing none": ({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.replicas": "1",
                                    "nvidia.com/gpu.sharing-strategy": "none"}, "8", ()),
    "GKE L4": ({"cloud.google.com/gke-accelerator": "nvidia-l4"}, "1", ()),
    "EKS by Karpenter count": ({"karpenter.k8s.aws/instance-gpu-count": "8"}, "8", ()),
    "MIG mixed, whole GPUs beside": ({"nvidia.com/mig.strategy": "mixed"}, "2", ()),
    "DRA node publishing whole GPUs": ({}, None, ("gpu", "gpu")),
    "GFD T4 on a DRA node": ({"nvidia.com/gpu.product": "Tesla-T4"}, None, ("gpu",)),
}
# Labels that make nvidia.com/gpu a share, whatever else the node says (rules/resources.yaml sharingLabels)
SHARE_SIGNALS = {
    "-SHARED product": {"nvidia.com/gpu.product": "Tesla-T4-SHARED"},
    "GFD replicas 4": {"nvidia.com/gpu.replicas": "4"},
    "GFD replicas 10": {"nvidia.com/gpu.replicas": "10"},
    "GFD time-slicing": {"nvidia.com/gpu.sharing-strategy": "time-slicing"},
    "GFD mps": {"nvidia.com/gpu.sharing-strategy": "mps"},
    "GKE time-sharing": {"cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
                         "cloud.google.com/gke-max-shared-clients-per-gpu": "3"},
    "GKE mps": {"cloud.google.com/gke-gpu-sharing-strategy": "mps"},
    "GKE max clients only": {"cloud.google.com/gke-max-shared-clients-per-gpu": "2"},
}
# Labels that make nvidia.com/gpu a MIG slice (single strategy), and the profile they name
MIG_SIGNALS = {
    "GFD -MIG- product": ({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb"}, "1g.10gb"),
    "GFD A100 80GB -MIG-": ({"nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe-MIG-2g.20gb"}, "2g.20gb"),
    "GFD A100 -MIG-": ({"nvidia.com/gpu.product": "A100-SXM4-40GB-MIG-3g.20gb"}, "3g.20gb"),
    "GKE partition": ({"cloud.google.com/gke-gpu-partition-size": "1g.5gb"}, "1g.5gb"),
    "GKE partition 2g": ({"cloud.google.com/gke-gpu-partition-size": "2g.10gb"}, "2g.10gb"),
    "mig.strategy single": ({"nvidia.com/mig.strategy": "single"}, None),
}
# Labels that say nothing against a whole GPU
NEUTRAL = {
    "replicas 1": {"nvidia.com/gpu.replicas": "1"},
    "replicas 0 (MIG-enabled GPU labels)": {"nvidia.com/gpu.replicas": "0"},
    "sharing none": {"nvidia.com/gpu.sharing-strategy": "none"},
    "zone": {"topology.kubernetes.io/zone": "a"},
    "present": {"nvidia.com/gpu.present": "true"},
}


def device(name: str, kind: str, profile: str | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"type": {"string": kind}, "uuid": {"string": f"GPU-{name}"}}
    if profile:
        attrs.update(profile={"string": profile}, parentUUID={"string": "GPU-parent"})
    return {"name": name, "attributes": attrs, "capacity": {"memory": {"value": "10Gi"}}}


def node_objects(name: str, labels: dict[str, str], alloc: str | None, devices: list[dict[str, Any]]) -> list[dict]:
    node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
    if alloc is not None:
        node["status"] = {"allocatable": {"nvidia.com/gpu": alloc}}
    out = [node]
    if devices:
        out.append({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": f"{name}-s"},
                    "spec": {"driver": "gpu.nvidia.com", "nodeName": name,
                             "pool": {"name": name, "resourceSliceCount": 1}, "devices": devices}})
    return out


def build(labels: dict[str, str], alloc: str | None, devices: list[dict[str, Any]]) -> Node:
    return snapshot_from_objects(node_objects("n", labels, alloc, devices)).nodes["n"]


@settings(max_examples=300, deadline=None)
@given(base=st.sampled_from(sorted(WHOLE_BASES)), shares=st.sets(st.sampled_from(sorted(SHARE_SIGNALS)), max_size=2),
       migs=st.sets(st.sampled_from(sorted(MIG_SIGNALS)), max_size=1),
       neutral=st.sets(st.sampled_from(sorted(NEUTRAL)), max_size=2), mig_devices=st.booleans())
def test_classification_from_the_node(base: str, shares: set[str], migs: set[str], neutral: set[str],
                                      mig_devices: bool) -> None:
    labels, alloc, kinds = WHOLE_BASES[base]
    labels = dict(labels)
    for n in sorted(neutral):
        labels.update(NEUTRAL[n])
    for m in sorted(migs):
        labels.update(MIG_SIGNALS[m][0])
    for s in sorted(shares):
        labels.update(SHARE_SIGNALS[s])
    devices = [device(f"gpu-{i}", k) for i, k in enumerate(kinds)]
    if mig_devices:
        devices += [device(f"mig-{i}", "mig", "2g.20gb") for i in range(2)]
    got = classify(build(labels, alloc, devices))
    share_labels = {k for s in shares for k in SHARE_SIGNALS[s]}
    # a later signal may overwrite an earlier one's label (two product values): the survivor decides
    still_shared = any(labels.get(k) == v for s in shares for k, v in SHARE_SIGNALS[s].items())
    still_mig = [m for m in migs if all(labels.get(k) == v for k, v in MIG_SIGNALS[m][0].items())]
    if still_shared:
        assert got.kind == SHARED, (labels, got)
        assert any(k in got.reason for k in share_labels)
    elif still_mig:
        assert got.kind == MIG, (labels, got)
        profile = MIG_SIGNALS[still_mig[0]][1]
        if profile:
            assert got.profiles == (profile,)
        elif mig_devices:
            assert got.profiles == ("2g.20gb",)  # the slices the node publishes name it
        else:
            assert got.profiles == ()
    elif mig_devices and base == "DRA node publishing whole GPUs" and not set(labels) & {"nvidia.com/gpu.product"}:
        assert got.kind in (WHOLE, UNKNOWN)  # MIG devices beside whole GPUs, no strategy label
    else:
        assert got.kind == WHOLE, (labels, got)


@pytest.mark.parametrize("labels,alloc,want", [
    ({"nvidia.com/gpu.count": "1"}, "4", SHARED),  # 4 replicas of 1 GPU (dra-api.md §5.2)
    ({"karpenter.k8s.aws/instance-gpu-count": "2"}, "20", SHARED),
    ({"nvidia.com/gpu.count": "7", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb"}, "7", MIG),
    ({}, "4", UNKNOWN),  # no label says what they are
    ({"nvidia.com/gpu.present": "true"}, None, UNKNOWN),
    ({"kubernetes.io/arch": "amd64"}, None, NONE),
])
def test_counts_and_unknowns(labels: dict[str, str], alloc: str | None, want: str) -> None:
    assert classify(build(labels, alloc, [])).kind == want


# --- verify: a plain nvidia.com/gpu pod (no GPU label in its manifest) ----------------------------------

PLAIN = """apiVersion: apps/v1
kind: Deployment
metadata: {name: plain}
spec:
  template:
    spec:
      containers:
      - name: c
        image: x
        resources: {limits: {nvidia.com/gpu: 1}}
"""


def verify_one(objs: list[dict], tmp_path: Path, capsys: Any, *flags: str) -> dict[str, Any]:
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs}))
    wl = tmp_path / "wl.yaml"
    wl.write_text(PLAIN)
    code = main(["verify", str(wl), "--cluster", str(snap), "--format", "json", *flags])
    data = json.loads(capsys.readouterr().out)
    (w,) = data["workloads"]
    return dict(w, code=code)


WHOLE_NODE = node_objects("whole-1", {"nvidia.com/gpu.product": "Tesla-T4"}, None, [device("gpu-0", "gpu")])


@pytest.mark.parametrize("signal", sorted(SHARE_SIGNALS))
@pytest.mark.parametrize("published", [True, False], ids=["dra-node", "device-plugin-node"])
def test_verify_flags_a_share_the_manifest_does_not_name(signal: str, published: bool, tmp_path: Path,
                                                         capsys: Any) -> None:
    labels = {"nvidia.com/gpu.product": "Tesla-T4", **SHARE_SIGNALS[signal]}
    shared = node_objects("ts-1", labels, None if published else "4", [device("gpu-0", "gpu")] if published else [])
    w = verify_one(WHOLE_NODE + shared, tmp_path, capsys)
    assert w["result"] == "different" and w["code"] == 1, w
    line = next(d for d in w["details"] if d.startswith("ts-1: "))
    assert "share" in line and "whole exclusive GPUs" in line and next(iter(SHARE_SIGNALS[signal])) in line


@pytest.mark.parametrize("signal", sorted(MIG_SIGNALS))
@pytest.mark.parametrize("published", [True, False], ids=["dra-node", "device-plugin-node"])
def test_verify_flags_a_mig_slice_the_manifest_does_not_name(signal: str, published: bool, tmp_path: Path,
                                                             capsys: Any) -> None:
    labels, profile = MIG_SIGNALS[signal]
    migs = [device(f"mig-{i}", "mig", profile or "1g.10gb") for i in range(3)]
    mig = node_objects("mig-1", labels, None if published else "3", migs if published else [])
    w = verify_one(WHOLE_NODE + mig, tmp_path, capsys)
    assert w["result"] == "different", w
    line = next(d for d in w["details"] if d.startswith("mig-1: "))
    assert "MIG" in line and next(iter(labels)) in line
    if published:  # and the device sets say the same: the slices are lost
        assert any("reachable before, not after" in d and "mig-1/mig-0" in d for d in w["details"])


@pytest.mark.parametrize("base", sorted(WHOLE_BASES))
def test_verify_whole_nodes_stay_equivalent(base: str, tmp_path: Path, capsys: Any) -> None:
    labels, alloc, kinds = WHOLE_BASES[base]
    objs = node_objects("w", labels, alloc, [device(f"gpu-{i}", k) for i, k in enumerate(kinds)] or
                        [device("gpu-0", "gpu")])
    w = verify_one(objs, tmp_path, capsys)
    assert w["result"] == "equivalent", w


def test_a_shared_claim_on_whole_gpus_is_the_reverse_change() -> None:
    from migrator.proof.equivalence import _semantics
    from migrator.proof.nodes import NodeGpu

    def claim(kind: str, name: str, cls: str) -> dict[str, Any]:
        spec = {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": cls}}]}}
        return {"apiVersion": "resource.k8s.io/v1", "kind": kind, "metadata": {"name": name},
                "spec": {"spec": spec} if kind == "ResourceClaimTemplate" else spec}

    node = Node("w1")
    pod = {"resourceClaims": [{"name": "gpu", "resourceClaimName": "one-for-all"}]}
    claims = {"one-for-all": claim("ResourceClaim", "one-for-all", "gpu.nvidia.com")}
    lines = _semantics([(node, NodeGpu(WHOLE, "x"))], pod, claims)
    assert lines and lines[0].startswith("w1: ") and "shared claim" in lines[0]
    assert _semantics([(node, NodeGpu(SHARED, "x"))], pod, claims) == []
    # a claim by name that holds no GPU (an IMEX channel) beside the pod's own GPU template is no share
    pod = {"resourceClaims": [{"name": "imex", "resourceClaimName": "channel"},
                              {"name": "gpu", "resourceClaimTemplateName": "t"}]}
    claims = {"channel": claim("ResourceClaim", "channel", "compute-domain-default-channel.nvidia.com"),
              "t": claim("ResourceClaimTemplate", "t", "gpu.nvidia.com")}
    assert _semantics([(node, NodeGpu(WHOLE, "x"))], pod, claims) == []
    lines = _semantics([(node, NodeGpu(SHARED, "x"))], pod, claims)
    assert lines and "whole exclusive GPUs" in lines[0]
