"""plan with the KEP-5004 path: eligible workloads keep their manifests and move with their nodes
(DeviceClass check, node switches), the others are rewritten, one runbook, one proof for both."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from migrator.plan.model import Model
from migrator.plan.output import to_json, to_markdown, to_text
from test_plan import CLASS, deployment, dp_node, dra_node, plan_for, running, workload

MAPPED = dict(CLASS, spec=dict(CLASS["spec"], extendedResourceName="nvidia.com/gpu"))
V1 = "resource.k8s.io/v1"


def selective(name: str, replicas: int = 1) -> str:
    """A workload that must be rewritten: it selects GPUs by a GFD label."""
    return deployment(name, replicas).replace("containers:", "nodeSelector: {nvidia.com/gpu.product: Tesla-T4}\n"
                                              "      containers:", 1)


def cluster(n_dp: int, gpus: int, n_dra: int, pods: list[tuple[str, int]], cls: dict[str, Any] = MAPPED) -> list[Any]:
    """``n_dp`` device-plugin nodes with ``gpus`` each, ``n_dra`` DRA nodes, and the running pods
    (workload, replicas) spread over the device-plugin nodes one per GPU."""
    objs: list[Any] = [cls] + [dp_node(f"dp-{i}", gpus) for i in range(n_dp)]
    for i in range(n_dra):
        objs += dra_node(f"dra-{i}", gpus)
    slots = [f"dp-{i}" for i in range(n_dp) for _ in range(gpus)]
    for name, replicas in pods:
        for r in range(replicas):
            objs.append(running(f"{name}-abc-{r}", slots.pop(0), ("ReplicaSet", f"{name}-abc")))
    return objs


def final(plan: Any) -> Model:
    """The model after replaying the plan (what the proof saw)."""
    from migrator.plan.planner import Executor

    m = plan._initial.clone()
    ex = Executor(m)
    for s in plan.steps:
        ex.apply(s)
    return m


# (device-plugin nodes, GPUs per node, DRA nodes, eligible replicas, rewritten replicas)
GRID = [(dp, g, dra, e, r) for dp in (1, 2, 3) for g in (1, 2) for dra in (0, 1) for e in (1, 2) for r in (0, 1)
        if e + r <= dp * g]


@pytest.mark.parametrize("dp,gpus,dra,eligible,rewritten", GRID)
def test_both_paths_in_one_runbook_are_proven(dp: int, gpus: int, dra: int, eligible: int, rewritten: int) -> None:
    manifests = [deployment("keep", eligible)] + ([selective("move", rewritten)] if rewritten else [])
    pods = [("keep", eligible)] + ([("move", rewritten)] if rewritten else [])
    plan = plan_for(manifests, cluster(dp, gpus, dra, pods), kube_version="1.37", api_version=V1)
    assert plan.proof.ok, plan.proof.problems
    assert [e.name for e in plan.extended] == ["keep"] and plan.extended[0].served
    assert [d.workload.name for d in plan.decisions] == (["move"] if rewritten else [])
    # the kept workload is never switched: no template, no apply of its manifest
    assert not any(s.name == "keep" and s.action in ("update", "create") for s in plan.steps)
    # every device-plugin node that ran its pods is switched in the runbook, and its pods run at the end
    switched = {s.name for s in plan.steps if s.kind == "Node" and s.op[0] == "dra_on"}
    assert {f"dp-{i}" for i in range(dp) if i * gpus < eligible} <= switched
    js = to_json(plan)
    assert js["extended_resource"][0]["device_classes"] == {"nvidia.com/gpu": "gpu.nvidia.com"}
    assert js["summary"]["extended_resource"] == 1 and js["kep5004"]  # the old field keeps its meaning
    assert any("maps nvidia.com/gpu" in c for c in plan.preflight)
    for out in (to_text(plan), to_markdown(plan)):
        assert "keep" in out and "KEP-5004" in out


def test_the_proof_fails_when_dra_cannot_serve_the_unchanged_pods(monkeypatch: Any) -> None:
    """The model places unchanged nvidia.com/gpu pods on DRA nodes through the class; without that
    the nodes-first runbook would strand them, and the proof must say so."""
    monkeypatch.setattr(Model, "_place_extended", lambda self, w, p: False)
    plan = plan_for([deployment("keep", 2)], cluster(2, 1, 0, [("keep", 2)]), kube_version="1.37", api_version=V1)
    assert not plan.proof.ok
    assert any("KEP-5004 path, manifest unchanged" in p for p in plan.proof.problems)


@pytest.mark.parametrize("version,auto_keeps", [("1.35", False), ("1.36", True), ("1.37", True), ("1.38", True)])
def test_auto_uses_the_snapshot_class_where_the_gate_is_on(version: str, auto_keeps: bool) -> None:
    objs = cluster(2, 1, 0, [("keep", 1)])
    plan = plan_for([deployment("keep")], objs, kube_version=version, api_version=V1)
    assert bool(plan.extended) == auto_keeps
    assert bool(plan.decisions) == (not auto_keeps)
    assert plan.proof.ok
    plan = plan_for([deployment("keep")], objs, kube_version=version, api_version=V1, migration_path="rewrite")
    assert not plan.extended and plan.decisions


@pytest.mark.parametrize("snapshot_class", ["gpucluster", "none"])
def test_a_class_without_extended_resource_name_is_a_blocker_with_the_fix(snapshot_class: str) -> None:
    """GPU Operator 26.7's GPUCluster ships gpu.nvidia.com without extendedResourceName."""
    cls = CLASS if snapshot_class == "gpucluster" else {**CLASS, "metadata": {"name": "other.example.com"}}
    plan = plan_for([deployment("keep")], cluster(2, 1, 0, [("keep", 1)], cls), kube_version="1.37", api_version=V1,
                    migration_path="extended-resource")
    assert [e.served for e in plan.extended] == [False]
    check = next(c for c in plan.preflight if "no DeviceClass maps nvidia.com/gpu" in c)
    assert "MISSING" in check and "extendedResourceName: nvidia.com/gpu" in check
    if snapshot_class == "gpucluster":
        assert "has no extendedResourceName" in check and "GPUCluster" in check
    assert not plan.proof.ok and any("nothing serves" in p for p in plan.proof.problems)
    # the node its pod runs on is not switched (an empty node is still retired by the cleanup)
    assert not any(s.name == "dp-0" and s.op[0] == "dra_on" for s in plan.steps)
    assert "**blocker:**" in to_markdown(plan)


