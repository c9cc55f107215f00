"""The real controllers judge `dra-migrate plan`: its steps executed on a kwok cluster.

Each case builds device-plugin nodes (`status.allocatable` `nvidia.com/gpu`, GFD labels; kwok plays
their kubelets, so pods become Running and Ready), runs the OLD manifests until they are available,
and asks `dra-migrate plan --context` (live, read-only) for the switch. A small executor then
carries the plan out step by step as an operator would: cordon, drain through the eviction API
(PodDisruptionBudgets honoured: a 429 is retried), node labels, the node switch as the device
plugin and the DRA driver do it (the plugin's resource goes to 0 in allocatable, THEN the driver
publishes the node's ResourceSlice), the `kubectl patch` commands as printed, the rewritten
manifests, waits for rollouts. The real Deployment/StatefulSet/DaemonSet/Job controllers, the
scheduler and the claim controller do the rest. Checked against them:

- every workload the plan says completes does complete (bounded waits);
- a workload the plan says would stall with its own strategy does stall when its rewritten
  manifest is applied without the plan, and one the plan leaves alone completes that way;
- no node ever has device-plugin GPUs allocatable while a ResourceSlice of it exists (sampled all
  along, not only between steps);
- the replicas unavailable while the plan runs never exceed the plan's `capacity_lost`.

One control plane per version serves every case; each case starts from an empty cluster (its
nodes, slices and namespace objects are removed after it).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shlex
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from controlplane import KWOK_ANNOTATION, kwok_cluster_for
from migrator.engine import migrate_text
from migrator.mode import Mode

ROLLOUT_TIMEOUT = 40.0  # seconds a wait of the plan may take (kwok starts a pod in well under 1 s)
REACTION = 2.0  # seconds a controller or the scheduler may take to act on a step (see the per-step check)
DRAIN_TIMEOUT = 4.0  # with kwok an evicted pod's replacement is Ready in well under 1 s
STALL_WAIT = 2.0  # how long a rollout predicted to stall is watched for progress (kwok: < 1 s to complete)
LABEL = "e2e-rollout"
GPU_RES = "nvidia.com/gpu"
# GFD labels of an H100 node (as in test_scheduler_equivalence: GPU Feature Discovery from NVML);
# the plan infers the devices a node will publish from them (migrator/plan/build.py expected_devices).
H100_LABELS = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.memory": "81559",
               "nvidia.com/gpu.family": "hopper", "nvidia.com/gpu.compute.major": "9",
               "nvidia.com/gpu.compute.minor": "0", "nvidia.com/gpu.present": "true"}
# NVIDIA DRA driver v25.12 templates/deviceclass-gpu.yaml (dra-api.md §4.1), without
# extendedResourceName except in the KEP-5004 case: with it (kept by 1.37) the scheduler would
# serve the OLD pods from DRA nodes too, which the plan's model does not assume.
GPU_CLASS = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
             "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && "
                                                           "device.attributes['gpu.nvidia.com'].type == 'gpu'"}}]}}


# ----------------------------------------------------------------------------------------------
# The cluster.


@dataclass
class Kube:
    api: Any
    core: Any
    apps: Any
    batch: Any
    policy: Any
    dynamic: Any
    kubeconfig: Path
    minor: str

    def res(self, api_version: str, kind: str) -> Any:
        return self.dynamic.resources.get(api_version=api_version, kind=kind)


@pytest.fixture(scope="module")
def kube(control_plane: Any, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
         ) -> Iterator[Kube]:
    from kubernetes import client
    from kubernetes.dynamic import DynamicClient

    from controlplane import SCHEDULING_MISSING

    if control_plane.minor in SCHEDULING_MISSING:
        pytest.skip(SCHEDULING_MISSING[control_plane.minor])
    tmp = tmp_path_factory.mktemp(f"kwok-{control_plane.minor}")
    with kwok_cluster_for(control_plane, tmp, request.config):
        api = control_plane.api_client
        k = Kube(api, client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api), client.PolicyV1Api(api),
                 DynamicClient(api, cache_file=str(tmp / "discovery.json")), control_plane.kubeconfig,
                 control_plane.minor)
        foreign = [n.metadata.name for n in k.core.list_node().items]
        assert not foreign, f"the rollout cases need a cluster of their own nodes; found {foreign[:5]}"
        try:
            yield k
        finally:
            reset(k)
            with contextlib.suppress(Exception):  # the scheduler tests create the driver's own class
                k.res("resource.k8s.io/v1", "DeviceClass").delete(name="gpu.nvidia.com")


def node_object(name: str, gpus: int) -> dict[str, Any]:
    alloc = {"cpu": "64", "memory": "512Gi", "pods": "110", GPU_RES: str(gpus)}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1]},
                         "labels": {**H100_LABELS, "nvidia.com/gpu.count": str(gpus), "kubernetes.io/hostname": name,
                                    "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", LABEL: "true"}},
            # A kubelet registers with its status; kwok's node-initialize stage adds the conditions
            # and keeps this allocatable.
            "status": {"capacity": alloc, "allocatable": alloc}}


def slice_object(node: str, gpus: int) -> dict[str, Any]:
    """The ResourceSlice NVIDIA's DRA driver publishes for an H100 node (dra-api.md §4.2)."""
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
            "metadata": {"name": f"{node}-gpu.nvidia.com", "labels": {LABEL: "true"}},
            "spec": {"driver": "gpu.nvidia.com", "nodeName": node,
                     "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
                     "devices": [{"name": f"gpu-{i}", "attributes": {
                         "type": {"string": "gpu"}, "productName": {"string": "NVIDIA H100 80GB HBM3"},
                         "architecture": {"string": "Hopper"}, "brand": {"string": "Nvidia"},
                         "cudaComputeCapability": {"version": "9.0.0"}, "driverVersion": {"version": "580.95.5"},
                         "uuid": {"string": f"GPU-{abs(hash((node, i))) % 10**8:08d}-0000-0000-0000-000000000000"}},
                         "capacity": {"memory": {"value": "81559Mi"}}} for i in range(gpus)]}}


def set_gpu_allocatable(k: Kube, node: str, n: int) -> None:
    body = {"status": {"capacity": {GPU_RES: str(n)}, "allocatable": {GPU_RES: str(n)}}}
    k.core.patch_node_status(node, body)


