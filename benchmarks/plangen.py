"""Synthetic planner inputs: N device-plugin workloads on M nodes (some already on DRA)."""

from __future__ import annotations

from typing import Any

import yaml


def cluster(workloads: int, nodes: int, gpus_per_node: int = 8,
            dra_fraction: float = 0.2) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Manifests (one file per 50 workloads) and snapshot objects.

    Workloads (1-3 replicas of one GPU) run on device-plugin nodes packed in order; a fraction
    of nodes already runs the DRA driver with free GPUs, so some workloads move as they are and
    others need node cut-overs first. Sized so that every workload fits: 1.1 GPUs per workload on
    average against the device-plugin nodes' GPUs (5 workloads per 8-GPU node fills ~86%).
    """
    objs: list[dict[str, Any]] = [{
        "apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
        "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && "
                                                      "device.attributes['gpu.nvidia.com'].type == 'gpu'"}}]}}]
    n_dra = int(nodes * dra_fraction)
    dp_nodes = []
    for i in range(nodes):
        name = f"node-{i:05d}"
        labels = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.memory": "81559"}
        if i < n_dra:
            objs.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                         "status": {"allocatable": {}, "nodeInfo": {"kubeletVersion": "v1.35.2"}}})
            objs.append({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                         "metadata": {"name": f"{name}-gpu"},
                         "spec": {"driver": "gpu.nvidia.com", "nodeName": name,
                                  "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                                  "devices": [{"name": f"gpu-{g}", "attributes": {
                                      "type": {"string": "gpu"}, "productName": {"string": "NVIDIA H100 80GB HBM3"}},
                                      "capacity": {"memory": {"value": "81559Mi"}}} for g in range(gpus_per_node)]}})
        else:
            objs.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                         "status": {"allocatable": {"nvidia.com/gpu": str(gpus_per_node)},
                                    "nodeInfo": {"kubeletVersion": "v1.35.2"}}})
            dp_nodes.append(name)
    docs: list[str] = []
    slot = 0
    capacity = len(dp_nodes) * gpus_per_node
    for w in range(workloads):
        replicas = 2 if w % 10 == 0 else 1
        name = f"w{w:05d}"
        spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}},
                                             "spec": {"containers": [{"name": "c", "image": "x", "resources": {
                                                 "limits": {"nvidia.com/gpu": 1}}}]}}}
        if w % 4 == 0:
            spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
        docs.append(yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment",
                                    "metadata": {"name": name, "namespace": "ml"}, "spec": spec}))
        for r in range(replicas):
            if slot < capacity:
                node = dp_nodes[slot // gpus_per_node]
                slot += 1
                objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
                    "name": f"{name}-rs-{r}", "namespace": "ml",
                    "ownerReferences": [{"kind": "ReplicaSet", "name": f"{name}-rs", "controller": True}]},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x",
                                                               "resources": {"limits": {"nvidia.com/gpu": 1}}}]},
                    "status": {"phase": "Running"}})
    files = [(f"wl-{i // 50:04d}.yaml", "---\n".join(docs[i:i + 50])) for i in range(0, len(docs), 50)]
    return files, objs
