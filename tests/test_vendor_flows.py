"""AMD and Intel through rewrite, verify and plan (issue 12: "verify, plan and the codemod work for
every profile"), on generated clusters: half the nodes still run the device plugin, half publish the
vendor's DRA devices (attributes as rules/vendors/amd.yaml and intel.yaml cite them from the
drivers' documentation).

What must hold for each vendor: the rewrite asks the vendor's DeviceClass for the same count, with
the selector its resource name chose (AMD: full GPUs, not partitions; Intel: the kernel driver the
resource name chose); verify proves the same devices when the DRA devices are what the device plugin
served and reports a difference when they are not (an Intel device bound to the other kernel driver,
an AMD node offering only partitions); the plan's proof holds and its runbook names only the
vendor's own objects (no NVIDIA label, class or operator step in an AMD or Intel cluster).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import cli

VENDORS: dict[str, dict[str, Any]] = {
    # ROCm/k8s-gpu-dra-driver docs/driver-attributes.md: type amdgpu (full GPU) / amdgpu-partition
    "amd": {"resource": "amd.com/gpu", "driver": "gpu.amd.com", "class": "gpu.amd.com",
            "same": {"type": {"string": "amdgpu"}, "productName": {"string": "AMD Instinct MI300X"},
                     "deviceID": {"string": "0x74a1"}},
            "other": {"type": {"string": "amdgpu-partition"}, "productName": {"string": "AMD Instinct MI300X"},
                      "partitionProfile": {"string": "cpx_nps4"}, "deviceID": {"string": "0x74a1"}},
            "selector": "device.driver == 'gpu.amd.com'"},
    # intel/intel-resource-drivers-for-kubernetes node_state.go: driver = the bound kernel driver
    "intel-xe": {"resource": "gpu.intel.com/xe", "driver": "gpu.intel.com", "class": "gpu.intel.com",
                 "same": {"type": {"string": "gpu"}, "driver": {"string": "xe"}, "model": {"string": "Max 1550"}},
                 "other": {"type": {"string": "gpu"}, "driver": {"string": "i915"}, "model": {"string": "Max 1550"}},
                 "selector": 'device.driver == "gpu.intel.com"'},
    "intel-i915": {"resource": "gpu.intel.com/i915", "driver": "gpu.intel.com", "class": "gpu.intel.com",
                   "same": {"type": {"string": "gpu"}, "driver": {"string": "i915"}, "model": {"string": "Flex 170"}},
                   "other": {"type": {"string": "gpu"}, "driver": {"string": "xe"}, "model": {"string": "Flex 170"}},
                   "selector": 'device.driver == "gpu.intel.com"'},
}


def _cluster(v: dict[str, Any], attrs: dict[str, Any], dp_nodes: int = 2, dra_nodes: int = 2) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [{"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass",
                                   "metadata": {"name": v["class"]},
                                   "spec": {"selectors": [{"cel": {"expression": v["selector"]}}]}}]
    for i in range(dra_nodes + dp_nodes):
        name, dra = f"node-{i}", i < dra_nodes
        objs.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                     "status": {"allocatable": {} if dra else {v["resource"]: "4"},
                                "nodeInfo": {"kubeletVersion": "v1.35.2"}}})
        if dra:
            objs.append({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": f"{name}-gpus"},
                         "spec": {"driver": v["driver"], "nodeName": name,
                                  "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                                  "devices": [{"name": f"gpu-{g}", "attributes": attrs,
                                               "capacity": {"memory": {"value": "64Gi"}}} for g in range(4)]}})
    return objs


def _deployment(resource: str, count: int) -> str:
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "infer", "namespace": "ml"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "infer"}},
                 "template": {"metadata": {"labels": {"app": "infer"}},
                              "spec": {"containers": [{"name": "server", "image": "server:1",
                                                       "resources": {"limits": {resource: count}}}]}}}},
        sort_keys=False)


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> dict[str, Any]:
    return VENDORS[request.param]


def _write(tmp_path: Path, v: dict[str, Any], attrs: dict[str, Any]) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "infer.yaml").write_text(_deployment(v["resource"], 2), encoding="utf-8")
    snap = tmp_path / "snapshot.yaml"
    snap.write_text(yaml.safe_dump_all(_cluster(v, attrs)), encoding="utf-8")
    return repo, snap


def test_rewrite_asks_the_vendor_class_for_the_same_count(tmp_path: Path, vendor: dict[str, Any]) -> None:
    repo, _ = _write(tmp_path, vendor, vendor["same"])
    code, out, err = cli("rewrite", "--write", str(repo))
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all((repo / "infer.yaml").read_text()) if d]
    pod = docs[0]["spec"]["template"]["spec"]
    assert vendor["resource"] not in str(pod["containers"][0]["resources"])
    assert {"key": vendor["resource"], "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    template = next(d for d in docs if d["kind"] == "ResourceClaimTemplate")
    (req,) = template["spec"]["spec"]["devices"]["requests"]
    assert req["exactly"]["deviceClassName"] == vendor["class"] and req["exactly"]["count"] == 2
    # the selector the resource name chose: never a bare class that would also hand out the other kind
    (sel,) = req["exactly"]["selectors"]
    assert vendor["driver"] in sel["cel"]["expression"]
    assert cli("rewrite", "--check", str(repo))[0] == 0  # a second run changes nothing


def test_verify_proves_the_same_devices(tmp_path: Path, vendor: dict[str, Any]) -> None:
    repo, snap = _write(tmp_path, vendor, vendor["same"])
    code, out, err = cli("verify", "--cluster", str(snap), str(repo))
    assert code == 0, out + err
    assert "1 with the same devices, 0 with different devices" in out + err


def test_verify_reports_devices_the_device_plugin_never_served(tmp_path: Path, vendor: dict[str, Any]) -> None:
    """DRA devices of the other kind (an AMD partition for amd.com/gpu; an Intel device bound to the
    other kernel driver) are not what the pod got: not proven the same."""
    repo, snap = _write(tmp_path, vendor, vendor["other"])
    code, out, err = cli("verify", "--cluster", str(snap), str(repo))
    assert code == 1, out + err
    assert "0 with the same devices" in out + err and "OK " not in out


def test_plan_holds_and_names_only_the_vendors_objects(tmp_path: Path, vendor: dict[str, Any]) -> None:
    repo, snap = _write(tmp_path, vendor, vendor["same"])
    code, out, err = cli("plan", "--cluster", str(snap), str(repo))
    assert code == 0, out + err
    assert "create   ResourceClaimTemplate ml/infer-gpu-" in out
    assert "update   Deployment ml/infer: switch the pod template to claims" in out
    assert f"DeviceClass {vendor['class']} exists" in out
    assert "nvidia" not in out.lower(), [line for line in out.splitlines() if "nvidia" in line.lower()]


@pytest.mark.parametrize("resources, classes, want", [
    (["amd.com/gpu"], [], {"amd"}),
    (["gpu.intel.com/xe", "nvidia.com/gpu"], [], {"intel", "nvidia"}),
    (["nvidia.com/mig-1g.10gb"], ["gpu.amd.com"], {"nvidia", "amd"}),
    ([], ["gpu.intel.com"], {"intel"}),
    (["example.com/fpga"], ["no-such-class"], set()),
])
def test_one_reading_of_whose_devices(resources: list[str], classes: list[str], want: set[str]) -> None:
    """The plan's runbook (_operator_in_play), its node cut-overs (Planner.stack_for) and the
    missing-DeviceClass preflight read the vendor through Tables.vendors_of / Profiles.for_class."""
    from migrator.tables import load_tables

    t = load_tables()
    assert t.vendors_of(resources, classes) == want
    for c in classes:
        p = t.vendors.for_class(c)
        assert (p.vendor if p is not None else None) == next(iter(want & {"amd", "intel"}), None)


def _sharing_cases() -> list[tuple[str, str, str, str, str]]:
    """(vendor, resource, label, value, whole class) for every sharing label of every shipped profile:
    a value each label's own pattern (or integer minimum, or closed set) says is a share or a partition."""
    from migrator.vendors import builtin_profiles

    samples = ["Tesla-T4-SHARED", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "cpx_nps1", "dpx_nps2", "qpx_nps1"]
    out = []
    for p in builtin_profiles(str(Path(__file__).resolve().parent.parent / "rules" / "vendors")).profiles:
        if p.nodes is None:
            continue
        for s in p.sharing.labels:
            if s.domain == "integer":
                value = str(s.minimum)
            else:
                value = next(v for v in (list(s.all) if s.domain == "closed" else samples) if s.value.search(v))
            out.append((p.vendor, p.nodes.resource, s.label, value, p.whole_class))
    return out


