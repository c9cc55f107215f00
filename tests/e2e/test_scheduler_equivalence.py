"""The real scheduler decides whether a migrated pod gets the devices its original got.

Each machine below is built twice from real data: as a device-plugin node (`status.allocatable`
`nvidia.com/gpu` / `nvidia.com/mig-*`, GFD and cloud labels, taints) and as a DRA node (the same
labels and taints, a ResourceSlice of the devices NVIDIA's driver publishes for that hardware, and
the driver's DeviceClasses). For each workload the rewrite converts (examples/ and tests/cases),
and for each machine, the original pod is pinned to the device-plugin node and the migrated pod
(with its ResourceClaimTemplates, turned into claims by the real resourceclaim controller) to the
DRA node, by a required `metadata.name` node-affinity field term added to every term the pod
has. kube-scheduler answers: PodScheduled true or false, and for the migrated pod the claim's
`status.allocation` names the devices. Equivalence means: the same machines, and on each the
same kind and number of devices. Then `dra-migrate verify` runs on a snapshot read back from the
cluster (nodes, resourceslices, deviceclasses, as kubectl would dump them) and must reach the
scheduler's verdict for every workload.

Every (workload, machine) pair gets nodes of its own, so no two pods compete for a device and all
pods are created in one batch and judged together.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import all_objects, mode_from_flags
from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status

REPO = Path(__file__).resolve().parents[2]
SCHEDULE_TIMEOUT = 90.0  # seconds for the whole batch (one pass of the scheduler is well under that)


# ----------------------------------------------------------------------------------------------
# Machines. Device attributes as NVIDIA's DRA driver v25.12 publishes them (dra-api.md §4.2);
# GFD labels as GPU Feature Discovery derives them from the same NVML facts (product with spaces
# as dashes, memory in MiB, family lower-case, compute capability; for the MIG single strategy the
# product gets `-MIG-<profile>` and the memory is the slice's).


@dataclass(frozen=True)
class Gpu:
    product: str  # NVML name, as the driver's productName attribute
    memory_mib: int
    arch: str  # the driver's architecture attribute
    cc: str  # compute capability major.minor
    migs: tuple[str, ...] = ()  # MIG profiles carved from this GPU (MIG mode on)
    mig_memory_mib: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Machine:
    name: str
    gpus: tuple[Gpu, ...]
    labels: dict[str, str]  # cloud labels and the like (GFD labels are derived below)
    taints: tuple[dict[str, str], ...] = ()
    mig_strategy: str | None = None  # "single" or "mixed" when MIG is on
    legacy_pci_attr: bool = False  # pre-v25.12 `pcieBusID` (fixtures/resourceslices/pr717-...)
    gfd: bool = True  # GPU Feature Discovery labels the node (GKE's own device plugin does not run it)
    shares: int = 0  # time-sharing: the device plugin hands out this many nvidia.com/gpu per GPU

    @property
    def partition(self) -> str | None:
        """GKE's MIG partition size (its device plugin serves each slice as nvidia.com/gpu)."""
        return self.labels.get("cloud.google.com/gke-gpu-partition-size")

    @property
    def gpu_is_not_whole(self) -> bool:
        """The device plugin's nvidia.com/gpu here is a MIG slice or a share, not a whole GPU."""
        return self.mig_strategy == "single" or self.partition is not None or self.shares > 1


DRIVER = "580.95.05"  # fixtures/resourceslices (A100 and AKS samples); the DRA driver drops leading zeros
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}  # GKE's GPU node taint

H200 = Gpu("NVIDIA H200", 143771, "Hopper", "9.0")  # fixtures/hardware/nvidia-h200
H100 = Gpu("NVIDIA H100 80GB HBM3", 81559, "Hopper", "9.0")  # rules/clouds (open-gpu-kernel-modules 2330)
L4 = Gpu("NVIDIA L4", 23034, "Ada Lovelace", "8.9")
T4 = Gpu("Tesla T4", 15360, "Turing", "7.5")  # fixtures/resourceslices/openshift-v25.12-t4-condensed.yaml
A100_80_PCIE = Gpu("NVIDIA A100 80GB PCIe", 81920, "Ampere", "8.0")  # fixtures/.../issue719-aks-...
A100_40_PCIE = Gpu("NVIDIA A100-PCIE-40GB", 40960, "Ampere", "8.0")  # fixtures/.../pr717-...
A100_40_SXM = Gpu("NVIDIA A100-SXM4-40GB", 40960, "Ampere", "8.0")

