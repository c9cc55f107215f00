"""The consumable-shares form of `--sharing timeslicing` judged by the real scheduler (1.37, where
DRAConsumableCapacity is on by default): pods whose claims ask `capacity.requests.shares: 1` land on
a GPU that publishes `shares` with `allowMultipleAllocations`, as many as it has shares, and never on
a GPU without them (the NVIDIA driver's ConsumableShares: kubernetes-sigs/dra-driver-nvidia-gpu
cmd/gpu-kubelet-plugin/consumable_shares.go)."""

from __future__ import annotations

import textwrap
import time
from typing import Any

import yaml

from migrator.engine import migrate_text
from migrator.k8s.kube import releases
from migrator.mode import Mode, api_version_for

NS = "e2e-shares"
SHARES = 2
PODS = 3  # one more than the shares


def _node(name: str) -> dict[str, Any]:
    alloc = {"cpu": "64", "memory": "256Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "e2e-shares": name}},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def _slice(node: str, shares: bool) -> dict[str, Any]:
    # what the driver publishes with consumableShares=N: shares = N, one per request by default
    dev: dict[str, Any] = {"name": "gpu-0", "attributes": {"type": {"string": "gpu"},
                                                           "uuid": {"string": f"GPU-{node}"}},
                           "capacity": {"memory": {"value": "16Gi"}}}
    if shares:
        dev["allowMultipleAllocations"] = True
        # as the driver does for consumableShares=N: a claim takes no memory unless it asks (a
        # capacity without a request policy is consumed whole by every claim)
        dev["capacity"]["memory"]["requestPolicy"] = {"default": "0", "validRange": {
            "min": "0", "max": "16Gi", "step": "1Mi"}}
        dev["capacity"]["shares"] = {"value": str(SHARES), "requestPolicy": {
            "default": "1", "validRange": {"min": "1", "max": str(SHARES), "step": "1"}}}
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": f"{node}-gpu"},
            "spec": {"driver": "gpu.nvidia.com", "nodeName": node,
                     "pool": {"name": node, "generation": 1, "resourceSliceCount": 1}, "devices": [dev]}}


CLASS = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
         "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && "
                                                       "device.attributes['gpu.nvidia.com'].type == 'gpu'"}}]}}

POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: nb, namespace: e2e-shares}
    spec:
      containers:
      - name: jupyter
        image: jupyter
        resources:
          limits: {nvidia.com/gpu.shared: 1}
    """)


def test_pods_share_a_gpu_by_its_consumable_shares(control_plane: Any) -> None:
    from kubernetes import client
    from kubernetes.dynamic import DynamicClient

    out = migrate_text(POD, "nb.yaml", Mode(api_version=api_version_for("1.37"), kube_version="1.37",
                                            sharing="timeslicing"))
    docs = [d for d in yaml.safe_load_all(out.text) if d]
    (template,) = [d for d in docs if d["kind"] == "ResourceClaimTemplate"]
    (pod,) = [d for d in docs if d["kind"] == "Pod"]
    dyn = DynamicClient(control_plane.api_client)
    core = client.CoreV1Api(control_plane.api_client)
    if not releases().gate("DRAConsumableCapacity", control_plane.version):
        # why the shares form is written only from 1.36: here the gate is off and the apiserver
        # drops the request's capacity, which would make it an exclusive whole GPU
        res = dyn.resources.get(api_version="resource.k8s.io/v1", kind="ResourceClaimTemplate")
        kept = res.create(body=dict(template, metadata={"name": "probe", "namespace": "default"}),
                          namespace="default", query_params=[("dryRun", "All")]).to_dict()
        (req,) = kept["spec"]["spec"]["devices"]["requests"]
        assert "capacity" not in req["exactly"], req
        return
    core.create_namespace({"metadata": {"name": NS}})
    # no service-account controller runs: the ServiceAccount admission plugin wants the default one
    core.create_namespaced_service_account(NS, {"metadata": {"name": "default"}})
    created: list[tuple[str, str]] = []
    try:
        for obj in [CLASS, _node("shares-1"), _slice("shares-1", True), _node("plain-1"), _slice("plain-1", False),
                    template]:
            res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            try:
                res.create(body=obj, namespace=obj["metadata"].get("namespace") if res.namespaced else None)
                created.append((obj["kind"], obj["metadata"]["name"]))
            except client.exceptions.ApiException as e:
                if e.status != 409:
                    raise
        names = []
        for i in range(PODS):
            p = dict(pod, metadata={"name": f"nb-{i}", "namespace": NS})
            p["spec"] = dict(p["spec"], automountServiceAccountToken=False, terminationGracePeriodSeconds=0)
            core.create_namespaced_pod(NS, p)
            names.append(f"nb-{i}")
        deadline = time.monotonic() + 60
        while True:
            pods = [core.read_namespaced_pod(n, NS) for n in names]
            bound = [p for p in pods if p.spec.node_name]
            if len(bound) >= SHARES or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        time.sleep(3)  # the pod beyond the shares stays Pending (the scheduler retries it)
        pods = [core.read_namespaced_pod(n, NS) for n in names]
        nodes = sorted(p.spec.node_name for p in pods if p.spec.node_name)
        assert nodes == ["shares-1"] * SHARES, nodes  # never the GPU without shares
        claims = client.CustomObjectsApi(control_plane.api_client).list_namespaced_custom_object(
            "resource.k8s.io", "v1", NS, "resourceclaims")["items"]
        devices = {(r["pool"], r["device"]) for c in claims
                   for r in ((c.get("status") or {}).get("allocation") or {}).get("devices", {}).get("results", [])}
        assert devices == {("shares-1", "gpu-0")}, devices  # one GPU, one share per pod
    finally:
        core.delete_namespace(NS)
        for kind, name in reversed(created):
            if kind in ("Node", "ResourceSlice", "DeviceClass"):
                res = dyn.resources.get(api_version="v1" if kind == "Node" else "resource.k8s.io/v1", kind=kind)
                try:
                    res.delete(name=name)
                except client.exceptions.ApiException:
                    pass
