"""rewrite --cluster (GPU113): the snapshot's nodes decide what a plain nvidia.com/gpu pod gets.

Generated node sets (whole, MIG single of one or several profiles, shares, unknown, mixed-strategy
MIG, tainted or unselected nodes) against plain and selective pods: the rewrite converts exactly
when every node the pod may use serves one kind of device it can express, and then `verify`, on
the same snapshot and the same rewrite, finds the migrated pod's devices unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import cli
from migrator.proof.cluster import snapshot_from_objects
from migrator.engine import migrate_text
from migrator.proof.equivalence import Prover, prove_text
from migrator.mode import Mode
from migrator.model import Status
from test_nodes import SHARE_SIGNALS, device, node_objects

POD = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: w}}
spec:
  template:
    spec:
{extra}      containers:
      - name: c
        image: x
        resources: {{limits: {{nvidia.com/gpu: {n}}}}}
"""

T4 = {"nvidia.com/gpu.product": "Tesla-T4"}
H100 = "NVIDIA-H100-80GB-HBM3"


def whole(name: str, zone: str = "a", gpus: int = 2, **extra: str) -> list[dict]:
    return node_objects(name, {**T4, "zone": zone, **extra}, None, [device(f"gpu-{i}", "gpu") for i in range(gpus)])


def mig_single(name: str, profile: str, zone: str = "a", slices: int = 3, by: str = "product") -> list[dict]:
    labels = {"zone": zone, "nvidia.com/mig.strategy": "single"} if by == "strategy" else \
        {"zone": zone, "nvidia.com/gpu.product": f"{H100}-MIG-{profile}"} if by == "product" else \
        {"zone": zone, "cloud.google.com/gke-accelerator": "nvidia-h100-80gb", "cloud.google.com/gke-gpu-partition-size": profile}
    return node_objects(name, labels, None, [device(f"mig-{i}", "mig", profile) for i in range(slices)])


def mig_mixed(name: str, profile: str, zone: str = "a") -> list[dict]:
    return node_objects(name, {"zone": zone, "nvidia.com/mig.strategy": "mixed"}, None,
                        [device(f"mig-{i}", "mig", profile) for i in range(2)])


def shared(name: str, signal: str, zone: str = "a") -> list[dict]:
    return node_objects(name, {**T4, "zone": zone, **SHARE_SIGNALS[signal]}, None, [device("gpu-0", "gpu")])


def unknown(name: str, zone: str = "a") -> list[dict]:
    return node_objects(name, {"zone": zone}, "4", [])


def rewrite(objs: list[dict], extra: str = "", n: int = 1) -> tuple[Any, Any]:
    snap = snapshot_from_objects(objs, "snap.yaml")
    text = POD.format(extra=extra, n=n)
    return snap, migrate_text(text, "w.yaml", Mode(cluster=snap))