def reset(k: Kube) -> None:
    """Back to an empty cluster: the cases' namespaces emptied, their nodes and slices gone."""
    gone = dict(grace_period_seconds=0, propagation_policy="Background")
    for ns in [n.metadata.name for n in k.core.list_namespace(label_selector=LABEL).items]:
        for lister, deleter in ((k.apps.list_namespaced_deployment, k.apps.delete_namespaced_deployment),
                                (k.apps.list_namespaced_stateful_set, k.apps.delete_namespaced_stateful_set),
                                (k.apps.list_namespaced_daemon_set, k.apps.delete_namespaced_daemon_set),
                                (k.batch.list_namespaced_job, k.batch.delete_namespaced_job),
                                (k.apps.list_namespaced_replica_set, k.apps.delete_namespaced_replica_set),
                                (k.apps.list_namespaced_controller_revision, k.apps.delete_namespaced_controller_revision),
                                (k.policy.list_namespaced_pod_disruption_budget,
                                 k.policy.delete_namespaced_pod_disruption_budget)):
            for o in lister(ns).items:
                with contextlib.suppress(Exception):
                    deleter(o.metadata.name, ns, **gone)
        for kind in ("ResourceClaimTemplate",):
            with contextlib.suppress(Exception):
                k.res("resource.k8s.io/v1", kind).delete(namespace=ns)
        with contextlib.suppress(Exception):
            k.core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
    with contextlib.suppress(Exception):
        k.res("resource.k8s.io/v1", "ResourceSlice").delete(label_selector=LABEL)
    with contextlib.suppress(Exception):
        k.core.delete_collection_node(label_selector=LABEL)
    # generous: on a loaded 2-core machine the claim controller can take its time to release claims
    start = time.monotonic()
    deadline = start + 90
    while time.monotonic() < deadline:  # no controller resurrects anything: owners are gone first
        pods = [p for ns in [n.metadata.name for n in k.core.list_namespace(label_selector=LABEL).items]
                for p in k.core.list_namespaced_pod(ns).items]
        claims = k.res("resource.k8s.io/v1", "ResourceClaim").get().items
        if not pods and not claims and not k.core.list_node(label_selector=LABEL).items:
            return
        for p in pods:
            with contextlib.suppress(Exception):
                k.core.delete_namespaced_pod(p.metadata.name, p.metadata.namespace, grace_period_seconds=0)
        for c in claims:
            with contextlib.suppress(Exception):
                k.res("resource.k8s.io/v1", "ResourceClaim").delete(name=c.metadata.name,
                                                                     namespace=c.metadata.namespace)
            if time.monotonic() - start > 20 and c.metadata.finalizers:  # its pods are gone: let it go
                with contextlib.suppress(Exception):
                    k.res("resource.k8s.io/v1", "ResourceClaim").patch(
                        name=c.metadata.name, namespace=c.metadata.namespace, body={"metadata": {"finalizers": None}},
                        content_type="application/merge-patch+json")
        time.sleep(0.3)
    raise AssertionError("the cluster did not empty in 90 s")


def create(k: Kube, obj: dict[str, Any]) -> None:
    r = k.res(obj["apiVersion"], obj["kind"])
    ns = obj["metadata"].get("namespace") if r.namespaced else None
    r.create(body=obj, namespace=ns)


def poll(cond: Any, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)


# ----------------------------------------------------------------------------------------------
# Workloads and their state as the controllers report it.


def gpu_pod_template(app: str, gpus: int = 1) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"limits": {GPU_RES: gpus}}}]}}


def deployment(ns: str, name: str, replicas: int, strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                            "template": gpu_pod_template(name)}
    if strategy:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def statefulset(ns: str, name: str, replicas: int, strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                            "template": gpu_pod_template(name)}
    if strategy:
        spec["updateStrategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def daemonset(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": gpu_pod_template(name)}}


def job(ns: str, name: str) -> dict[str, Any]:
    t = gpu_pod_template(name)
    t["spec"]["restartPolicy"] = "Never"
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns},
            "spec": {"template": t, "backoffLimit": 0}}


def pdb(ns: str, app: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": app, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": app}}, **spec}}


def uses_gpu_plugin(pod: Any) -> bool:
    return any(GPU_RES in ((c.resources.limits or {}) | (c.resources.requests or {}))
               for c in pod.spec.containers if c.resources)


