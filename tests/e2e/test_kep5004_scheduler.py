"""The real scheduler serves unchanged `nvidia.com/gpu` pods from DRA (KEP-5004) the way
migrator/proof/kep5004.py says: on 1.37 a pod on a node without device-plugin capacity gets a claim of
the mapping DeviceClass, and each init container sees the devices the decision predicts (the
decision calls a pod ineligible exactly when some init container would see another count than it
asked for); on 1.35 (gate off by default) it stays Pending, which is why `auto` rewrites there.

Each pod gets a node of its own (a DRA node: no `nvidia.com/gpu` allocatable, a ResourceSlice of
16 whole GPUs), so no two pods compete.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from migrator.engine import migrate_text
from migrator.mode import Mode
from test_kep5004 import container, manifest, scheduler_devices
from test_scheduler_equivalence import DEVICE_CLASSES, _condition, _create, _pool_run

TIMEOUT = 90.0
DEVICES = 16

#: (is init, is sidecar, count) in init-then-app order
TABLE: list[list[tuple[bool, bool, int]]] = [
    [(False, False, 1)],
    [(False, False, 2), (False, False, 1)],
    [(True, False, 1), (False, False, 1)],
    [(True, False, 1), (False, False, 2)],  # reuses the request of 2: sees 2
    [(True, False, 3), (False, False, 1)],  # 1 reused + 2 extra
    [(True, False, 2), (True, False, 3), (False, False, 1)],  # both short: both map the largest extra
    [(True, True, 1), (True, False, 1), (False, False, 1)],  # sidecar before: not reusable by the init
    [(True, False, 1), (True, True, 1), (False, False, 2)],  # reuses the sidecar after it
]
rng = random.Random(5004)
for _ in range(16):
    inits = [(True, rng.random() < 0.3, rng.randint(0, 3)) for _ in range(rng.randint(0, 3))]
    apps = [(False, False, rng.randint(0, 3)) for _ in range(rng.randint(1, 2))]
    if not any(k for *_, k in inits + apps):
        apps[0] = (False, False, 1)
    TABLE.append(inits + apps)


def pod_spec(layout: list[tuple[bool, bool, int]]) -> dict[str, Any]:
    pod: dict[str, Any] = {"initContainers": [], "containers": []}
    for i, (init, side, k) in enumerate(layout):
        extra = {"restartPolicy": "Always"} if side else {}
        pod["initContainers" if init else "containers"].append(
            container(f"c{i}", {"nvidia.com/gpu": k} if k else {}, **extra))
    if not pod["initContainers"]:
        del pod["initContainers"]
    return pod


@pytest.fixture(scope="module")
def served(control_plane: Any) -> dict[int, tuple[Any, Any]]:
    from kubernetes import client
    from kubernetes.dynamic import DynamicClient

    from controlplane import SCHEDULING_MISSING

    if control_plane.minor in SCHEDULING_MISSING:
        pytest.skip(SCHEDULING_MISSING[control_plane.minor])
    dynamic = DynamicClient(control_plane.api_client)
    core = client.CoreV1Api(control_plane.api_client)
    for dc in DEVICE_CLASSES:  # gpu.nvidia.com maps nvidia.com/gpu, as the driver chart ships it
        _create(dynamic, dc)
    ns = "kep5004"
    objs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
    pods = []
    for i, layout in enumerate(TABLE):
        node = f"kep5004-{i}"
        alloc = {"cpu": "64", "memory": "512Gi", "pods": "110"}
        objs.append({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node, "e2e-group": "kep5004"}},
                     "status": {"capacity": alloc, "allocatable": alloc,
                                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
        objs.append({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                     "metadata": {"name": f"{node}-gpu.nvidia.com"},
                     "spec": {"driver": "gpu.nvidia.com", "nodeName": node,
                              "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
                              "devices": [{"name": f"gpu-{d}", "attributes": {"type": {"string": "gpu"}}}
                                          for d in range(DEVICES)]}})
        spec = dict(pod_spec(layout), nodeSelector={"kubernetes.io/hostname": node})
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"p{i}", "namespace": ns, "labels": {"e2e-kep5004": "yes"}}, "spec": spec})
    for o in objs:
        _create(dynamic, o)
    _create(dynamic, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}})
    _pool_run(lambda o: _create(dynamic, o), pods)
    deadline = time.monotonic() + TIMEOUT
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = {p.metadata.name: p for p in core.list_namespaced_pod(ns, label_selector="e2e-kep5004").items}
        done = [p for p in state.values() if _condition(p)[0] == "True" and p.status.extended_resource_claim_status]
        if control_plane.minor != "1.35" and len(done) == len(pods):
            break
        if control_plane.minor == "1.35" and len(state) == len(pods) and \
                all(_condition(p)[0] == "False" for p in state.values()):
            break
        time.sleep(0.5)
    rc = dynamic.resources.get(api_version="resource.k8s.io/v1", kind="ResourceClaim")
    claims = {c["metadata"]["name"]: c for c in rc.get(namespace=ns).to_dict()["items"]}
    yield {i: (state.get(f"p{i}"), claims) for i in range(len(TABLE))}
    core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
    for name in list(rc.get(namespace=ns).to_dict()["items"]):
        rc.delete(name=name["metadata"]["name"], namespace=ns)
    for i in range(len(TABLE)):
        dynamic.resources.get(api_version="resource.k8s.io/v1", kind="ResourceSlice").delete(
            name=f"kep5004-{i}-gpu.nvidia.com")
    core.delete_collection_node(label_selector="e2e-group=kep5004")
    for dc in DEVICE_CLASSES:  # the next module's cases bring their own class of the same name
        dynamic.resources.get(api_version="resource.k8s.io/v1", kind="DeviceClass").delete(name=dc["metadata"]["name"])


@pytest.mark.parametrize("i", range(len(TABLE)))
def test_the_scheduler_serves_unchanged_pods_as_the_decision_says(control_plane: Any, served: Any, i: int) -> None:
    layout = TABLE[i]
    pod, claims = served[i]
    assert pod is not None
    if control_plane.minor == "1.35":  # DRAExtendedResource is alpha and off: nothing serves it from DRA
        assert _condition(pod)[0] == "False", _condition(pod)
        return
    status, message = _condition(pod)
    assert status == "True", message
    ers = pod.status.extended_resource_claim_status
    claim = claims[ers.resource_claim_name]
    counts = {r["name"]: r["exactly"]["count"] for r in claim["spec"]["devices"]["requests"]}
    assert all(r["exactly"]["deviceClassName"] == "gpu.nvidia.com" for r in claim["spec"]["devices"]["requests"])
    seen = [0] * len(layout)
    for m in ers.request_mappings:
        seen[int(m.container_name[1:])] += counts[m.request_name]
    assert seen == scheduler_devices(layout)  # the port in tests/test_kep5004.py is the scheduler
    # the rewrite's decision: eligible exactly when every container sees what it asked for
    result = migrate_text(manifest("Pod", pod_spec(layout)), "p.yaml", Mode())
    kep = next(f.kep5004 for f in result.findings if f.code == "GPU000")
    exact = all(seen[j] == k for j, (_, _, k) in enumerate(layout) if k)
    assert kep[0] == exact, (layout, seen, kep)


def test_the_table_has_both_outcomes() -> None:
    exact = [all(s == k for s, (_, _, k) in zip(scheduler_devices(t), t) if k) for t in TABLE]
    assert any(exact) and not all(exact)