def statuses(result: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in result.findings:
        out.setdefault(f.code, []).append(f)
    return out


def converted(result: Any) -> bool:
    return any(f.code == "GPU000" and f.status is Status.CONVERTED for f in result.findings)


def verify_lines(snap: Any, text: str, mode: Mode) -> list[Any]:
    return prove_text(text, "w.yaml", snap, mode, Prover(snap))


KINDS = ["whole", "mig-1g", "mig-1g-gke", "mig-1g-strategy", "mig-2g", "shared", "unknown"]


def build(kinds: list[str], signal: str) -> list[dict]:
    objs: list[dict] = []
    for i, k in enumerate(kinds):
        name = f"{k}-{i}"
        if k == "whole":
            objs += whole(name)
        elif k == "mig-1g":
            objs += mig_single(name, "1g.10gb")
        elif k == "mig-1g-gke":
            objs += mig_single(name, "1g.10gb", by="gke")
        elif k == "mig-1g-strategy":
            objs += mig_single(name, "1g.10gb", by="strategy")
        elif k == "mig-2g":
            objs += mig_single(name, "2g.20gb")
        elif k == "shared":
            objs += shared(name, signal)
        else:
            objs += unknown(name)
    return objs


@settings(max_examples=120, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
       signal=st.sampled_from(sorted(SHARE_SIGNALS)))
def test_the_nodes_decide(kinds: list[str], signal: str) -> None:
    snap, result = rewrite(build(kinds, signal))
    found = statuses(result)
    kinds_set = set(kinds)
    if kinds_set == {"whole"}:
        assert converted(result)
        # exactly what the manifest-only rewrite writes
        assert result.text == migrate_text(POD.format(extra="", n=1), "w.yaml", Mode()).text
        assert found["GPU113"][0].status is Status.INFO
    elif kinds_set <= {"mig-1g", "mig-1g-gke", "mig-1g-strategy"} or kinds_set == {"mig-2g"}:
        assert converted(result), [f.message for f in result.findings]
        profile = "2g.20gb" if kinds_set == {"mig-2g"} else "1g.10gb"
        assert "mig.nvidia.com" in result.text and f"== '{profile}'" in result.text
    else:
        assert not converted(result)
        (f,) = [f for f in found["GPU113"] if f.status is Status.MANUAL]
        for i, k in enumerate(kinds):  # every node it may use that is not a whole GPU is named
            if k != "whole" and i < 3:
                assert f"{k}-{i}" in f.message, f.message
        if "shared" in kinds_set:
            assert "share" in f.message
        if "unknown" in kinds_set:
            assert "not known" in f.message
    if converted(result):
        # verify, on the same snapshot and the same (--cluster) rewrite, finds nothing changed
        (o,) = verify_lines(snap, POD.format(extra="", n=1), Mode(cluster=snap))
        assert o.result == "equivalent", o.lines


@pytest.mark.parametrize("kind", ["mig-1g", "shared", "unknown", "mig-2g"])
def test_nodes_the_pod_cannot_use_do_not_count(kind: str) -> None:
    # zone b is out of the pod's nodeSelector; a tainted node it does not tolerate; a node too small
    other = {"mig-1g": mig_single("x", "1g.10gb", zone="b"), "mig-2g": mig_single("x", "2g.20gb", slices=1),
             "shared": shared("x", "GFD replicas 4", zone="b"), "unknown": unknown("x", zone="b")}[kind]
    extra = "      nodeSelector: {zone: a}\n"
    n = 2 if kind == "mig-2g" else 1  # one slice cannot hold two
    snap, result = rewrite(whole("w-1") + other, extra, n)
    assert converted(result) and "gpu.nvidia.com" in result.text, [f.message for f in result.findings]
    tainted = [dict(o, spec={"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]})
               if o["kind"] == "Node" else o for o in mig_single("t", "1g.10gb")]
    snap, result = rewrite(whole("w-1") + tainted)
    assert converted(result) and "gpu.nvidia.com" in result.text


def test_the_gpu_toleration_the_admission_plugin_adds_is_counted() -> None:
    # a node tainted nvidia.com/gpu (GKE) is reached by every pod asking for nvidia.com/gpu
    tainted = [dict(o, spec={"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]})
               if o["kind"] == "Node" else o for o in mig_single("g", "1g.5gb", by="gke")]
    snap, result = rewrite(whole("w-1") + tainted)
    assert not converted(result)
    assert any(f.code == "GPU113" and "g: a MIG 1g.5gb slice" in f.message for f in result.findings)


def test_a_profile_also_served_as_a_mixed_resource_is_reported() -> None:
    # mig.nvidia.com profile 1g.10gb would also take the mixed node's slices (nvidia.com/mig-1g.10gb)
    snap, result = rewrite(mig_single("s", "1g.10gb") + mig_mixed("m", "1g.10gb"))
    assert not converted(result)
    (f,) = [f for f in result.findings if f.code == "GPU113"]
    assert f.status is Status.MANUAL and "m also offer(s) 1g.10gb" in f.message
    snap, result = rewrite(mig_single("s", "1g.10gb") + mig_mixed("m", "3g.40gb"))
    assert converted(result)


def test_labels_the_manifest_names_still_go_first() -> None:
    # a pod that selects a -MIG- product is GPU009's; one that selects shares is GPU103's
    objs = whole("w-1") + mig_single("s", "1g.10gb")
    _, result = rewrite(objs, f"      nodeSelector: {{nvidia.com/gpu.product: {H100}-MIG-1g.10gb}}\n")
    assert converted(result) and {f.code for f in result.findings} >= {"GPU009"}
    assert "GPU113" not in {f.code for f in result.findings}


def test_no_node_serves_it_converts_with_a_warning() -> None:
    _, result = rewrite(node_objects("cpu", {"zone": "a"}, None, []))
    assert converted(result)
    (f,) = [f for f in result.findings if f.code == "GPU113"]
    assert f.warn and "no node serves" in f.message


# --- the command ------------------------------------------------------------------------------------


def run(argv: list[str]) -> tuple[int, str, str]:
    return cli(*argv)


def test_cli_cluster(tmp_path: Path) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                    "items": whole("w-1") + mig_single("mig-1", "1g.10gb")}))
    wl = tmp_path / "w.yaml"
    wl.write_text(POD.format(extra="", n=1))
    code, out, err = run(["rewrite", str(wl), "--cluster", str(snap)])
    assert code == 0 and out == "" and "manual GPU113" in err and "mig-1: a MIG 1g.10gb slice" in err
    code, out, err = run(["rewrite", str(wl), "--cluster", str(snap), "--check"])
    assert code == 0  # nothing to rewrite
    code, out, err = run(["rewrite", str(wl)])  # without a snapshot: as before
    assert code == 0 and "gpu.nvidia.com" in out
    code, out, err = run(["rewrite", str(wl), "--cluster", str(snap), "--context", "x"])
    assert code == 2 and "at most one of --cluster" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [\n")
    code, out, err = run(["rewrite", str(wl), "--cluster", str(bad)])
    assert code == 2 and str(bad) in err and "Traceback" not in err
    assert wl.read_text() == POD.format(extra="", n=1)
    # the verdict of verify on the same snapshot for the manifest-only rewrite: the same node
    code, out, err = run(["verify", str(wl), "--cluster", str(snap), "--format", "json"])
    (w,) = json.loads(out)["workloads"]
    assert code == 1 and w["result"] == "different" and any(d.startswith("mig-1: ") for d in w["details"])


def test_cli_cluster_with_jobs(tmp_path: Path) -> None:
    # worker processes get the snapshot too (the Mode is sent to them)
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": mig_single("mig-1", "1g.10gb")}))
    for i in range(3):
        (tmp_path / f"w{i}.yaml").write_text(POD.format(extra="", n=1))
    code, out, err = run(["rewrite", *(str(tmp_path / f"w{i}.yaml") for i in range(3)), "--cluster", str(snap),
                          "-j", "2"])
    assert code == 0 and out.count("deviceClassName: mig.nvidia.com") == 3, err