MACHINES = (
    Machine("h200-gke", (H200,) * 8, {"cloud.google.com/gke-accelerator": "nvidia-h200-141gb",
                                       "topology.kubernetes.io/zone": "a"}, (GPU_TAINT,)),
    Machine("h100-p5", (H100,) * 8, {"node.kubernetes.io/instance-type": "p5.48xlarge",
                                      "karpenter.k8s.aws/instance-gpu-name": "h100",
                                      "karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia",
                                      "topology.kubernetes.io/zone": "a"}),
    Machine("h100-gke", (H100,) * 8, {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb",
                                       "topology.kubernetes.io/zone": "b"}, (GPU_TAINT,)),
    Machine("l4-gke", (L4,), {"cloud.google.com/gke-accelerator": "nvidia-l4", "topology.kubernetes.io/zone": "a"},
            (GPU_TAINT,)),
    Machine("t4-eks", (T4,) * 2, {"node.kubernetes.io/instance-type": "g4dn.12xlarge",
                                  "karpenter.k8s.aws/instance-gpu-name": "t4",
                                  "karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia"}),
    Machine("a100-aks", (A100_80_PCIE,) * 2, {"kubernetes.azure.com/accelerator": "nvidia"}),
    Machine("a100-pcie", (A100_40_PCIE,), {}, legacy_pci_attr=True),
    # MIG, mixed strategy: each profile is its own resource nvidia.com/mig-<profile>.
    Machine("a100-mig-mixed", (
        Gpu(A100_40_SXM.product, 40960, "Ampere", "8.0", ("1g.5gb",) * 7, {"1g.5gb": 4864}),
        Gpu(A100_40_SXM.product, 40960, "Ampere", "8.0", ("3g.20gb",) * 2, {"3g.20gb": 19968})),
            {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}, (GPU_TAINT,), mig_strategy="mixed"),
    Machine("h100-mig-mixed", (
        Gpu(H100.product, 81559, "Hopper", "9.0", ("1g.10gb+me",) + ("1g.10gb",) * 6,
            {"1g.10gb+me": 9984, "1g.10gb": 9984}),), {}, mig_strategy="mixed"),
    # MIG, single strategy: every slice is an nvidia.com/gpu.
    Machine("h100-mig-single", (
        Gpu(H100.product, 81559, "Hopper", "9.0", ("1g.10gb",) * 7, {"1g.10gb": 9984}),), {}, mig_strategy="single"),
    # GKE MIG node pool: every slice is an nvidia.com/gpu; GKE labels the partition size, not GFD's
    # labels (https://cloud.google.com/kubernetes-engine/docs/how-to/gpus-multi)
    Machine("a100-gke-mig", (
        Gpu(A100_40_SXM.product, 40960, "Ampere", "8.0", ("1g.5gb",) * 7, {"1g.5gb": 4864}),),
            {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100", "cloud.google.com/gke-gpu-partition-size": "1g.5gb"},
            (GPU_TAINT,), gfd=False),
    # GKE time-sharing node pool: 4 containers share each GPU, each asks nvidia.com/gpu: 1
    # (https://cloud.google.com/kubernetes-engine/docs/concepts/timesharing-gpus); GFD labels it too
    Machine("l4-gke-ts", (L4,), {"cloud.google.com/gke-accelerator": "nvidia-l4",
                                 "cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
                                 "cloud.google.com/gke-max-shared-clients-per-gpu": "4",
                                 "topology.kubernetes.io/zone": "a"}, (GPU_TAINT,), shares=4),
    Machine("cpu", (), {"topology.kubernetes.io/zone": "a"}),
)


def gfd_labels(m: Machine) -> dict[str, str]:
    labels = {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", **m.labels}
    if not m.gpus or not m.gfd:
        return labels
    g = m.gpus[0]
    major, minor = g.cc.split(".")
    d = DRIVER.split(".")
    labels.update({
        "nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": g.product.replace(" ", "-"),
        "nvidia.com/gpu.memory": str(g.memory_mib), "nvidia.com/gpu.count": str(len(m.gpus)),
        "nvidia.com/gpu.family": g.arch.lower().replace(" ", "-"),
        "nvidia.com/gpu.compute.major": major, "nvidia.com/gpu.compute.minor": minor,
        "nvidia.com/cuda.driver-version.major": d[0], "nvidia.com/cuda.driver-version.minor": d[1],
        "nvidia.com/cuda.driver-version.revision": d[2], "nvidia.com/cuda.driver-version.full": DRIVER,
        "nvidia.com/cuda.driver.major": d[0], "nvidia.com/cuda.driver.minor": d[1], "nvidia.com/cuda.driver.rev": d[2],
    })
    if m.mig_strategy:
        labels["nvidia.com/mig.strategy"] = m.mig_strategy
    if m.mig_strategy == "single":
        p = g.migs[0]
        labels.update({"nvidia.com/gpu.product": f"{labels['nvidia.com/gpu.product']}-MIG-{p}",
                       "nvidia.com/gpu.memory": str(g.mig_memory_mib[p]),
                       "nvidia.com/gpu.count": str(sum(len(x.migs) for x in m.gpus))})
    return labels


def dp_resource(m: Machine, profile: str | None) -> str:
    """The device-plugin resource that serves one device of this machine."""
    if profile is None or m.mig_strategy == "single" or m.partition:
        return "nvidia.com/gpu"
    return "nvidia.com/mig-" + profile.replace("+", ".")  # k8s-device-plugin: '+' is not allowed


def dp_allocatable(m: Machine) -> dict[str, str]:
    counts: Counter[str] = Counter()
    for g in m.gpus:
        for p in g.migs or (None,):
            counts[dp_resource(m, p)] += max(m.shares, 1)
    return {k: str(v) for k, v in counts.items()}


def dra_devices(m: Machine, node: str) -> list[tuple[dict[str, Any], str]]:
    """(ResourceSlice device, the device-plugin resource it was) for each device of the machine."""
    out = []
    for i, g in enumerate(m.gpus):
        uuid = "GPU-" + hashlib.sha1(f"{m.name}/{i}".encode()).hexdigest()[:8] + "-0000-0000-0000-000000000000"
        common = {"productName": {"string": g.product}, "brand": {"string": "Nvidia"},
                  "architecture": {"string": g.arch}, "cudaComputeCapability": {"version": g.cc + ".0"},
                  "driverVersion": {"version": ".".join(str(int(x)) for x in DRIVER.split("."))},
                  "cudaDriverVersion": {"version": "13.0.0"},
                  ("pcieBusID" if m.legacy_pci_attr else "resource.kubernetes.io/pciBusID"):
                      {"string": f"0000:{i + 4:02x}:00.0"}}
        if not g.migs:  # a whole GPU; MIG-partitioned parents are not published (driver PR #776)
            out.append(({"name": f"gpu-{i}", "attributes": {**common, "type": {"string": "gpu"},
                                                               "uuid": {"string": uuid}},
                         "capacity": {"memory": {"value": f"{g.memory_mib}Mi"}}}, dp_resource(m, None)))
        for j, p in enumerate(g.migs):
            name = f"gpu-{i}-mig-{p.replace('.', '').replace('+', '-')}-{j}"
            out.append(({"name": name, "attributes": {
                **common, "type": {"string": "mig"}, "profile": {"string": p}, "parentUUID": {"string": uuid},
                "uuid": {"string": f"MIG-{uuid[4:12]}-{j:04d}-0000-0000-000000000000"}},
                "capacity": {"memory": {"value": f"{g.mig_memory_mib[p]}Mi"}}}, dp_resource(m, p)))
    return out


# NVIDIA DRA driver v25.12 templates/deviceclass-{gpu,mig}.yaml (dra-api.md §4.1); the gpu class
# carries extendedResourceName on v1 (kept by 1.37's apiserver, cleared by 1.35's: gate off). A
# device-plugin node has the resource in its allocatable, so the scheduler does classic accounting
# there either way (KEP-5004 "Filter").
DEVICE_CLASSES = [
    {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
     "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && "
                                                   "device.attributes['gpu.nvidia.com'].type == 'gpu'"}}],
              "extendedResourceName": "nvidia.com/gpu"}},
    {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "mig.nvidia.com"},
     "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && "
                                                   "device.attributes['gpu.nvidia.com'].type == 'mig'"}}]}},
]