def test_gate_off_on_the_target_is_a_blocker() -> None:
    plan = plan_for([deployment("keep")], cluster(2, 1, 0, [("keep", 1)]), kube_version="1.35", api_version=V1,
                    migration_path="extended-resource")
    assert plan.extended and not plan.extended[0].served
    assert any("MISSING" in c and "DRAExtendedResource is off by default in 1.35" in c for c in plan.preflight)
    assert not plan.proof.ok


def test_old_kubelets_are_named() -> None:
    plan = plan_for([deployment("keep")], cluster(1, 1, 1, [("keep", 1)]), kube_version="1.37", api_version=V1)
    assert any("kubelets run v1.35.2" in c for c in plan.preflight)


def test_daemonset_keeps_its_manifest_and_moves_node_by_node() -> None:
    objs = [MAPPED, dp_node("dp-1"), dp_node("dp-2"), running("ds-a", "dp-1", ("DaemonSet", "ds")),
            running("ds-b", "dp-2", ("DaemonSet", "ds"))]
    plan = plan_for([workload("DaemonSet", "ds")], objs, kube_version="1.37", api_version=V1)
    assert plan.proof.ok, plan.proof.problems
    assert [e.name for e in plan.extended] == ["ds"]
    deletes = [s for s in plan.steps if s.action == "delete" and s.kind == "Pod"]
    assert len(deletes) == 2 and all("--field-selector spec.nodeName=" in s.command for s in deletes)


def test_pdb_that_forbids_eviction_fails_the_proof() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p", "namespace": "ml"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "keep"}}}}
    plan = plan_for([deployment("keep")], cluster(1, 1, 0, [("keep", 1)]) + [pdb], kube_version="1.37",
                    api_version=V1)
    assert not plan.proof.ok and any("PodDisruptionBudget" in p for p in plan.proof.problems)