def ready(pod: Any) -> bool:
    return pod.metadata.deletion_timestamp is None and any(
        c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def unschedulable(pod: Any) -> bool:
    return any(c.type == "PodScheduled" and c.status == "False" for c in (pod.status.conditions or []))


def workload_state(k: Kube, ns: str, kind: str, name: str) -> tuple[bool, int, int]:
    """(rollout complete as `kubectl rollout status` has it, with every pod on the new template;
    replicas wanted; replicas lost).

    Lost, as the plan's model counts it: a replica no pod can serve for want of capacity, i.e. a
    pod the scheduler found no room for (PodScheduled False), or one the controller holds back (a
    StatefulSet's deleted ordinal, an old ReplicaSet scaled down with nothing in its place). A pod
    being created, scheduled or started is not lost: the model starts pods in no time."""
    pods = [p for p in k.core.list_namespaced_pod(ns, label_selector=f"app={name}").items]
    live = [p for p in pods if p.metadata.deletion_timestamp is None and p.status.phase not in ("Succeeded", "Failed")]
    if kind == "Deployment":
        o = k.apps.read_namespaced_deployment(name, ns)
        want, s = o.spec.replicas, o.status
        done = ((s.observed_generation or 0) >= o.metadata.generation and (s.updated_replicas or 0) == want
                and (s.replicas or 0) == want and (s.available_replicas or 0) == want)
    elif kind == "StatefulSet":
        o = k.apps.read_namespaced_stateful_set(name, ns)
        want, s = o.spec.replicas, o.status
        done = ((s.observed_generation or 0) >= o.metadata.generation and (s.ready_replicas or 0) == want
                and s.current_revision == s.update_revision and (s.updated_replicas or 0) == want)
    elif kind == "DaemonSet":
        o = k.apps.read_namespaced_daemon_set(name, ns)
        s = o.status
        want = s.desired_number_scheduled or 0
        done = ((s.observed_generation or 0) >= o.metadata.generation and (s.updated_number_scheduled or 0) == want
                and (s.number_available or 0) == want)
    elif kind == "Job":
        o = k.batch.read_namespaced_job(name, ns)
        return bool(o.status.succeeded) and not any(uses_gpu_plugin(p) for p in pods), 1, 0
    else:
        raise AssertionError(kind)
    done = done and bool(live) and not any(uses_gpu_plugin(p) for p in pods) and all(ready(p) for p in live)
    short = max(0, want - len([p for p in live if ready(p)]))
    return done, want, min(short, len([p for p in live if unschedulable(p)]) + max(0, want - len(live)))


# ----------------------------------------------------------------------------------------------
# Watching the cluster while a plan runs.


class Watch:
    """Follows the pods through a watch (every change, not samples) and counts each workload's lost
    replicas after every event: pods the scheduler found no room for (PodScheduled False), plus
    replicas with no live pod for more than MISSING_HOLD seconds (a StatefulSet ordinal held back,
    an old ReplicaSet scaled down with nothing in its place; a replacement the controller creates
    a few milliseconds after a deletion is not a loss). Nodes served by both managers are checked
    after every step of the plan and by a poll in between."""

    MISSING_HOLD = 0.5

    def __init__(self, k: Kube, ns: str, workloads: list[tuple[str, str]]) -> None:
        self.k, self.ns = k, ns
        self.want = {name: workload_state(k, ns, kind, name)[1] for kind, name in workloads if kind != "Job"}
        self.both: list[str] = []
        self.events: dict[str, list[tuple[float, int, int]]] = {n: [] for n in self.want}  # t, unschedulable, missing
        self.errors: list[str] = []
        self.pods: dict[str, Any] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._pods, daemon=True),
                         threading.Thread(target=self._nodes, daemon=True)]

    def __enter__(self) -> Watch:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def check_nodes(self) -> None:
        slices = {s.spec.nodeName for s in self.k.res("resource.k8s.io/v1", "ResourceSlice").get().items}
        for n in self.k.core.list_node(label_selector=LABEL).items:
            gpus = int((n.status.allocatable or {}).get(GPU_RES, "0") or 0)
            if gpus and n.metadata.name in slices:
                self.both.append(f"{n.metadata.name}: allocatable {GPU_RES} {gpus} while its ResourceSlice exists")

    def _nodes(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_nodes()
            except Exception as e:
                self.errors.append(repr(e))
            self._stop.wait(0.1)

    def _record(self) -> None:
        now = time.monotonic()
        for name, want in self.want.items():
            live = [p for p in self.pods.values() if (p.metadata.labels or {}).get("app") == name
                    and p.metadata.deletion_timestamp is None and p.status.phase not in ("Succeeded", "Failed")]
            # never more than the replicas not Ready: a surge pod that finds no room loses nothing
            short = max(0, want - len([p for p in live if ready(p)]))
            unsched = min(short, len([p for p in live if unschedulable(p)]))
            self.events[name].append((now, unsched, min(short - unsched, max(0, want - len(live)))))

    def _pods(self) -> None:
        from kubernetes import watch

        version = None
        while not self._stop.is_set():
            try:
                if version is None:
                    listed = self.k.core.list_namespaced_pod(self.ns)
                    self.pods = {p.metadata.name: p for p in listed.items}
                    version = listed.metadata.resource_version
                    self._record()
                for ev in watch.Watch().stream(self.k.core.list_namespaced_pod, self.ns, resource_version=version,
                                               timeout_seconds=1, allow_watch_bookmarks=False):
                    pod = ev["object"]
                    version = pod.metadata.resource_version
                    if ev["type"] == "DELETED":
                        self.pods.pop(pod.metadata.name, None)
                    else:
                        self.pods[pod.metadata.name] = pod
                    self._record()
                    if self._stop.is_set():
                        break
            except Exception as e:  # 410 Gone: list again
                version = None
                if "410" not in str(e):
                    self.errors.append(repr(e))

    def losses(self, name: str) -> list[tuple[float, float, int]]:
        """(from, until, replicas lost) between pod events."""
        evs = self.events[name] + [(time.monotonic(), 0, 0)]
        return [(t, t_next, unsched + (missing if t_next - t >= self.MISSING_HOLD else 0))
                for (t, unsched, missing), (t_next, _, _) in zip(evs, evs[1:])]

    def worst_loss(self, name: str, since: float = 0.0, until: float = float("inf")) -> int:
        return max((v for t, t_next, v in self.losses(name) if t <= until and t_next >= since), default=0)


# ----------------------------------------------------------------------------------------------
# The plan, and an operator carrying it out.


def run_plan(k: Kube, manifest: Path, *extra: str) -> dict[str, Any]:
    from migrator.cli import main

    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(k.kubeconfig)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            code = main(["plan", str(manifest), "--context", "e2e", "--format", "json", *extra])
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
    assert code in (0, 1), f"plan --context exited {code}: {buf.getvalue()[:400]}"
    return json.loads(buf.getvalue())


def rewritten(manifest: Path) -> list[dict[str, Any]]:
    """The rewrite's output for the manifest (workloads and their ResourceClaimTemplates)."""
    result = migrate_text(manifest.read_text(), str(manifest), Mode())
    return [d for d in yaml.safe_load_all(result.text) if d]


def merge_patch_of(command: str) -> dict[str, Any]:
    """The JSON of `kubectl patch ... --type merge -p '<json>'`, as the runbook prints it."""
    argv = shlex.split(command.split("  #")[0])
    assert argv[:2] == ["kubectl", "patch"] and "merge" in argv, command
    return json.loads(argv[argv.index("-p") + 1])


@dataclass
class Executed:
    plan: dict[str, Any]
    spans: list[tuple[float, float]] = field(default_factory=list)  # per step: start, end
    stuck: list[str] = field(default_factory=list)  # waits that did not finish
    rejected: list[str] = field(default_factory=list)  # steps the apiserver refused
    failed_at: dict[str, Any] | None = None


class Operator:
    def __init__(self, k: Kube, ns: str, new_objects: list[dict[str, Any]]) -> None:
        self.k, self.ns = k, ns
        self.new = new_objects
        self.gpus: dict[str, int] = {n.metadata.name: int(n.status.allocatable.get(GPU_RES, "0"))
                                     for n in k.core.list_node(label_selector=LABEL).items}

    def new_object(self, kind: str, name: str) -> dict[str, Any]:
        for o in self.new:
            if o["kind"] == kind and o["metadata"]["name"] == name:
                return o
        raise AssertionError(f"the rewrite has no {kind} {name}")

    def patch(self, kind: str, name: str, body: Any, content_type: str | None = None) -> None:
        api_version = {"Job": "batch/v1"}.get(kind, "apps/v1")
        self.k.res(api_version, kind).patch(name=name, namespace=self.ns, body=body,
                                            content_type=content_type or "application/merge-patch+json")

    def switch_template(self, kind: str, name: str) -> None:
        """`kubectl apply -f` of the rewritten manifest: its client-side three-way merge changes only
        what the manifest changed, the pod template (a temporary strategy patched in stays)."""
        new = copy.deepcopy(self.new_object(kind, name)["spec"]["template"])
        live = self.k.res({"Job": "batch/v1"}.get(kind, "apps/v1"), kind).get(name=name, namespace=self.ns)
        labels = dict((live.spec.template.metadata.labels or {}) if live.spec.template.metadata else {})
        new.setdefault("metadata", {})["labels"] = {**labels, **(new["metadata"].get("labels") or {})}
        self.patch(kind, name, [{"op": "replace", "path": "/spec/template", "value": new}],
                   "application/json-patch+json")

    def replace(self, kind: str, name: str) -> None:
        """`kubectl replace --force -f`: delete, wait until it is gone, create from the manifest."""
        api_version = {"Job": "batch/v1", "Pod": "v1"}.get(kind, "apps/v1")
        r = self.k.res(api_version, kind)
        r.delete(name=name, namespace=self.ns, body={"propagationPolicy": "Background"})
        assert poll(lambda: not [o for o in r.get(namespace=self.ns).items if o.metadata.name == name], 10)
        create(self.k, self.new_object(kind, name))

    def create_templates(self, names: list[str] | None = None) -> None:
        for o in self.new:
            if o["kind"] == "ResourceClaimTemplate" and (names is None or o["metadata"]["name"] in names):
                with contextlib.suppress(Exception):  # 409: it exists
                    create(self.k, o)

    def drain(self, node: str, deadline: float) -> bool:
        from kubernetes.client.exceptions import ApiException

        while time.monotonic() < deadline:
            pods = [p for p in self.k.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
                    if not any(o.kind == "DaemonSet" for o in p.metadata.owner_references or [])]
            if not pods:
                return True
            for p in pods:
                if p.metadata.deletion_timestamp is not None:
                    continue
                body = {"apiVersion": "policy/v1", "kind": "Eviction",
                        "metadata": {"name": p.metadata.name, "namespace": p.metadata.namespace}}
                try:
                    self.k.core.create_namespaced_pod_eviction(p.metadata.name, p.metadata.namespace, body)
                except ApiException as e:
                    if e.status not in (404, 429):  # 429: a PodDisruptionBudget says not now
                        raise
            time.sleep(0.3)
        return False

    def gpu_pods_on(self, node: str) -> list[Any]:
        return [p for p in self.k.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
                if uses_gpu_plugin(p) and p.status.phase not in ("Succeeded", "Failed")]

    def step(self, s: dict[str, Any], ex: Executed) -> None:
        from kubernetes.client.exceptions import ApiException

        action, kind, name, detail, cmd = s["action"], s["kind"], s["name"], s["detail"], s["command"]
        if action == "verify" or (action == "wait" and kind == "Cluster"):
            return
        if kind == "Node":
            if action in ("cordon", "uncordon"):
                self.k.core.patch_node(name, {"spec": {"unschedulable": action == "cordon"}})
            elif action == "drain":
                if not self.drain(name, time.monotonic() + DRAIN_TIMEOUT):
                    left = [f"{p.metadata.namespace}/{p.metadata.name}" for p in self.gpu_pods_on(name)]
                    ex.stuck.append(f"drain {name}: the eviction API refuses {left} (PodDisruptionBudget)")
            elif action == "label":
                key, _, value = shlex.split(cmd)[4].partition("=")
                self.k.core.patch_node(name, {"metadata": {"labels": {key: value}}})
                if "device plugin off" in detail:
                    # The plugin's pod leaves the node; the kubelet reports its resource as 0
                    # (kubernetes#133784, 1.35: no stale allocatable after the plugin is gone).
                    set_gpu_allocatable(self.k, name, 0)
                elif "DRA kubelet plugin on" in detail:
                    create(self.k, slice_object(name, self.gpus[name]))  # the driver publishes its devices
                else:
                    raise AssertionError(f"unknown label step: {s}")
            elif action == "wait" and "allocatable" in detail:
                node = lambda: self.k.core.read_node(name)  # noqa: E731
                if not poll(lambda: int(node().status.allocatable.get(GPU_RES, "0")) == 0
                            and not self.gpu_pods_on(name), ROLLOUT_TIMEOUT):
                    ex.stuck.append(f"{name}: allocatable {GPU_RES} to 0 and device-plugin pods gone")
            elif action == "wait" and "ResourceSlices" in detail:
                if not poll(lambda: bool(self.k.res("resource.k8s.io/v1", "ResourceSlice").get(
                        field_selector=f"spec.nodeName={name}").items), ROLLOUT_TIMEOUT):
                    ex.stuck.append(f"{name}: ResourceSlices")
            else:
                raise AssertionError(f"unknown node step: {s}")
            return
        # The cluster-wide cut-over (ClusterPolicy -> GPUCluster): the GPU Operator is not here, so
        # the executor does what its deletion and creation do to the nodes (rules/gpu-operator.yaml).
        if kind == "ClusterPolicy" and action == "delete":
            for node in self.gpus:  # the device plugin leaves every node; running pods keep their GPUs
                set_gpu_allocatable(self.k, node, 0)
            return
        if kind == "ClusterPolicy" and action == "wait":
            if not poll(lambda: all(int(self.k.core.read_node(n).status.allocatable.get(GPU_RES, "0")) == 0
                                    and not self.gpu_pods_on(n) for n in self.gpus), ROLLOUT_TIMEOUT):
                ex.stuck.append("every node: allocatable to 0 and device-plugin pods gone")
            return
        if kind == "GPUCluster" and action == "create":
            for node, gpus in self.gpus.items():
                if gpus:
                    create(self.k, slice_object(node, gpus))
            return
        if kind == "GPUCluster" and action == "wait":
            names = {s.spec.nodeName for s in self.k.res("resource.k8s.io/v1", "ResourceSlice").get().items}
            if not all(n in names for n, g in self.gpus.items() if g):
                ex.stuck.append("ResourceSlices on every GPU node")
            return
        if action == "annotate" and kind == "Pod":  # kubectl annotate pods -n NS [-l SEL] --field-selector F K=V
            argv = shlex.split(cmd)
            fsel = argv[argv.index("--field-selector") + 1]
            lsel = argv[argv.index("-l") + 1] if "-l" in argv else None
            key, _, value = next(a for a in argv[argv.index("--field-selector") + 2:] if "=" in a).partition("=")
            for p in self.k.core.list_namespaced_pod(self.ns, field_selector=fsel, label_selector=lsel).items:
                self.k.core.patch_namespaced_pod(p.metadata.name, self.ns,
                                                 {"metadata": {"annotations": {key: value}}})
            return
        if action == "create" and kind == "ResourceClaimTemplate":
            self.create_templates([name])
            return
        if action == "update":
            try:
                if cmd.startswith("kubectl patch"):
                    self.patch(kind, name, merge_patch_of(cmd))
                elif cmd.startswith("kubectl apply"):
                    self.switch_template(kind, name)
                elif cmd.startswith("kubectl replace --force"):
                    self.replace(kind, name)
                else:
                    raise AssertionError(f"unknown update step: {s}")
            except ApiException as e:
                ex.rejected.append(f"{action} {kind} {name} ({detail}): {e.status} "
                                   f"{json.loads(e.body).get('message', '')[:300]}")
            return
        if action == "delete" and kind == "Pod":
            argv = shlex.split(cmd)
            fsel = argv[argv.index("--field-selector") + 1] if "--field-selector" in argv else None
            lsel = argv[argv.index("-l") + 1] if "-l" in argv else None
            for p in self.k.core.list_namespaced_pod(self.ns, field_selector=fsel, label_selector=lsel).items:
                self.k.core.delete_namespaced_pod(p.metadata.name, self.ns)
            return
        if action == "wait":  # a workload's rollout
            if not poll(lambda: workload_state(self.k, self.ns, kind, name)[0], ROLLOUT_TIMEOUT):
                ex.stuck.append(f"rollout of {kind} {name}")
            return
        raise AssertionError(f"unknown step: {s}")

    def execute(self, plan: dict[str, Any], watch: Watch) -> Executed:
        ex = Executed(plan)
        for s in plan["steps"]:
            start = time.monotonic()
            self.step(s, ex)
            watch.check_nodes()
            ex.spans.append((start, time.monotonic()))
            if ex.stuck or ex.rejected:  # the rest of the plan assumes this step happened
                ex.failed_at = s
                break
        return ex


# ----------------------------------------------------------------------------------------------
# The cases.


@dataclass(frozen=True)
class Case:
    name: str
    nodes: tuple[tuple[str, int, bool], ...]  # (name, GPUs, already on DRA)
    objects: tuple[dict[str, Any], ...]  # the OLD manifests (workloads and PDBs)
    # kind/name -> the plan's expected verdict: "stall" (deadlock without the plan) or "safe"
    expect: tuple[tuple[str, str, str], ...]
    versions: tuple[str, ...] = ("1.35", "1.37")
    # before the plan runs, the old pod on the first node the plan will empty "as its old pods
    # leave" gets a higher controller.kubernetes.io/pod-deletion-cost (a user's annotation)
    deletion_cost: bool = False
    others: tuple[dict[str, Any], ...] = ()  # running first, not in the manifests the plan gets
    late_nodes: tuple[tuple[str, int, bool], ...] = ()  # created once everything runs
    pools: tuple[tuple[str, str], ...] = ()  # node -> its `pool` label
    xfail: str = ""  # strict: the exact disagreement with the real controllers


def _ns(case: str) -> str:
    return f"ro-{case}"


def cases() -> list[Case]:
    out = []

    def add(name: str, nodes: Any, objs: Any, expect: Any, **kw: Any) -> None:
        out.append(Case(name, tuple(nodes), tuple(objs), tuple(expect), **kw))

    ns = _ns("one-replica")
    # The classic single-GPU deadlock: replicas 1, default strategy (surge 1, unavailable 0), the
    # only GPU taken by the old pod (rollout-model.md §2.1, §8.5 #1).
    add("one-replica", [("n1", 1, False)], [deployment(ns, "infer", 1)], [("Deployment", "infer", "stall")])

    ns = _ns("max-unavailable-0")
    # maxUnavailable 0: the surge pod needs a free DRA device, none is free, no old pod ever goes.
    # The PodDisruptionBudget gates the plan's drains.
    add("max-unavailable-0", [("n1", 1, False), ("n2", 1, False)],
        [deployment(ns, "serve", 2, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
         pdb(ns, "serve", minAvailable=1)], [("Deployment", "serve", "stall")])

    ns = _ns("deletion-cost")
    # The same, where the user ranks the old pods with pod-deletion-cost (ReplicaSet: "Pod deletion
    # cost", kubernetes.io/docs/concepts/workloads/controllers/replicaset/) against the plan's order:
    # the controller deletes the cheaper pod first, so the plan sets the costs itself before the
    # switch (this case was the tier's one disagreement: the named node still ran an old pod).
    add("deletion-cost", [("n1", 1, False), ("n2", 1, False)],
        [deployment(ns, "serve", 2, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
         pdb(ns, "serve", minAvailable=1)], [("Deployment", "serve", "stall")], deletion_cost=True)

    ns = _ns("drain-others")
    # The cut-over drains another workload's pod (not in the plan; its PodDisruptionBudget allows
    # one eviction) onto a device-plugin node the planned workload may not use (its nodeSelector).
    infer = deployment(ns, "infer", 1)
    infer["spec"]["template"]["spec"]["nodeSelector"] = {"pool": "a"}
    add("drain-others", [("n1", 1, False), ("n2", 1, False)], [infer], [("Deployment", "infer", "stall")],
        others=(deployment(ns, "other", 1), pdb(ns, "other", maxUnavailable=1)), late_nodes=(("n3", 1, False),),
        pools=(("n1", "a"), ("n2", "a"), ("n3", "b")))

    ns = _ns("headroom")
    # A node already on DRA with a free GPU: the default strategy's surge pod lands there; nothing
    # to plan but the template switch.
    add("headroom", [("n1", 1, False), ("n2", 1, True)], [deployment(ns, "infer", 1)],
        [("Deployment", "infer", "safe")])

    ns = _ns("daemonset")
    # A DaemonSet's pod cannot move: each node's pod waits for that node's cut-over.
    add("daemonset", [("n1", 1, False), ("n2", 1, False)], [daemonset(ns, "agent")],
        [("DaemonSet", "agent", "stall")])

    ns = _ns("job")
    # A Job has no rollout: its pod template is immutable (rollout-model.md §2.4).
    add("job", [("n1", 1, False)], [job(ns, "batch")], [("Job", "batch", "n/a")])

    ns = _ns("statefulset")
    # One ordinal at a time: the deleted ordinal's replacement needs DRA capacity.
    add("statefulset", [("n1", 1, False), ("n2", 1, False)], [statefulset(ns, "db", 2)],
        [("StatefulSet", "db", "stall")])

    ns = _ns("statefulset-max-unavailable")
    # maxUnavailable 2 (KEP-961): honoured where MaxUnavailableStatefulSet is on (1.37; 1.35.0-3),
    # dropped by 1.35.4's apiserver, where it is off (dra-2026.md §1).
    sts = statefulset(ns, "db", 2, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}})
    sts["spec"]["podManagementPolicy"] = "Parallel"
    add("statefulset-max-unavailable", [("n1", 1, False), ("n2", 1, False)], [sts],
        [("StatefulSet", "db", "stall")])

    ns = _ns("cut-over")
    # The manager switch with a node cut-over: an empty device-plugin node is switched first, then
    # the rollout and the nodes its old pods leave are interleaved.
    add("cut-over", [("n1", 1, False), ("n2", 1, False), ("n3", 1, False)],
        [deployment(ns, "train", 2), pdb(ns, "train", maxUnavailable=1)], [("Deployment", "train", "stall")])
    return out


CASES = cases()


def put_class(k: Kube, obj: dict[str, Any]) -> None:
    """This DeviceClass exactly. Another module's class of the same name (the KEP-5004 tests ship
    the driver chart's, with extendedResourceName) would let the scheduler serve the cases' old
    `nvidia.com/gpu` pods from DRA nodes on 1.37 and change every case's capacity."""
    classes = k.res("resource.k8s.io/v1", "DeviceClass")
    try:
        have = classes.get(name=obj["metadata"]["name"]).to_dict()
    except Exception:
        have = None
    if have is not None and have.get("spec") == obj["spec"]:
        return
    if have is not None:
        classes.delete(name=obj["metadata"]["name"])
        poll(lambda: not [c for c in classes.get().items if c.metadata.name == obj["metadata"]["name"]], 10)
    create(k, obj)


def setup_case(k: Kube, case: Case, tmp: Path, own_class: bool = False) -> tuple[str, Path, list[dict[str, Any]]]:
    ns = _ns(case.name)
    with contextlib.suppress(Exception):
        k.core.create_namespace({"metadata": {"name": ns, "labels": {LABEL: "true"}}})
    with contextlib.suppress(Exception):  # the serviceaccount controller's job; admission needs it
        k.core.create_namespaced_service_account(ns, {"metadata": {"name": "default"}})
    def nodes(which: tuple[tuple[str, int, bool], ...]) -> None:
        for name, gpus, on_dra in which:
            node = node_object(f"{case.name}-{name}", gpus)
            if dict(case.pools).get(name):
                node["metadata"]["labels"]["pool"] = dict(case.pools)[name]
            if on_dra:  # the device plugin never ran here; the DRA driver publishes the devices
                node["status"]["allocatable"][GPU_RES] = node["status"]["capacity"][GPU_RES] = "0"
            create(k, node)
            if on_dra:
                create(k, slice_object(f"{case.name}-{name}", gpus))

    def running(objs: tuple[dict[str, Any], ...]) -> None:
        for o in objs:
            create(k, o)
        workloads = [(o["kind"], o["metadata"]["name"]) for o in objs if o["kind"] != "PodDisruptionBudget"]
        if not poll(lambda: all(workload_state(k, ns, kd, n)[1] > 0 and _old_running(k, ns, kd, n)
                                for kd, n in workloads), ROLLOUT_TIMEOUT):
            raise AssertionError(f"{case.name}: the old manifests did not come up: {describe(k, ns)}")

    nodes(case.nodes)
    if not own_class:
        put_class(k, GPU_CLASS)
    running(case.others)
    running(case.objects)
    nodes(case.late_nodes)
    manifest = tmp / f"{case.name}.yaml"
    manifest.write_text(yaml.safe_dump_all(list(case.objects), sort_keys=False))
    return ns, manifest, rewritten(manifest)


def describe(k: Kube, ns: str) -> str:
    """What the pods and nodes look like, for a failure message."""
    def unready(p: Any) -> str:
        return ';'.join(c.message or c.reason or c.type for c in p.status.conditions or [] if c.status != 'True')

    pods = [f"{p.metadata.name}@{p.spec.node_name}:{p.status.phase}"
            f"{'(deleting)' if p.metadata.deletion_timestamp else ''}"
            f"{'' if ready(p) else ' ' + unready(p)}"
            for p in k.core.list_namespaced_pod(ns).items]
    nodes = [f"{n.metadata.name}:{(n.status.allocatable or {}).get(GPU_RES)}{' cordoned' if n.spec.unschedulable else ''}"
             for n in k.core.list_node(label_selector=LABEL).items]
    slices = [s.spec.nodeName for s in k.res("resource.k8s.io/v1", "ResourceSlice").get().items]
    return f"pods {pods}; nodes {nodes}; slices on {slices}"


def _old_running(k: Kube, ns: str, kind: str, name: str) -> bool:
    pods = k.core.list_namespaced_pod(ns, label_selector=f"app={name}").items
    if kind == "Job":
        return bool(k.batch.read_namespaced_job(name, ns).status.succeeded)
    done, want, _ = workload_state(k, ns, kind, name)
    return len([p for p in pods if ready(p)]) == want


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest, kube: Kube) -> Case:
    c = request.param
    if kube.minor not in c.versions:
        pytest.skip(f"{c.name}: only on {', '.join(c.versions)}")
    return c