@pytest.mark.parametrize("vendor_, resource, label, value, whole", _sharing_cases())
def test_selecting_shared_or_partitioned_nodes_never_becomes_whole_devices(
        tmp_path: Path, vendor_: str, resource: str, label: str, value: str, whole: str) -> None:
    """A pod that selects the nodes where its vendor's resource is a share or a partition (the
    profile's sharing.labels) gets what it got there, or is reported and left as it is; an AMD pod on
    amd.com/gpu.compute-memory-partition nodes was converted to whole gpu.amd.com GPUs."""
    f = tmp_path / "pod.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                 "spec": {"nodeSelector": {label: value},
                                          "containers": [{"name": "c", "image": "x",
                                                          "resources": {"limits": {resource: 1}}}]}}), encoding="utf-8")
    before = f.read_bytes()
    code, _, err = cli("rewrite", "--write", str(f))
    after = f.read_bytes()
    assert code == 0, err
    if after == before:
        assert any(c in err for c in (" GPU103 ", " GPU009 ")) and label in err, err
    else:  # converted to the partition it names (GPU009), never to whole devices
        assert f"deviceClassName: {whole}\n" not in after.decode(), after.decode()


def test_the_codemod_asks_the_vendor_class_for_the_same_count(tmp_path: Path, vendor: dict[str, Any]) -> None:
    """The Python codemod reads the same profiles: a kubernetes-client pod spec asking for the
    vendor's resource gets a claim on the vendor's class, the same count and the same selector
    the manifest rewrite writes."""
    src = tmp_path / "job.py"
    src.write_text(
        "from kubernetes import client\n\n"
        "pod = client.V1PodSpec(\n"
        "    containers=[client.V1Container(\n"
        '        name="train",\n'
        '        image="img",\n'
        f'        resources=client.V1ResourceRequirements(limits={{"{vendor["resource"]}": 2}}),\n'
        "    )],\n"
        ")\n", encoding="utf-8")
    code, _, err = cli("codemod", "--write", str(src))
    assert code == 0, err
    out = src.read_text(encoding="utf-8")
    assert vendor["resource"] not in out.split("tolerations=")[0] and "resource_claims=[client.V1PodResourceClaim(" in out
    (t,) = list(yaml.safe_load_all((tmp_path / "job-claim-templates.yaml").read_text(encoding="utf-8")))
    (req,) = t["spec"]["spec"]["devices"]["requests"]
    assert (req["exactly"]["deviceClassName"], req["exactly"]["count"]) == (vendor["class"], 2)
    # the same selector a manifest asking for the same resource gets
    repo = tmp_path / "m"
    repo.mkdir()
    (repo / "d.yaml").write_text(_deployment(vendor["resource"], 2), encoding="utf-8")
    assert cli("rewrite", "--write", "--templates", "inline", str(repo))[0] == 0
    docs = list(yaml.safe_load_all((repo / "d.yaml").read_text(encoding="utf-8")))
    (tmpl,) = [d for d in docs if d["kind"] == "ResourceClaimTemplate"]
    assert tmpl["spec"]["spec"]["devices"]["requests"][0]["exactly"].get("selectors") == req["exactly"].get("selectors")