# ----------------------------------------------------------------------------------------------
# Workloads: every pod spec the rewrite converts, before and after.

# Left out, with why: time-slicing/MPS (the device plugin hands out replicas of one GPU; these
# nodes model none, and the DRA side shares one claim by design: a different device semantics,
# opted into with --sharing; the consumable-shares form is judged by
# tests/e2e/test_consumable_shares_scheduler.py on devices that publish shares).
# AMD and Intel fixtures: the 13 machines here are NVIDIA ones (no AMD or Intel DRA driver or
# device plugin is modelled yet); those vendors are judged by tests/test_vendor_paths.py and
# tests/test_vendor_file.py, a gap the closing note names.
SKIP_CASES = {"sharing-opt-in", "sharing-opt-in-mps", "sharing-consumable-shares", "vendors-amd", "vendors-intel"}


@dataclass(frozen=True)
class Workload:
    id: str  # source:workload:where
    source: str
    path: Path
    flags: tuple[str, ...]  # for `dra-migrate verify`
    workload: str
    where: str
    before: dict[str, Any]
    after: dict[str, Any]
    templates: tuple[dict[str, Any], ...]  # the ResourceClaimTemplates the migrated pod names
    mode: Mode = Mode()  # the rewrite's, for `rewrite --cluster` on the same input


def _cli_flags(flags_file: Path) -> tuple[str, ...]:
    mode = {}
    if flags_file.is_file():
        mode = dict(line.split("=", 1) for line in flags_file.read_text().splitlines() if "=" in line)
    mode = {k.strip(): v.strip() for k, v in mode.items()}
    out: list[str] = []
    if "kube_version" in mode:
        out += ["--kube-version", mode["kube_version"]]
    if mode.get("convert_unknown") == "true":
        out.append("--convert-unknown")
    if mode.get("keep_node_labels") == "true":
        out.append("--keep-node-labels")
    return tuple(out)


def _at(obj: Any, where: str) -> Any:
    for step in [s for s in where.split("/") if s]:
        obj = obj[int(step)] if isinstance(obj, list) else obj.get(step)
    return obj


def _label(o: dict[str, Any]) -> str:
    meta = o.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{o.get('kind')} {ns}{meta.get('name') or meta.get('generateName')}"


NOT_JUDGED: list[str] = []
INPUT_REJECTED: dict[str, str] = {}  # workload -> why the apiserver refused the original pod


def collect() -> list[Workload]:
    sources = [(f"examples/{p.name}", p, Mode(), ()) for p in sorted((REPO / "examples").glob("*.yaml"))]
    for case in sorted((REPO / "tests" / "cases").iterdir()):
        if (case / "input.yaml").is_file() and case.name not in SKIP_CASES:
            sources.append((f"cases/{case.name}", case / "input.yaml", mode_from_flags(case / "flags.txt"),
                            _cli_flags(case / "flags.txt")))
    out: list[Workload] = []
    seen: set[str] = set()
    for source, path, mode, flags in sources:
        text = path.read_text()
        result = migrate_text(text, str(path), mode)
        old = {_label(o): o for o in all_objects(text)}
        new_objs = all_objects(result.text) + list(result.templates)
        new = {_label(o): o for o in new_objs}
        claims = {(o.get("metadata") or {}).get("name"): o for o in new_objs
                  if o.get("kind") in ("ResourceClaimTemplate", "ResourceClaim")}
        for f in result.findings:
            if f.status is not Status.CONVERTED or f.code != "GPU000":
                continue
            before, after = _at(old[f.workload], f.where), _at(new[f.workload], f.where)
            wid = f"{source}:{f.workload}:{f.where}"
            refs = [c.get("resourceClaimTemplateName") or c.get("resourceClaimName")
                    for c in after.get("resourceClaims") or []]
            if any(r not in claims or claims[r]["kind"] != "ResourceClaimTemplate" for r in refs):
                NOT_JUDGED.append(f"{wid}: names a claim or template the file does not define")
                continue
            templates = tuple(claims[r] for r in refs)
            key = json.dumps([before, after, templates, flags], sort_keys=True)
            if key in seen:  # formatting cases (crlf, flow style...) convert the same pod
                continue
            seen.add(key)
            out.append(Workload(wid, source, path, flags, f.workload, f.where, before, after, templates, mode))
    return out