def decision(plan: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    got = [d for d in plan["workloads"] if d["kind"] == kind and d["name"] == name]
    assert got, f"the plan has no decision for {kind} {name}: {plan['workloads']}"
    return got[0]


def stated_loss(reason: str) -> int | None:
    """The replicas a stalled rollout takes down, as the plan's reason states them (None: unsaid)."""
    import re

    if "no old pod is ever removed" in reason or "one replica down" in reason:
        return 0 if "no old pod" in reason else 1
    m = re.search(r"(\d+) replica\(s\) (?:lost|down)", reason)
    return int(m.group(1)) if m else None


def test_own_strategy_as_the_plan_predicts(kube: Kube, case: Case, tmp_path: Path) -> None:
    """Applied WITHOUT the plan: a workload the plan says stalls does not complete (bounded watch),
    one it leaves alone completes."""
    try:
        ns, manifest, new = setup_case(kube, case, tmp_path)
        plan = run_plan(kube, manifest)
        op = Operator(kube, ns, new)
        op.create_templates()
        # exited on every path: a watch thread left running past the session aborts the interpreter
        with Watch(kube, ns, [(kind, name) for kind, name, _ in case.expect]) as watch:
            for kind, name, verdict in case.expect:
                if verdict != "n/a":
                    op.switch_template(kind, name)
            wrong = []
            for kind, name, verdict in case.expect:
                d = decision(plan, kind, name)
                assert d["deadlock_without_plan"] == (verdict == "stall"), (case.name, d)
                if verdict == "n/a":
                    continue
                if verdict == "stall":
                    done = poll(lambda kind=kind, name=name: workload_state(kube, ns, kind, name)[0], STALL_WAIT)
                    if done:
                        wrong.append(f"{kind} {name}: the plan says it stalls with its own strategy; it completed")
                    real, said = watch.worst_loss(name), stated_loss(d["reason"])
                    if kind == "StatefulSet" and "maxUnavailable" in json.dumps(case.objects) and kube.minor == "1.35":
                        said = 1 if said is not None else None  # 1.35.4: MaxUnavailableStatefulSet is off
                    if said is not None and real != said:
                        wrong.append(f"{kind} {name}: {real} replica(s) down without the plan; the plan says {said} "
                                     f"({d['reason']})")
                elif not poll(lambda kind=kind, name=name: workload_state(kube, ns, kind, name)[0], ROLLOUT_TIMEOUT):
                    wrong.append(f"{kind} {name}: the plan says its own strategy completes; it did not in "
                                 f"{ROLLOUT_TIMEOUT:.0f} s")
        assert wrong == []
    finally:
        reset(kube)


def test_plan_executed_on_the_cluster(kube: Kube, case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if case.xfail:  # the plan's execution only: the case's own-strategy test holds
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=case.xfail))
    try:
        ns, manifest, new = setup_case(kube, case, tmp_path)
        plan = run_plan(kube, manifest)
        assert plan["proof"]["ok"], plan["proof"]
        op = Operator(kube, ns, new)
        if case.deletion_cost:
            first = next(st["name"] for st in plan["steps"]
                         if st["action"] == "cordon" and "its old pods left this node" in st["detail"])
            for p in kube.core.list_namespaced_pod(ns, field_selector=f"spec.nodeName={first}").items:
                kube.core.patch_namespaced_pod(p.metadata.name, ns, {"metadata": {"annotations": {
                    "controller.kubernetes.io/pod-deletion-cost": "100"}}})
        watched = [(kind, name) for kind, name, _ in case.expect]
        with Watch(kube, ns, watched) as watch:
            ex = op.execute(plan, watch)
            time.sleep(0.5)
        assert watch.errors == [], watch.errors[:3]
        assert ex.rejected == [], ex.rejected
        assert ex.stuck == [], (ex.stuck, describe(kube, ns), [(s["action"], s["name"], s["detail"][:60])
                                                              for s in plan["steps"]])
        assert watch.both == [], watch.both[:5]
        for o in case.others:  # the workloads the plan moved but does not switch still run
            if o["kind"] != "PodDisruptionBudget":
                assert _old_running(kube, ns, o["kind"], o["metadata"]["name"]), describe(kube, ns)
        for kind, name, _ in case.expect:
            d = decision(plan, kind, name)
            if not d["blocked"]:  # the plan has no wait for the kinds it does not model
                assert poll(lambda kind=kind, name=name: workload_state(kube, ns, kind, name)[0], ROLLOUT_TIMEOUT), (
                    f"{kind} {name}: the plan says it completes; {describe(kube, ns)}")
            if kind == "Job":
                continue
            key = d["pod_template"]
            real = watch.worst_loss(name)
            per_step = [(s["action"], s["name"], s["capacity_lost"].get(key, 0),
                         watch.worst_loss(name, a, b)) for s, (a, b) in zip(plan["steps"], ex.spans)]
            print(f"{case.name} {kind} {name}: lost {real} (plan: {d['capacity_lost']}); per step (plan, real) "
                  f"{[p for p in per_step if p[2] or p[3]]}; cut over: "
                  f"{[st['name'] for st in plan['steps'] if st['action'] == 'drain']}")
            assert real <= d["capacity_lost"], (
                f"{kind} {name}: {real} replica(s) unavailable, the plan says at most {d['capacity_lost']}",
                [p for p in per_step if p[3]])
            # And step by step: a loss at time t is one some step running then (or that ended less
            # than REACTION seconds before: controllers and the scheduler act after the API call
            # returns, and the executor's steps take milliseconds) lets the plan expect.
            over = []
            spans = list(zip(plan["steps"], ex.spans))
            for t, t_next, v in watch.losses(name):
                t = max(t, ex.spans[0][0])  # the old manifests coming up are not the plan's
                if v == 0 or t >= t_next:
                    continue
                # every moment of [t, t_next) where the bound can change: a step starts or ends
                for tau in sorted({t} | {x for _, (a, b) in spans for x in (a, b + REACTION + 1e-3) if t < x < t_next}):
                    allowed = max((st["capacity_lost"].get(key, 0) for st, (a, b) in spans
                                   if a <= tau <= b + REACTION), default=0)
                    if v > allowed:
                        at = [f"{st['action']} {st['name']}" for st, (a, b) in spans if a <= tau <= b]
                        over.append(f"{v} lost during {at or 'the end'}, the plan allows {allowed} then")
                        break
            assert over == [], (f"{kind} {name}", over[:5], per_step)
    finally:
        reset(kube)


