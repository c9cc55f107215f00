"""The rollout planner on the scenarios of rollout-model.md §8.5 (manifests plus a snapshot)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from migrator.cli import main
from migrator.cluster import snapshot_from_objects
from migrator.mode import Mode
from migrator.plan.build import build_plan
from migrator.plan.output import to_json, to_markdown

T4 = {"productName": {"string": "Tesla T4"}, "type": {"string": "gpu"}, "architecture": {"string": "Turing"}}


def dp_node(name: str, gpus: int = 1, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": "Tesla-T4", **labels}},
            "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}, "nodeInfo": {"kubeletVersion": "v1.35.2"}}}


def dra_node(name: str, gpus: int = 1, also_dp: bool = False) -> list[dict[str, Any]]:
    node = dp_node(name, gpus if also_dp else 0)
    if not also_dp:
        node["status"]["allocatable"] = {}
    rs = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": f"{name}-gpu"},
          "spec": {"driver": "gpu.nvidia.com", "nodeName": name,
                   "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                   "devices": [{"name": f"gpu-{i}", "attributes": dict(T4, uuid={"string": f"GPU-{name}-{i}"}),
                                "capacity": {"memory": {"value": "15Gi"}}} for i in range(gpus)]}}
    return [node, rs]


CLASS = {"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu.nvidia.com"},
         "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && "
                                                       "device.attributes['gpu.nvidia.com'].type == 'gpu'"}}]}}


def running(name: str, node: str, owner: tuple[str, str] | None = None, ns: str = "ml", gpus: int = 1) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x",
                                                       "resources": {"limits": {"nvidia.com/gpu": gpus}}}]},
            "status": {"phase": "Running"}}


def deployment(name: str, replicas: int = 1, strategy: dict[str, Any] | None = None, gpus: int = 1) -> str:
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}},
                                         "spec": {"containers": [{"name": "c", "image": "x", "resources":
                                                                  {"limits": {"nvidia.com/gpu": gpus}}}]}}}
    if strategy:
        spec["strategy"] = strategy
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": name, "namespace": "ml"}, "spec": spec})


def plan_for(manifests: list[str], objs: list[dict[str, Any]], **mode: Any):
    snap = snapshot_from_objects([o for o in objs])
    return build_plan([(f"m{i}.yaml", t) for i, t in enumerate(manifests)], snap, Mode(**mode), explain=True)


def decision(plan, name: str):
    return next(d for d in plan.decisions if d.workload.name == name)


def node_steps(plan, node: str) -> list[str]:
    return [s.action for s in plan.steps if s.kind == "Node" and s.name == node]


def test_one_replica_default_strategy_on_a_full_cluster() -> None:
    plan = plan_for([deployment("single")], [
        CLASS, dp_node("dp-1"), dp_node("dp-2"),
        running("single-7d9f-a", "dp-1", ("ReplicaSet", "single-7d9f")), running("other", "dp-2")])
    d = decision(plan, "single")
    assert d.deadlock_without_plan is True and "maxUnavailable 0" in d.reason
    assert d.switch_strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert d.capacity_lost == 1
    # dp-1 is cut over after the old pod left it; dp-2 (someone else's pod) is never touched
    assert node_steps(plan, "dp-1") == ["cordon", "drain", "label", "wait", "label", "wait", "uncordon"]
    assert node_steps(plan, "dp-2") == []
    assert plan.proof.ok, plan.proof.problems
    actions = [(s.action, s.kind) for s in plan.steps]
    assert actions.index(("create", "ResourceClaimTemplate")) < actions.index(("update", "Deployment"))


def test_explicit_max_unavailable_zero_stalls() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    plan = plan_for([deployment("two", 2, strategy)], [
        CLASS, dp_node("dp-1"), dp_node("dp-2"),
        running("two-1-a", "dp-1", ("ReplicaSet", "two-1")), running("two-1-b", "dp-2", ("ReplicaSet", "two-1"))])
    d = decision(plan, "two")
    assert d.deadlock_without_plan and "maxSurge 1 / maxUnavailable 0" in d.reason
    assert d.switch_strategy["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert plan.proof.ok, plan.proof.problems
    restore = [s for s in plan.steps if s.detail.startswith("restore the original strategy")]
    assert restore and restore[0].op[2] == strategy


def test_headroom_is_left_alone() -> None:
    plan = plan_for([deployment("roomy")], [
        CLASS, dp_node("dp-1"), *dra_node("dra-1", 2),
        running("roomy-5-a", "dp-1", ("ReplicaSet", "roomy-5"))])
    d = decision(plan, "roomy")
    assert d.deadlock_without_plan is False and d.switch_strategy is None
    assert "completes" in d.reason and d.capacity_lost == 0
    assert not [s for s in plan.steps if s.kind == "Node" and s.action == "cordon" and "capacity" in s.detail]
    assert plan.proof.ok


def test_two_workloads_one_empty_dra_node() -> None:
    """Device-plugin nodes full, one free DRA GPU: the workloads move one after the other."""
    plan = plan_for([deployment("a"), deployment("b")], [
        CLASS, dp_node("dp-1"), dp_node("dp-2"), *dra_node("dra-1", 1),
        running("a-1-x", "dp-1", ("ReplicaSet", "a-1")), running("b-1-x", "dp-2", ("ReplicaSet", "b-1"))])
    a, b = decision(plan, "a"), decision(plan, "b")
    assert not a.deadlock_without_plan and not b.deadlock_without_plan  # each alone fits the free GPU
    assert a.switch_strategy is None and b.switch_strategy is None
    updates = [s.name for s in plan.steps if s.action == "update"]
    assert updates == ["a", "b"]
    # b can only move after a's old node is cut over
    idx = {(s.action, s.name): i for i, s in enumerate(plan.steps)}
    assert idx[("update", "a")] < idx[("cordon", "dp-1")] < idx[("update", "b")]
    assert plan.proof.ok, plan.proof.problems
    assert a.capacity_lost == 0 and b.capacity_lost == 0


def test_statefulset_partition_steps() -> None:
    sts = yaml.safe_dump({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "ml"},
                          "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                                   "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                                       {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}})
    plan = plan_for([sts], [CLASS, dp_node("dp-1"), dp_node("dp-2"),
                            running("db-0", "dp-1", ("StatefulSet", "db")), running("db-1", "dp-2", ("StatefulSet", "db"))])
    d = decision(plan, "db")
    assert d.deadlock_without_plan and "ordinal" in d.reason
    assert d.switch_strategy == {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    partitions = [s.op[2] for s in plan.steps if s.op[0] == "partition"]
    assert partitions == [1, 0]
    assert plan.proof.ok, plan.proof.problems
    assert d.capacity_lost == 1


def test_daemonset_is_switched_node_by_node() -> None:
    ds = yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ml"},
                         "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                  "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [
                                      {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}})
    plan = plan_for([ds], [CLASS, dp_node("dp-1"), dp_node("dp-2"),
                           running("agent-a", "dp-1", ("DaemonSet", "agent")), running("agent-b", "dp-2", ("DaemonSet", "agent"))])
    d = decision(plan, "agent")
    assert d.deadlock_without_plan and d.switch_strategy == {"type": "OnDelete"}
    for node in ("dp-1", "dp-2"):
        steps = [s for s in plan.steps if node in s.name]
        kinds = [s.action for s in steps]
        assert kinds.index("delete") < kinds.index("label")  # the old pod leaves before DRA comes on
    assert plan.proof.ok, plan.proof.problems


def test_shared_claim_uses_recreate() -> None:
    manifest = deployment("notebook", 3).replace("nvidia.com/gpu: 1", "nvidia.com/gpu.shared: 1")
    plan = plan_for([manifest], [CLASS, *dra_node("dra-1", 1)], sharing="timeslicing")
    d = decision(plan, "notebook")
    assert d.workload.shared_claim and d.deadlock_without_plan
    assert d.switch_strategy == {"type": "Recreate"}
    assert plan.proof.ok


def test_missing_template_is_a_proof_failure() -> None:
    half = yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "half", "namespace": "ml"},
                           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "h"}}, "template": {
                               "metadata": {"labels": {"app": "h"}}, "spec": {
                                   "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "gone"}],
                                   "containers": [{"name": "c", "image": "x", "resources": {"claims": [{"name": "gpu"}]}}]}}}})
    plan = plan_for([half, deployment("ok")], [CLASS, *dra_node("dra-1", 2)])
    assert not plan.proof.ok
    assert any("ml/gone" in p and "Deployment ml/half" in p for p in plan.proof.problems)
    assert any("MISSING" in c and "gone" in c for c in plan.preflight)


def test_node_served_by_both_managers_is_fixed_first() -> None:
    plan = plan_for([deployment("x")], [CLASS, *dra_node("both", 1, also_dp=True), *dra_node("dra-1", 1)])
    assert any("HAZARD" in c for c in plan.preflight)
    first_node_step = next(s for s in plan.steps if s.kind == "Node")
    assert first_node_step.name == "both" and "both managers" in first_node_step.detail
    assert plan.proof.ok, plan.proof.problems


def test_pdb_blocked_node_is_not_drained() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p", "namespace": "ml"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}
    plan = plan_for([deployment("mover"), deployment("guarded")], [
        CLASS, pdb, dp_node("dp-1"), dp_node("dp-2"),
        running("mover-1-a", "dp-1", ("ReplicaSet", "mover-1")), running("guarded-1-a", "dp-2", ("ReplicaSet", "guarded-1"))])
    assert plan.proof.ok, plan.proof.problems
    # dp-2 is only drained once its pod has moved by its own rollout, never while the PDB guards it
    for s in plan.steps:
        if s.action == "drain" and s.name == "dp-2":
            assert plan.steps.index(s) > next(i for i, t in enumerate(plan.steps) if t.action == "update" and t.name == "guarded")


def test_json_contract_and_markdown() -> None:
    plan = plan_for([deployment("single")], [CLASS, dp_node("dp-1"), running("single-1-a", "dp-1", ("ReplicaSet", "single-1"))])
    data = to_json(plan)
    w = data["workloads"][0]
    assert {"kind", "namespace", "name", "deadlock_without_plan", "switch_strategy", "reason"} <= set(w)
    assert isinstance(w["deadlock_without_plan"], bool)
    for s in data["steps"]:
        assert {"wave", "action", "kind", "name", "detail"} <= set(s) and isinstance(s["wave"], int)
        assert s["action"] in {"create", "update", "delete", "cordon", "drain", "label", "uncordon", "wait", "verify"}
        if s["kind"] == "Node":
            assert "namespace" not in s
    md = to_markdown(plan)
    assert "# DRA switch plan" in md and "### Wave" in md and "kubectl cordon dp-1" in md


def test_cli_plan(tmp_path: Path, capsys) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        CLASS, dp_node("dp-1"), running("single-1-a", "dp-1", ("ReplicaSet", "single-1"))]}))
    wl = tmp_path / "wl.yaml"
    wl.write_text(deployment("single"))
    assert main(["plan", str(wl), "--cluster", str(snap), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["workloads"][0]["deadlock_without_plan"] is True
    assert main(["plan", str(wl), "--cluster", str(snap), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "simulation trace:" in out and "t=" in out
    assert main(["plan", str(wl)]) == 2