WORKLOADS = collect()


def need(spec: dict[str, Any]) -> dict[str, int]:
    """The device-plugin resources the pod asks for: max(largest init container, sum of the rest)
    (kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers;
    sidecars, restartPolicy Always, add to both)."""
    def asks(c: dict[str, Any]) -> Counter[str]:
        res = c.get("resources") or {}
        merged = {**(res.get("requests") or {}), **(res.get("limits") or {})}
        return Counter({k: int(str(v)) for k, v in merged.items() if k.startswith("nvidia.com/") and int(str(v))})

    total: Counter[str] = Counter()
    for c in spec.get("containers") or []:
        total += asks(c)
    side: Counter[str] = Counter()
    init_peak: Counter[str] = Counter()
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            side += asks(c)
        else:
            init_peak = init_peak | (asks(c) + side)
    return dict((total + side) | init_peak)


# ----------------------------------------------------------------------------------------------
# What is created on the cluster.


def pinned_pod(spec: dict[str, Any], name: str, namespace: str, node: str, world: str) -> dict[str, Any]:
    """The pod spec, reduced to what scheduling reads, pinned to one node.

    Kept: containers' names, images and resources (and a sidecar's restartPolicy), nodeSelector,
    node affinity, tolerations, resourceClaims. Dropped: volumes (a PVC would block on binding),
    pod (anti-)affinity and spread constraints (they depend on other pods; the rewrite does not
    touch them), priority and runtime classes, service accounts (not on this cluster).
    """
    def ctr(c: dict[str, Any]) -> dict[str, Any]:
        out = {"name": c.get("name") or "c", "image": c.get("image") or "x"}
        for k in ("resources", "restartPolicy"):
            if k in c:
                out[k] = c[k]
        return out

    pod: dict[str, Any] = {"containers": [ctr(c) for c in spec.get("containers") or []],
                           "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0}
    if spec.get("initContainers"):
        pod["initContainers"] = [ctr(c) for c in spec["initContainers"]]
    for k in ("nodeSelector", "tolerations", "resourceClaims"):
        if spec.get(k):
            pod[k] = copy.deepcopy(spec[k])
    na = copy.deepcopy((spec.get("affinity") or {}).get("nodeAffinity") or {})
    pin = {"key": "metadata.name", "operator": "In", "values": [node]}
    req = na.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = req.get("nodeSelectorTerms") or [{}]
    for t in terms:  # terms are ORed: the pin goes into each
        t["matchFields"] = list(t.get("matchFields") or []) + [pin]
    req["nodeSelectorTerms"] = terms
    pod["affinity"] = {"nodeAffinity": na}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"e2e-sched": world}}, "spec": pod}


def other_resources() -> dict[str, str]:
    """Every non-GPU resource a workload asks for (EFA, hugepages...), plentiful on every node: the
    judge compares devices, not whether a machine has an EFA adapter (which `verify` does not read)."""
    names = {k for w in WORKLOADS for spec in (w.before, w.after)
             for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
             for which in ("requests", "limits") for k in ((c.get("resources") or {}).get(which) or {})
             if not k.startswith("nvidia.com/") and k not in ("cpu", "memory", "ephemeral-storage")}
    return {k: "1Ti" if k.startswith("hugepages-") else "1000" for k in names}


def node_object(m: Machine, name: str, group: str, world: str) -> dict[str, Any]:
    alloc = {"cpu": "192", "memory": "2Ti", "pods": "110", "ephemeral-storage": "10Ti", **other_resources()}
    if world == "dp":
        alloc.update(dp_allocatable(m))
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {**gfd_labels(m), "kubernetes.io/hostname": name,
                                                   "e2e-group": group, "e2e-world": world}},
            "spec": {"taints": [dict(t) for t in m.taints]},
            # A kubelet registers its node with its status (capacity, allocatable) on create.
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def slice_object(m: Machine, node: str) -> dict[str, Any]:
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
            "metadata": {"name": f"{node}-gpu.nvidia.com"},
            "spec": {"driver": "gpu.nvidia.com", "nodeName": node,
                     "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
                     "devices": [d for d, _ in dra_devices(m, node)]}}


@dataclass
class Fit:
    fits: bool
    message: str
    devices: Counter[str] = field(default_factory=Counter)  # device-plugin resource -> count
    rejected: bool = False  # the apiserver refused the pod


@dataclass
class Judged:
    dp: dict[str, Fit]  # machine -> the original pod's fate on its device-plugin node
    dra: dict[str, Fit]  # machine -> the migrated pod's fate on its DRA node
    group: str