def test_kep5004_nodes_first_with_unchanged_manifests(kube: Kube, tmp_path: Path) -> None:
    """With a DeviceClass that maps nvidia.com/gpu, the plan offers the "nodes first" path (its
    `kep5004` lines; it has no steps of its own for it). Carried out as it says: a device-plugin
    node cut over with the manifests unchanged. On 1.37 (DRAExtendedResource GA) the evicted pod
    must land on a DRA node with the same spec and the workload stay available; on 1.35.4 (alpha,
    off: the apiserver drops the field, dra-2026.md §1) the plan must not offer the path, and
    indeed the evicted pod finds no node."""
    on = kube.minor == "1.37"
    case = Case("kep5004", (("n1", 1, False), ("n2", 1, True)), (deployment(_ns("kep5004"), "infer", 1),), ())
    classes = kube.res("resource.k8s.io/v1", "DeviceClass")
    try:
        put_class(kube, dict(copy.deepcopy(GPU_CLASS), spec={**GPU_CLASS["spec"], "extendedResourceName": GPU_RES}))
        ns, manifest, _ = setup_case(kube, case, tmp_path, own_class=True)
        plan = run_plan(kube, manifest)
        assert bool(plan["kep5004"]) is on, plan["kep5004"]
        op = Operator(kube, ns, [])
        node = f"{case.name}-n1"
        with Watch(kube, ns, [("Deployment", "infer")]) as watch:
            kube.core.patch_node(node, {"spec": {"unschedulable": True}})
            assert op.drain(node, time.monotonic() + DRAIN_TIMEOUT), describe(kube, ns)
            if not on:
                pods = lambda: kube.core.list_namespaced_pod(ns, label_selector="app=infer").items  # noqa: E731
                assert poll(lambda: any(unschedulable(p) for p in pods()), ROLLOUT_TIMEOUT), describe(kube, ns)
                return
            set_gpu_allocatable(kube, node, 0)
            create(kube, slice_object(node, 1))
            kube.core.patch_node(node, {"spec": {"unschedulable": False}})
            watch.check_nodes()
            assert poll(lambda: _old_running(kube, ns, "Deployment", "infer"), ROLLOUT_TIMEOUT), describe(kube, ns)
        pods = [p for p in kube.core.list_namespaced_pod(ns, label_selector="app=infer").items if ready(p)]
        assert len(pods) == 1 and uses_gpu_plugin(pods[0]), describe(kube, ns)  # the same spec
        assert pods[0].spec.node_name == f"{case.name}-n2", describe(kube, ns)  # served by DRA
        claim = (pods[0].status.to_dict().get("extended_resource_claim_status") or {})
        assert claim.get("resource_claim_name"), pods[0].status  # the scheduler's claim for nvidia.com/gpu
        assert watch.both == [], watch.both
        assert watch.worst_loss("infer") <= 1
    finally:
        reset(kube)
        with contextlib.suppress(Exception):
            classes.delete(name="gpu.nvidia.com")