def test_cli_plan_json(tmp_path: Any, capsys: Any) -> None:
    from migrator.cli import main

    (tmp_path / "keep.yaml").write_text(deployment("keep"))
    (tmp_path / "snap.yaml").write_text(yaml.safe_dump_all(cluster(2, 1, 0, [("keep", 1)])))
    code = main(["plan", str(tmp_path / "keep.yaml"), "--cluster", str(tmp_path / "snap.yaml"), "--format", "json",
                 "--kube-version", "1.37"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["extended_resource"][0]["name"] == "keep" and data["workloads"] == []
    assert not data["not_migrated"]


@pytest.mark.parametrize("path", ["auto", "extended-resource"])
@pytest.mark.parametrize("cls", ["mapped", "gpucluster"])
def test_every_format_carries_the_kep5004_path(path: str, cls: str) -> None:
    from test_plan import plain, same

    from migrator.plan.output import _extended_line

    objs = cluster(2, 1, 1, [("keep", 1), ("move", 1)], MAPPED if cls == "mapped" else CLASS)
    plan = plan_for([deployment("keep"), selective("move")], objs, kube_version="1.37", api_version=V1,
                    migration_path=path)
    txt, md, js = to_text(plan), same(plain(to_markdown(plan))), to_json(plan)
    wanted = [c for c in plan.preflight if "KEP-5004" in c] + [_extended_line(e) for e in plan.extended]
    wanted += [s.detail for s in plan.steps if "KEP-5004" in s.detail] + list(plan.proof.problems)
    # auto keeps a manifest only where the snapshot maps the resource
    assert bool(plan.extended) == bool(wanted) == (cls == "mapped" or path == "extended-resource")
    for item in wanted:
        assert same(item) in same(txt), item
        assert same(item) in md, item
    assert [e["name"] for e in js["extended_resource"]] == [e.name for e in plan.extended]


@pytest.mark.parametrize("version", ["1.35", "1.36", "1.37"])
@pytest.mark.parametrize("cls", ["gpucluster", "mapped"])
def test_a_switch_that_could_keep_its_manifest_says_what_to_change(version: str, cls: str) -> None:
    objs = cluster(2, 1, 1, [("keep", 1), ("move", 1)], MAPPED if cls == "mapped" else CLASS)
    plan = plan_for([deployment("keep"), selective("move")], objs, kube_version=version, api_version=V1)
    notes = [n for n in plan.notes if "could keep their manifests" in n]
    if cls == "gpucluster" and version != "1.35":  # gate on, no mapping class: say what to create
        assert len(notes) == 1 and "Deployment ml/keep" in notes[0] and "ml/move" not in notes[0]
        assert "GPUCluster" in notes[0] and "extendedResourceName: nvidia.com/gpu" in notes[0]
    else:  # 1.35: the gate is off; mapped: auto keeps it as written already
        assert not notes
    assert plan.proof.ok


def test_two_classes_mapping_one_resource_are_not_guessed() -> None:
    """The scheduler serves the name from the newest class; a snapshot cannot be trusted to say."""
    second = {**MAPPED, "metadata": {"name": "gpu-extended.nvidia.com"}}
    objs = cluster(2, 1, 0, [("keep", 1)]) + [second]
    plan = plan_for([deployment("keep")], objs, kube_version="1.37", api_version=V1)
    assert not plan.extended and plan.decisions  # auto: not sure, so rewritten
    plan = plan_for([deployment("keep")], objs, kube_version="1.37", api_version=V1, migration_path="extended-resource")
    assert any("several DeviceClasses map nvidia.com/gpu (gpu-extended.nvidia.com, gpu.nvidia.com)" in c
               for c in plan.preflight)
    assert not plan.proof.ok


def test_a_node_the_user_cordoned_stays_cordoned() -> None:
    objs = cluster(2, 1, 1, [("keep", 2)])
    objs[1] = dict(objs[1], spec={"unschedulable": True})  # dp-0, running one of keep's pods
    plan = plan_for([deployment("keep", 2)], objs, kube_version="1.37", api_version=V1)
    assert plan.proof.ok, plan.proof.problems
    assert "dra_on" in [s.op[0] for s in plan.steps if s.name == "dp-0"]
    assert "uncordon" not in [s.op[0] for s in plan.steps if s.name == "dp-0"]