def _pool_run(fn: Any, items: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(8) as ex:
        return list(ex.map(fn, items))


def _create(dynamic: Any, obj: dict[str, Any], rejected_ok: bool = False) -> str | None:
    """None, or why the apiserver rejected a pod (rejected_ok); anything else rejected is an error."""
    from kubernetes.client.exceptions import ApiException

    res = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    try:
        res.create(body=obj, namespace=(obj["metadata"].get("namespace") if res.namespaced else None))
    except ApiException as e:
        if e.status == 422 and rejected_ok:
            return (json.loads(e.body).get("message") or "invalid")
        if e.status != 409:
            raise RuntimeError(f"create {_label(obj)}: {e.status} {e.body}") from None
    return None


def _condition(pod: Any) -> tuple[str | None, str]:
    for c in (pod.status.conditions or []) if pod.status else []:
        if c.type == "PodScheduled":
            return c.status, c.message or c.reason or ""
    return None, ""


def _decided(pod: Any) -> bool:
    status, message = _condition(pod)
    if status == "True":
        return True
    if status != "False":
        return False
    # Before the claim controller has made the pod's claims the scheduler says so and retries:
    # not an answer yet.
    wanted = {c.name for c in pod.spec.resource_claims or []}
    made = {s.name for s in (pod.status.resource_claim_statuses or []) if s.resource_claim_name}
    return wanted <= made and "waiting for" not in message and "not found" not in message


@pytest.fixture(scope="module")
def judged(control_plane: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Judged]:
    from kubernetes import client
    from kubernetes.dynamic import DynamicClient

    from controlplane import SCHEDULING_MISSING

    if control_plane.minor in SCHEDULING_MISSING:
        pytest.skip(SCHEDULING_MISSING[control_plane.minor])
    cache = tmp_path_factory.mktemp("sched-discovery") / f"{control_plane.minor}.json"
    dynamic = DynamicClient(control_plane.api_client, cache_file=str(cache))
    core = client.CoreV1Api(control_plane.api_client)
    start = time.monotonic()
    for dc in DEVICE_CLASSES:
        _create(dynamic, dc)
    objects: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    plan: dict[str, tuple[str, dict[tuple[str, str], str]]] = {}  # wid -> (ns, (machine, world) -> pod)
    for i, w in enumerate(WORKLOADS):
        ns = f"sched-{i}"
        objects += [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
        where: dict[tuple[str, str], str] = {}
        for m in MACHINES:
            for world, spec in (("dp", w.before), ("dra", w.after)):
                node = f"{world}-{m.name}-w{i}"
                objects.append(node_object(m, node, f"w{i}", world))
                if world == "dra" and m.gpus:
                    objects.append(slice_object(m, node))
                pods.append(pinned_pod(spec, f"{world}-{m.name}", ns, node, world))
                where[(m.name, world)] = f"{world}-{m.name}"
        plan[w.id] = (ns, where)
    _pool_run(lambda o: _create(dynamic, o), objects)
    sa = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": f"sched-{i}"}}
          for i in range(len(WORKLOADS))]
    templates = [dict(t, metadata={**t["metadata"], "namespace": f"sched-{i}"})
                 for i, w in enumerate(WORKLOADS) for t in w.templates]
    _pool_run(lambda o: _create(dynamic, o), sa + templates)
    rejected = {(p["metadata"]["namespace"], p["metadata"]["name"]): why
                for p, why in zip(pods, _pool_run(lambda o: _create(dynamic, o, rejected_ok=True), pods)) if why}
    created = time.monotonic()

    deadline = time.monotonic() + SCHEDULE_TIMEOUT
    state: dict[tuple[str, str], Any] = {}
    while time.monotonic() < deadline:
        state = {(p.metadata.namespace, p.metadata.name): p
                 for p in core.list_pod_for_all_namespaces(label_selector="e2e-sched").items}
        if len(state) + len(rejected) == len(pods) and all(_decided(p) for p in state.values()):
            break
        time.sleep(0.5)
    decided = time.monotonic()

    slices = {}
    for m in MACHINES:
        for i in range(len(WORKLOADS)):
            slices[f"dra-{m.name}-w{i}"] = {d["name"]: r for d, r in dra_devices(m, "")}
    rc = dynamic.resources.get(api_version="resource.k8s.io/v1", kind="ResourceClaim")
    claims = {(c["metadata"]["namespace"], c["metadata"]["name"]): c for c in rc.get().to_dict()["items"]}
    out: dict[str, Judged] = {}
    for i, w in enumerate(WORKLOADS):
        ns, where = plan[w.id]
        res: dict[str, dict[str, Fit]] = {"dp": {}, "dra": {}}
        for (mname, world), pname in where.items():
            p = state.get((ns, pname))
            status, message = _condition(p) if p else (None, f"rejected: {rejected.get((ns, pname))}")
            fit = Fit(status == "True", message if status != "True" else f"bound to {p.spec.node_name}",
                      rejected=p is None)
            if p is not None and not _decided(p):
                fit = Fit(False, f"undecided after {SCHEDULE_TIMEOUT:.0f} s: {status} {message}")
            if world == "dp" and fit.fits:
                fit.devices = Counter(need(w.before))
                if BY_NAME[mname].shares > 1:  # what it got there are shares of a GPU
                    fit.devices = Counter({f"{r} (share)": n for r, n in fit.devices.items()})
            if world == "dra" and fit.fits:
                for s in p.status.resource_claim_statuses or []:
                    claim = claims.get((ns, s.resource_claim_name)) or {}
                    alloc = ((claim.get("status") or {}).get("allocation") or {}).get("devices") or {}
                    for r in alloc.get("results") or []:
                        fit.devices[slices[r["pool"]].get(r["device"], "?")] += 1
            res[world][mname] = fit
        out[w.id] = Judged(res["dp"], res["dra"], f"w{i}")
    print(f"\ne2e {control_plane.version}: {len(WORKLOADS)} workloads x {len(MACHINES)} machines: "
          f"{len(objects)} objects and {len(pods)} pods created in {created - start:.1f} s, "
          f"scheduled in {decided - created:.1f} s")
    yield out
    _cleanup(control_plane, dynamic, core, len(WORKLOADS))


def _cleanup(cp: Any, dynamic: Any, core: Any, n: int) -> None:
    # Pods first (grace 0: no kubelet confirms), then claims, then the nodes and slices; the
    # namespaces stay (no namespace controller runs), empty.
    def quietly(fn: Any) -> Any:
        def run(arg: Any) -> None:
            with contextlib.suppress(Exception):
                fn(arg)
        return run

    claims, templates = (dynamic.resources.get(api_version="resource.k8s.io/v1", kind=k)
                         for k in ("ResourceClaim", "ResourceClaimTemplate"))
    spaces = [f"sched-{i}" for i in range(n)]
    _pool_run(quietly(lambda ns: core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)), spaces)
    _pool_run(quietly(lambda ns: (claims.delete(namespace=ns), templates.delete(namespace=ns))), spaces)
    quietly(lambda _: dynamic.resources.get(api_version="resource.k8s.io/v1", kind="ResourceSlice").delete())(None)
    quietly(lambda _: core.delete_collection_node(label_selector="e2e-group"))(None)