def test_cluster_wide_cutover_to_gpucluster(kube: Kube, tmp_path: Path) -> None:
    """`plan --gpu-operator gpucluster` from a ClusterPolicy install: one window for the whole
    cluster (GPUCluster cannot coexist with ClusterPolicy). Carried out on the real controllers, a
    Deployment, a StatefulSet and a DaemonSet filling every GPU must come back on DRA from their
    new templates, with no node ever served by both managers and no step the executor cannot do,
    and no workload losing more replicas than the plan says."""
    ns = _ns("cluster-wide")
    case = Case("cluster-wide", (("n1", 3, False), ("n2", 3, False)),  # one spare: creation order races
                (daemonset(ns, "agent"), deployment(ns, "infer", 2), statefulset(ns, "db", 1)), ())
    try:
        ns, manifest, new = setup_case(kube, case, tmp_path)
        plan = run_plan(kube, manifest, "--gpu-operator", "gpucluster")
        assert plan["proof"]["ok"], plan["proof"]
        assert plan["gpu_operator"]["cluster_wide"] is True, plan["gpu_operator"]
        assert not [s for s in plan["steps"] if s["action"] in ("label", "drain")], plan["steps"]
        op = Operator(kube, ns, new)
        watched = [(o["kind"], o["metadata"]["name"]) for o in case.objects]
        with Watch(kube, ns, watched) as watch:
            ex = op.execute(plan, watch)
            time.sleep(0.5)
        assert ex.rejected == [] and ex.stuck == [], (ex.rejected, ex.stuck, describe(kube, ns))
        assert watch.errors == [] and watch.both == [], (watch.errors[:3], watch.both[:3])
        for kind, name in watched:
            assert poll(lambda kind=kind, name=name: workload_state(kube, ns, kind, name)[0], ROLLOUT_TIMEOUT), describe(kube, ns)
            d = decision(plan, kind, name)
            assert watch.worst_loss(name) <= d["capacity_lost"], (kind, name, watch.worst_loss(name), d)
        pods = kube.core.list_namespaced_pod(ns).items
        assert pods and not any(uses_gpu_plugin(p) for p in pods if p.status.phase == "Running"), describe(kube, ns)
    finally:
        reset(kube)