# ----------------------------------------------------------------------------------------------
# The verdicts.


BY_NAME = {m.name: m for m in MACHINES}


def known_change(machine: str, a: Fit, b: Fit) -> bool:
    """A device-set change the manifest-only rewrite makes knowingly, that `verify` must report on
    the snapshot and `rewrite --cluster` must not make.

    Where the device plugin's nvidia.com/gpu is a MIG slice (single strategy, a GKE MIG pool) or a
    share (GKE time-sharing), a pod that asks for nvidia.com/gpu without selecting the node's MIG
    or sharing labels (GPU009, GPU103) also lands there; offline, the rewrite cannot know the fleet
    has such nodes and asks for whole exclusive GPUs (class gpu.nvidia.com): it loses the MIG
    nodes, and takes a whole GPU where it had a share.
    """
    return BY_NAME[machine].gpu_is_not_whole and a.fits and (not b.fits or a.devices != b.devices)


KNOWN_CHANGES: dict[str, set[str]] = {}  # workload -> machines (listed at the end of the run)


def scheduler_verdict(j: Judged, known: bool = True) -> tuple[str, list[str]]:
    """equivalent / different / nothing-to-compare, and each machine where the two worlds differ
    (known: also the known changes)."""
    diffs = []
    if all(f.rejected for f in j.dp.values()):
        return "input-rejected", [next(iter(j.dp.values())).message]
    for m in j.dp:
        a, b = j.dp[m], j.dra[m]
        if not known and known_change(m, a, b):
            continue
        if a.fits != b.fits:
            diffs.append(f"{m}: original {'fits' if a.fits else 'does not fit'} ({a.message}); migrated "
                         f"{'fits' if b.fits else 'does not fit'} ({b.message})")
        elif a.fits and a.devices != b.devices:
            diffs.append(f"{m}: original gets {dict(a.devices)}, migrated gets {dict(b.devices)}")
    if diffs:
        return "different", diffs
    if not any(f.fits for f in j.dp.values()):
        return "nothing-to-compare", []
    return "equivalent", []


IDS = [w.id for w in WORKLOADS]


@pytest.mark.parametrize("w", WORKLOADS, ids=IDS)
def test_scheduler_places_migrated_pod_like_the_original(judged: dict[str, Judged], w: Workload) -> None:
    j = judged[w.id]
    verdict, diffs = scheduler_verdict(j, known=False)
    if verdict == "input-rejected":
        # The input could never run (e.g. an extended resource in requests without limits): the
        # migrated pod must at least be accepted everywhere.
        assert not any(f.rejected for f in j.dra.values()), [f.message for f in j.dra.values()]
        INPUT_REJECTED[w.id] = diffs[0]
        return
    known = {m for m in j.dp if known_change(m, j.dp[m], j.dra[m])}
    if known:
        KNOWN_CHANGES.setdefault(w.id, set()).update(known)
    assert diffs == [], f"{w.id}: the scheduler places the migrated pod differently"


def test_the_fixture_set_reaches_devices(judged: dict[str, Judged]) -> None:
    # The judge must be able to say yes and no: most workloads fit somewhere, and none fits the
    # CPU-only machine.
    fits = [w for w in WORKLOADS if any(f.fits for f in judged[w.id].dp.values())]
    assert len(fits) >= len(WORKLOADS) // 2, [w.id for w in WORKLOADS if w not in fits]
    assert not any(judged[w.id].dp["cpu"].fits or judged[w.id].dra["cpu"].fits for w in WORKLOADS)


def snapshots(dynamic: Any) -> dict[str, str]:
    """`kubectl get nodes,resourceslices,deviceclasses -o yaml` read back from the cluster (one list
    of each), split into one snapshot per workload's group of nodes."""
    def items(api_version: str, kind: str) -> list[dict[str, Any]]:
        got = dynamic.resources.get(api_version=api_version, kind=kind).get().to_dict()
        return [dict(o, apiVersion=api_version, kind=kind) for o in got["items"]]  # as kubectl fills them in

    nodes, slices = items("v1", "Node"), items("resource.k8s.io/v1", "ResourceSlice")
    classes = items("resource.k8s.io/v1", "DeviceClass")
    group_of = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get("e2e-group") for n in nodes}
    groups: dict[str, list[dict[str, Any]]] = {}
    for o in nodes + slices:
        name = o["metadata"]["name"] if o["kind"] == "Node" else o["spec"].get("nodeName")
        if group_of.get(name):
            groups.setdefault(group_of[name], []).append(o)
    return {g: yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs + classes})
            for g, objs in groups.items()}


@pytest.fixture(scope="module")
def verify_verdicts(control_plane: Any, judged: dict[str, Judged], tmp_path_factory: pytest.TempPathFactory
                    ) -> dict[str, tuple[str, list[str]]]:
    from kubernetes.dynamic import DynamicClient

    from migrator.cli import main

    dynamic = DynamicClient(control_plane.api_client)
    tmp = tmp_path_factory.mktemp("verify")
    texts = snapshots(dynamic)
    out: dict[str, tuple[str, list[str]]] = {}
    for w in WORKLOADS:
        snap = tmp / f"{judged[w.id].group}.yaml"
        snap.write_text(texts[judged[w.id].group])
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["verify", str(w.path), "--cluster", str(snap), "--format", "json", *w.flags])
        assert code in (0, 1), f"{w.id}: verify exited {code}"
        for o in json.loads(buf.getvalue())["workloads"]:
            if o["workload"] == w.workload and o["podSpec"] == w.where:
                out[w.id] = (o["result"], o["details"])
    return out


@pytest.mark.parametrize("w", WORKLOADS, ids=IDS)
def test_verify_agrees_with_the_scheduler(judged: dict[str, Judged], verify_verdicts: dict[str, Any],
                                          w: Workload) -> None:
    want, diffs = scheduler_verdict(judged[w.id])
    got, details = verify_verdicts.get(w.id, ("missing", []))
    if want == "input-rejected":  # the pod cannot exist; verify still compares device sets
        assert got != "missing", f"{w.id}: verify did not judge it"
        return
    got, details = verify_verdicts.get(w.id, ("missing", []))
    assert got == want, f"{w.id}: verify says {got} ({details}); the scheduler: {want} {diffs}"
    # And on the same machines: verify names each device it finds changed by its node.
    assert verify_machines(details) == {d.split(":")[0] for d in diffs}, (details, diffs)


def verify_machines(details: list[str]) -> set[str]:
    """The machines whose devices verify's detail lines name (`<node>/<device>`)."""
    import re

    # `<node>/<device>` in device lines, `<node>: ` in the lines on what nvidia.com/gpu is on a node
    return set(re.findall(r"\b(?:dra|dp)-([a-z0-9-]+?)-w\d+(?:/|: )", " ".join(details)))


def test_verify_live_context_agrees_with_the_scheduler(control_plane: Any, judged: dict[str, Judged]) -> None:
    # Live mode (issue 10 item 6): `verify --context` reads this cluster itself (GET only). It sees
    # every workload's nodes at once (copies of the same machines), so each verdict, and the
    # machines it names, must still be the scheduler's.
    import os

    from migrator.cli import main

    by_flags: dict[tuple[str, ...], list[Workload]] = {}
    for w in WORKLOADS:
        by_flags.setdefault(w.flags, []).append(w)
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(control_plane.kubeconfig)
    got: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
    try:
        for flags, ws in by_flags.items():
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                code = main(["verify", *sorted({str(w.path) for w in ws}), "--context", "e2e", "--format", "json",
                             *flags])
            assert code in (0, 1), f"verify --context exited {code}"
            for o in json.loads(buf.getvalue())["workloads"]:
                got[(o["file"], o["workload"], o["podSpec"])] = (o["result"], o["details"])
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
    wrong = []
    for w in WORKLOADS:
        want, diffs = scheduler_verdict(judged[w.id])
        if want == "input-rejected":
            continue
        result, details = got.get((str(w.path), w.workload, w.where), ("missing", []))
        if result != want or verify_machines(details) != {d.split(":")[0] for d in diffs}:
            wrong.append(f"{w.id}: verify --context says {result} on {sorted(verify_machines(details))}; "
                         f"the scheduler: {want} on {sorted(d.split(':')[0] for d in diffs)}")
    assert wrong == []


def test_plan_live_context_reads_what_a_snapshot_file_holds(control_plane: Any, judged: dict[str, Judged],
                                                            tmp_path: Path) -> None:
    # Live mode (issue 10 item 6): `plan --context` on this cluster (a thousand nodes, pods bound
    # and pending, allocated claims) gives the plan that the same objects dumped to a file give.
    import os

    from kubernetes.dynamic import DynamicClient

    from migrator.cli import main

    dynamic = DynamicClient(control_plane.api_client)
    items: list[dict[str, Any]] = []
    for api_version, kind in (("v1", "Node"), ("v1", "Pod"), ("policy/v1", "PodDisruptionBudget"),
                              ("resource.k8s.io/v1", "ResourceSlice"), ("resource.k8s.io/v1", "DeviceClass"),
                              ("resource.k8s.io/v1", "ResourceClaim"), ("resource.k8s.io/v1", "ResourceClaimTemplate")):
        got = dynamic.resources.get(api_version=api_version, kind=kind).get().to_dict()
        items += [dict(o, apiVersion=api_version, kind=kind) for o in got["items"]]
    snap = tmp_path / "snapshot.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    manifest = str(REPO / "examples" / "inference-vllm.yaml")

    def plan(*where: str) -> tuple[int, Any]:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["plan", manifest, *where, "--format", "json"])
        return code, json.loads(buf.getvalue())

    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(control_plane.kubeconfig)
    try:
        live = plan("--context", "e2e")
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
    from_file = plan("--cluster", str(snap))
    assert live == from_file
    assert "llama-8b" in json.dumps(live[1])  # a plan of the workload, not of nothing


# ----------------------------------------------------------------------------------------------
# rewrite --cluster: with the machines' nodes, the rewrite knows what nvidia.com/gpu is where each
# pod lands, so the known changes above are not made (GPU113 reports the pod instead).


def machine_snapshot() -> list[dict[str, Any]]:
    """The objects of one group of machines, as this test creates them (device-plugin and DRA
    nodes, slices, DeviceClasses): what `kubectl get nodes,resourceslices,deviceclasses` shows."""
    objs: list[dict[str, Any]] = []
    for m in MACHINES:
        for world in ("dp", "dra"):
            node = f"{world}-{m.name}-w0"
            objs.append(node_object(m, node, "w0", world))
            if world == "dra" and m.gpus:
                objs.append(slice_object(m, node))
    return objs + DEVICE_CLASSES


@pytest.fixture(scope="module")
def cluster_rewrites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any]]:
    """Per workload: the --cluster rewrite's pod (None: not converted) and its GPU113 finding."""
    import dataclasses

    from migrator.proof.cluster import load_snapshot

    snap_file = tmp_path_factory.mktemp("cluster") / "machines.yaml"
    snap_file.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": machine_snapshot()}))
    snap = load_snapshot(str(snap_file))
    out: dict[str, tuple[Any, Any]] = {}
    for w in WORKLOADS:
        result = migrate_text(w.path.read_text(), str(w.path), dataclasses.replace(w.mode, cluster=snap))
        mine = [f for f in result.findings if f.workload == w.workload and f.where == w.where]
        gpu113 = next((f for f in mine if f.code == "GPU113"), None)
        pod = None
        if any(f.code == "GPU000" and f.status is Status.CONVERTED for f in mine):
            new_objs = all_objects(result.text) + list(result.templates)
            pod = _at({_label(o): o for o in new_objs}[w.workload], w.where)
        out[w.id] = (pod, gpu113)
    return out


def cluster_machines(message: str) -> set[str]:
    import re

    return set(re.findall(r"\b(?:dra|dp)-([a-z0-9-]+?)-w0\b", message))


@pytest.mark.parametrize("w", WORKLOADS, ids=IDS)
def test_rewrite_with_the_cluster_makes_no_known_change(judged: dict[str, Judged], cluster_rewrites: dict[str, Any],
                                                        w: Workload) -> None:
    j = judged[w.id]
    pod, finding = cluster_rewrites[w.id]
    known = {m for m in j.dp if known_change(m, j.dp[m], j.dra[m])}
    if known:
        # not converted to whole GPUs: reported, naming every machine where the pod would lose
        # its MIG slice or share (the scheduler's verdict above)
        assert pod is None and finding is not None and finding.status is Status.MANUAL, (w.id, finding)
        assert known <= cluster_machines(finding.message), (known, finding.message)
        assert cluster_machines(finding.message) <= {m.name for m in MACHINES if m.gpu_is_not_whole} | {
            m for m in j.dp if j.dp[m].fits}, finding.message
    else:
        # nothing to lose: the same rewrite as without the cluster, so the scheduler's verdict on it
        # (no difference but known ones) is the verdict on this one
        assert pod == w.after, (w.id, finding and finding.message)


def test_rewrite_with_the_cluster_reports_what_verify_and_the_scheduler_flag(judged: dict[str, Judged],
                                                                             cluster_rewrites: dict[str, Any]) -> None:
    # The judge is not vacuous: the machine set has pods that lose a MIG node, a GKE MIG pool and a
    # time-shared GPU without the cluster; with it, none is converted.
    lost = {m for w in WORKLOADS for m in judged[w.id].dp if known_change(m, judged[w.id].dp[m], judged[w.id].dra[m])}
    assert lost == {"h100-mig-single", "a100-gke-mig", "l4-gke-ts"}, lost
    with_known = {w.id for w in WORKLOADS if any(known_change(m, judged[w.id].dp[m], judged[w.id].dra[m])
                                                 for m in judged[w.id].dp)}
    assert {w.id for w in WORKLOADS if cluster_rewrites[w.id][0] is None} == with_known


def test_rewrite_live_context_decides_as_the_snapshot_file(control_plane: Any, judged: dict[str, Judged],
                                                           cluster_rewrites: dict[str, Any]) -> None:
    # `rewrite --context` reads this cluster itself (GET only): every workload's nodes, copies of the
    # same machines. Each pod is reported exactly when the snapshot file of one group reports it.
    import os
    import re

    from migrator.cli import main

    by_flags: dict[tuple[str, ...], list[Workload]] = {}
    for w in WORKLOADS:
        by_flags.setdefault(w.flags, []).append(w)
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(control_plane.kubeconfig)
    reported: set[tuple[str, str]] = set()  # (file, workload) with a GPU113 manual line
    try:
        for flags, ws in by_flags.items():
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                code = main(["rewrite", *sorted({str(w.path) for w in ws}), "--context", "e2e", *flags])
            assert code == 0, err.getvalue()
            for line in err.getvalue().splitlines():
                m = re.match(r"(.+?):\d+: manual GPU113 (.+?): cluster ", line)
                if m:
                    reported.add((m.group(1), m.group(2)))
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
    want = {(str(w.path), w.workload) for w in WORKLOADS if cluster_rewrites[w.id][0] is None}
    assert want and want <= reported, sorted(want - reported)
    converted = {(str(w.path), w.workload) for w in WORKLOADS if cluster_rewrites[w.id][0] is not None}
    assert not (converted & reported) or all(  # another pod spec of the same workload may be the one
        any(cluster_rewrites[v.id][0] is None for v in WORKLOADS if (str(v.path), v.workload) == k)
        for k in converted & reported), sorted(converted & reported)
