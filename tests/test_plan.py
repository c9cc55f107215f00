"""The rollout planner on the scenarios of rollout-model.md §8.5 (manifests plus a snapshot)."""

from __future__ import annotations

import html
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from migrator.cli import main
from migrator.proof.cluster import snapshot_from_objects
from migrator.mode import Mode
from migrator.plan.build import build_plan
from migrator.plan.output import summary_line, to_json, to_markdown, to_text

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
                           running("agent-a", "dp-1", ("DaemonSet", "agent")),
                           running("agent-b", "dp-2", ("DaemonSet", "agent"))])
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


# --- the remaining situations of rollout-model.md §8.5 that a manifest plus a snapshot can show ---


def with_template(manifest: str, **extra: Any) -> str:
    obj = yaml.safe_load(manifest)
    obj["spec"]["template"]["spec"].update(extra)
    return yaml.safe_dump(obj)


def test_5_and_10_old_pool_and_templates_outlive_the_rollback_window() -> None:
    """#5/#10: nothing a rollback needs (device-plugin pool, old templates) is removed before the window closes."""
    plan = plan_for([deployment("roomy")], [CLASS, dp_node("dp-1"), dp_node("dp-9"), *dra_node("dra-1", 2),
                                            running("roomy-5-a", "dp-1", ("ReplicaSet", "roomy-5"))])
    assert plan.proof.ok, plan.proof.problems
    window = next(i for i, s in enumerate(plan.steps) if s.name == "rollback-window")
    rollout_done = max(i for i, s in enumerate(plan.steps) if s.op[0] == "wait_rollout")
    assert rollout_done < window
    # the idle device-plugin node is only retired after the window, and no template is ever deleted
    assert all(i > window for i, s in enumerate(plan.steps) if s.name == "dp-9")
    assert node_steps(plan, "dp-9")
    assert not [s for s in plan.steps if s.action == "delete" and s.kind == "ResourceClaimTemplate"]


def test_6_template_name_taken_by_another_spec_is_a_conflict() -> None:
    """#6: ResourceClaimTemplate.spec is immutable, so a same-name template with another spec cannot be replaced."""
    probe = plan_for([deployment("x")], [CLASS, *dra_node("dra-1", 2)])
    create = next(s for s in probe.steps if s.action == "create")
    ns, name = create.op[1].split("/")
    stale = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate",
             "metadata": {"name": name, "namespace": ns},
             "spec": {"spec": {"devices": {"requests": [
                 {"name": "c", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 2}}]}}}}
    plan = plan_for([deployment("x")], [CLASS, *dra_node("dra-1", 2), stale])
    assert not plan.proof.ok
    assert any("CONFLICT" in c and name in c for c in plan.preflight)
    assert any("immutable" in p for p in plan.proof.problems)
    # the same spec as the API server stores it (defaults filled in) is not a conflict
    same = yaml.safe_load(yaml.safe_dump(stale))
    req = same["spec"]["spec"]["devices"]["requests"][0]
    req["name"] = "c"
    req["exactly"] = {"deviceClassName": "gpu.nvidia.com", "count": 1, "allocationMode": "ExactCount"}
    ok = plan_for([deployment("x")], [CLASS, *dra_node("dra-1", 2), same])
    assert ok.proof.ok, ok.proof.problems
    assert not any("CONFLICT" in c for c in ok.preflight)


def test_7_first_available_under_rolling_update_gets_a_rebalance_note() -> None:
    """#7: the preferred device can still be held by a terminating pod, so new pods may take a fallback."""
    prefer = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]}]}}]}}
    plan = plan_for([with_template(deployment("pref"), affinity=prefer)], [CLASS, *dra_node("dra-1", 2)])
    assert any("firstAvailable" in c for c in plan.preflight)
    assert any("pref" in n and "fallback" in n for n in plan.notes)
    plain = plan_for([deployment("plain")], [CLASS, *dra_node("dra-1", 2)])
    assert not [n for n in plain.notes if "fallback" in n]


def test_9_dra_comes_on_only_after_the_device_plugin_reports_zero() -> None:
    """#9/#3: per node the device plugin goes off, allocatable reaches 0, and only then is DRA enabled."""
    plan = plan_for([deployment("single")], [CLASS, dp_node("dp-1"),
                                             running("single-1-a", "dp-1", ("ReplicaSet", "single-1"))])
    ops = [s.op[0] for s in plan.steps if s.kind == "Node" and s.name == "dp-1"]
    assert ops.index("dp_off") < ops.index("wait_dp_zero") < ops.index("dra_on") < ops.index("wait_slices") \
        < ops.index("uncordon")


def test_11_daemonset_surge_is_replaced_by_per_node_switch() -> None:
    """#11: a GPU DaemonSet with maxSurge > 0 would need a second GPU on each node; it switches per node."""
    ds = yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ml"},
                         "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                  "updateStrategy": {"type": "RollingUpdate",
                                                     "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                                  "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [
                                      {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}})
    plan = plan_for([ds], [CLASS, dp_node("dp-1"), running("agent-a", "dp-1", ("DaemonSet", "agent"))])
    d = decision(plan, "agent")
    assert d.deadlock_without_plan and d.switch_strategy == {"type": "OnDelete"}
    restore = [s for s in plan.steps if s.detail.startswith("restore the original strategy")]
    assert restore and restore[0].op[2]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert plan.proof.ok, plan.proof.problems


def test_14_and_17_kueue_and_leaderworkerset_get_their_preconditions() -> None:
    kueue = yaml.safe_load(deployment("queued"))
    kueue["metadata"]["labels"] = {"kueue.x-k8s.io/queue-name": "gpu"}
    lws = yaml.safe_dump({"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
                          "metadata": {"name": "llm", "namespace": "ml"},
                          "spec": {"replicas": 1, "leaderWorkerTemplate": {"size": 2, "workerTemplate": {"spec": {
                              "containers": [{"name": "w", "image": "x",
                                              "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}})
    plan = plan_for([yaml.safe_dump(kueue), lws], [CLASS, *dra_node("dra-1", 4)])
    assert any("queued" in n and "deviceClassMappings" in n for n in plan.notes)
    assert any("llm" in n and "lws#1018" in n for n in plan.notes)
    assert "operator" in decision(plan, "llm").reason  # not modelled, and says so


def test_15_driver_health_is_a_precondition() -> None:
    plan = plan_for([deployment("x")], [CLASS, *dra_node("dra-1", 1)])
    assert any("no driver upgrade" in c for c in plan.preflight)
    assert plan.steps[0].action == "verify"


def test_16_switched_pods_ask_only_for_claims() -> None:
    """#16: a pod keeping nvidia.com/gpu next to its claims would need two managers' GPUs."""
    plan = plan_for([deployment("x", gpus=2)], [CLASS, *dra_node("dra-1", 2)])
    w = decision(plan, "x").workload
    assert w.dp_need == {"nvidia.com/gpu": 2}
    limits = w.new_pod["containers"][0].get("resources", {}).get("limits", {})
    assert "nvidia.com/gpu" not in limits and w.new_pod["containers"][0]["resources"]["claims"]
    assert sum(r.count for r in w.requests) == 2
    assert plan.proof.ok


def test_18_incomplete_pool_is_not_capacity() -> None:
    """#18: a node whose pool has not published all its slices is not counted as DRA capacity."""
    node, rs = dra_node("dra-1", 1)
    rs["spec"]["pool"]["resourceSliceCount"] = 2
    plan = plan_for([deployment("single")], [CLASS, dp_node("dp-1"), node, rs,
                                             running("single-1-a", "dp-1", ("ReplicaSet", "single-1"))])
    assert any("1 of 2 ResourceSlices" in c for c in plan.preflight)
    d = decision(plan, "single")
    assert d.deadlock_without_plan  # the free-looking GPU on dra-1 does not count
    complete = plan_for([deployment("single")], [CLASS, dp_node("dp-1"), *dra_node("dra-1", 1),
                                                 running("single-1-a", "dp-1", ("ReplicaSet", "single-1"))])
    assert not decision(complete, "single").deadlock_without_plan


def test_workload_the_cluster_cannot_hold_is_blocked_not_switched(tmp_path: Path, capsys) -> None:
    """Three replicas, one matching GPU in the whole cluster: no order completes, so none is tried."""
    objs = [CLASS, *dra_node("dra-1", 1), dp_node("cpu-only", 0)]
    plan = plan_for([deployment("big", 3), deployment("small")], objs)
    big, small = decision(plan, "big"), decision(plan, "small")
    assert big.blocked and big.switch_strategy is None and "at most 1 of 3" in big.reason
    assert not small.blocked
    assert not [s for s in plan.steps if s.action == "update" and s.name == "big"]
    assert [s for s in plan.steps if s.action == "update" and s.name == "small"]
    assert plan.proof.ok, plan.proof.problems  # the proof is about what the plan does
    assert {w["name"]: w["blocked"] for w in to_json(plan)["workloads"]} == {"big": True, "small": False}
    assert "**Blocked (not switched by this plan):** Deployment ml/big" in to_markdown(plan)
    # the CLI says so with exit code 1
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump_all(objs))
    wl = tmp_path / "wl.yaml"
    wl.write_text(deployment("big", 3))
    assert main(["plan", str(wl), "--cluster", str(snap)]) == 1
    assert "blocked (not switched): Deployment ml/big" in capsys.readouterr().out
    # with room for all three it is planned normally
    roomy = plan_for([deployment("big", 3)], [CLASS, *dra_node("dra-1", 3)])
    assert not decision(roomy, "big").blocked and roomy.proof.ok


# ---- one blocked rule for every kind -----------------------------------------------------------------

def workload(kind: str, name: str, gpus: int = 1, replicas: int = 1) -> str:
    pod: dict[str, Any] = {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": gpus}}}]}
    tmpl = {"metadata": {"labels": {"app": name}}, "spec": pod}
    job_tmpl = {"metadata": {"labels": {"app": name}}, "spec": dict(pod, restartPolicy="Never")}
    selector = {"matchLabels": {"app": name}}
    spec: dict[str, Any] = {
        "Pod": pod,
        "Job": {"parallelism": replicas, "completions": replicas, "template": job_tmpl},
        "CronJob": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"parallelism": replicas, "template": job_tmpl}}},
        "PyTorchJob": {"pytorchReplicaSpecs": {"Worker": {"replicas": replicas, "template": tmpl}}},
        "DaemonSet": {"selector": selector, "template": tmpl},
    }.get(kind, {"replicas": replicas, "selector": selector, "template": tmpl})
    api = {"Pod": "v1", "Job": "batch/v1", "CronJob": "batch/v1", "PyTorchJob": "kubeflow.org/v1"}.get(kind, "apps/v1")
    return yaml.safe_dump({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "ml"}, "spec": spec})


KINDS = ["Pod", "Job", "CronJob", "PyTorchJob", "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"]
FOUR_GPU_NODES = [CLASS, dp_node("dp-1", 4), dp_node("dp-2", 4), *dra_node("dra-1", 4)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("gpus,blocked", [(8, True), (5, True), (4, False), (1, False)])
def test_more_gpus_than_any_node_has_is_blocked_for_every_kind(kind: str, gpus: int, blocked: bool, tmp_path: Path,
                                                               capsys) -> None:
    plan = plan_for([workload(kind, "big", gpus)], FOUR_GPU_NODES)
    d = decision(plan, "big")
    assert d.blocked is blocked, d.reason
    switched = [s for s in plan.steps if s.name == "big" and s.action == "update"]
    assert bool(switched) is not blocked  # a blocked workload is never switched
    if blocked:
        assert "Not switched" in d.reason and d.switch_strategy is None
        assert not [s for s in plan.steps if s.action == "create"]  # its template is not needed yet
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump_all(FOUR_GPU_NODES))
    (tmp_path / "wl.yaml").write_text(workload(kind, "big", gpus))
    code = main(["plan", str(tmp_path / "wl.yaml"), "--cluster", str(snap)])
    out = capsys.readouterr().out
    assert ("BLOCKED" in out) is blocked and (code == 1) is blocked, out
    assert (tmp_path / "wl.yaml").read_text() == workload(kind, "big", gpus)  # plan reads, never writes
    if blocked:
        assert f"blocked (not switched): {kind} ml/big" in out and d.reason in out, out


@pytest.mark.parametrize("kind,replicas,blocked", [
    ("PyTorchJob", 3, True),   # the workers rendezvous: all three 4-GPU pods at once, on two 4-GPU nodes
    ("PyTorchJob", 2, False),
    ("Deployment", 3, True),
    ("StatefulSet", 2, False),
    ("ReplicaSet", 3, True),
    ("Job", 8, False),         # a Job works through its pods with the parallelism that fits
    ("CronJob", 8, False),
    ("Pod", 1, False),
])
def test_pods_needed_at_once(kind: str, replicas: int, blocked: bool) -> None:
    d = decision(plan_for([workload(kind, "big", 4, replicas)], [CLASS, dp_node("dp-1", 4), *dra_node("dra-1", 4)]),
                 "big")
    assert d.blocked is blocked, d.reason
    if blocked:
        assert f"at most 2 of {replicas} pod(s)" in d.reason


# ---- the formats: a runbook that renders as one, the same content in each -------------------------

def fleet(n: int) -> list[Any]:
    """n one-replica Deployments, each on its own full device-plugin node: about 11 steps each."""
    objs = [CLASS] + [dp_node(f"dp-{i}") for i in range(n)] + \
        [running(f"w{i}-1-a", f"dp-{i}", ("ReplicaSet", f"w{i}-1")) for i in range(n)]
    return [[deployment(f"w{i}") for i in range(n)], objs]


def md_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


@pytest.mark.parametrize("n", [1, 2, 4, 10])
def test_runbook_code_blocks_stay_in_their_list_items(n: int) -> None:
    manifests, objs = fleet(n)
    plan = plan_for(manifests, objs)
    listed = [s for s in plan.steps if s.action != "verify"]
    assert len(listed) >= 10 * n  # past item 9 (and 99 for n=10): where the marker widens
    tokens = md_parser().parse(to_markdown(plan))
    stack: list[str] = []
    fences: list[str] = []
    numbers: list[int] = []
    items = 0
    for t in tokens:
        if t.type == "list_item_open" and stack[-1:] == ["ordered_list_open"]:
            items += 1
        if t.nesting == 1:
            stack.append(t.type)
            if t.type == "ordered_list_open":
                numbers.append(int(t.attrGet("start") or 1))
        elif t.nesting == -1:
            stack.pop()
        if t.type == "code_block":
            raise AssertionError(f"indented code block: a command fell out of its list item: {t.content!r}")
        if t.type == "fence":
            assert "list_item_open" in stack, t.content
            fences.append(t.content.rstrip("\n"))
    assert fences == [s.command for s in listed if s.command]
    assert items == len(listed) and numbers[0] == 1


SCENARIOS = {
    "fleet": lambda: fleet(2),
    "blocked": lambda: [[deployment("big", 3), deployment("small")], [CLASS, *dra_node("dra-1", 1)]],
    "notes": lambda: [[yaml.safe_dump(dict(yaml.safe_load(deployment("queued")), metadata={
        "name": "queued", "namespace": "ml", "labels": {"kueue.x-k8s.io/queue-name": "gpu"}}))],
        [CLASS, *dra_node("dra-1", 2)]],
    "kep5004": lambda: [[deployment("x")], [dict(CLASS, spec=dict(CLASS["spec"], extendedResourceName="nvidia.com/gpu")),
                                            dp_node("dp-1"), *dra_node("dra-1", 1)]],
    "missing": lambda: [[with_template(deployment("m"), resourceClaims=[{"name": "g", "resourceClaimTemplateName": "nope"}])],
                        [CLASS, *dra_node("dra-1", 1)]],
    "not-migrated": lambda: [[deployment("ok"), deployment("shared").replace("nvidia.com/gpu: 1", "nvidia.com/gpu.shared: 1"),
                              deployment("templated").replace("nvidia.com/gpu: 1", "nvidia.com/gpu: '${GPUS}'")],
                             [CLASS, *dra_node("dra-1", 1)]],
    "daemonset": lambda: [[workload("DaemonSet", "ds")], [CLASS, dp_node("dp-1"), dp_node("dp-2"),
                                                          running("ds-a", "dp-1", ("DaemonSet", "ds")),
                                                          running("ds-b", "dp-2", ("DaemonSet", "ds"))]],
}


def plain(md: str) -> str:
    """What a reader of the rendered markdown sees."""
    html_ = md_parser().render(md)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", html_)).split())


def same(s: str) -> str:
    """Text without its spacing and inline formatting (code spans, emphasis)."""
    return " ".join(re.sub(r"[`*_]", "", s).split())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("explain", [False, True])
def test_every_format_carries_the_same_content(name: str, explain: bool) -> None:
    manifests, objs = SCENARIOS[name]()
    plan = plan_for(manifests, objs)
    plan.notes.append("argocd: a <note> with | pipes, *stars* and `ticks`")  # what --gitops adds, and worse
    txt, md, js = to_text(plan, explain), to_markdown(plan, explain), to_json(plan, explain)
    seen = same(plain(md))
    wanted = list(plan.notes) + list(plan.preflight) + list(plan.alternative) + list(plan.proof.problems)
    wanted += [d.reason for d in plan.decisions] + [d.workload.key for d in plan.decisions]
    wanted += [s.detail for s in plan.steps if s.action != "verify" and s.detail]
    wanted += [s.command for s in plan.steps if s.command]
    wanted += [n.reason for n in plan.not_migrated] + [n.pod_template for n in plan.not_migrated]
    assert (name == "not-migrated") == bool(plan.not_migrated)
    assert same(summary_line(plan)) in same(txt) and same(summary_line(plan)) in seen
    assert js["summary"] == plan.summary() and js["summary"]["not_migrated"] == len(js["not_migrated"])
    for item in wanted:
        assert same(item) in same(txt), (name, item)
        assert same(item) in seen, (name, item)
        assert item in json.dumps(js) or json.dumps(item)[1:-1] in json.dumps(js), (name, item)
    for line in plan.proof.trace[:50]:
        assert (line in txt) is explain and (same(line) in seen) is explain
    assert ("trace" in js["proof"]) is explain and (js["proof"].get("trace") or []) == (plan.proof.trace if explain else [])
    assert all(t.type != "html_inline" and t.type != "html_block" for t in md_parser().parse(md))


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_cli_explain_and_gitops_in_every_format(fmt: str, tmp_path: Path, capsys) -> None:
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump_all([CLASS, dp_node("dp-1"), running("single-1-a", "dp-1", ("ReplicaSet", "single-1"))]))
    (tmp_path / "wl.yaml").write_text(deployment("single"))
    args = ["plan", str(tmp_path / "wl.yaml"), "--cluster", str(snap), "--format", fmt]
    assert main(args) == 0
    plain_out = capsys.readouterr().out
    assert main(args + ["--explain", "--gitops", "helm"]) == 0
    out = capsys.readouterr().out
    assert "t=" not in plain_out and "helm.sh/hook" not in plain_out
    assert "t=0" in out and "helm.sh/hook" in out and "pre-install,pre-upgrade" in out


def test_runbook_names_real_files_and_no_placeholders(tmp_path: Path, capsys, monkeypatch) -> None:
    """Follow the runbook's advice (rewrite --templates file --write): every file it applies exists and
    holds what the step says; no command has a <placeholder>."""
    monkeypatch.chdir(tmp_path)
    manifests = {"apps/web.yaml": deployment("web") + "---\n" + deployment("api"),
                 "apps/my ds.yaml": workload("DaemonSet", "ds"), "jobs/train.yaml": workload("Job", "train")}
    for path, text in manifests.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    objs = [CLASS, dp_node("dp-1", 2), dp_node("dp-2", 2), running("ds-a", "dp-1", ("DaemonSet", "ds")),
            running("ds-b", "dp-2", ("DaemonSet", "ds"))]
    plan = build_plan(list(manifests.items()), snapshot_from_objects(objs), Mode(), explain=False)
    commands = [s.command for s in plan.steps if s.command]
    assert commands and not [c for c in commands if re.search(r"<[^>]*>", c)], commands
    assert main(["rewrite", "--templates", "file", "--write", *manifests]) == 0
    capsys.readouterr()
    for s in plan.steps:
        argv = shlex.split(s.command.split("  #")[0])
        files = [argv[i + 1] for i, a in enumerate(argv) if a == "-f"]
        for f in files:
            docs = [d for d in yaml.safe_load_all(Path(f).read_text()) if d]
            if s.action == "create":
                assert f.endswith("-claim-templates.yaml") and s.name in [
                    d["metadata"]["name"] for d in docs if d["kind"] == "ResourceClaimTemplate"], (s, f)
            else:  # the workload's switch applies no template it could outrun
                assert s.name in [d["metadata"]["name"] for d in docs] and \
                    "ResourceClaimTemplate" not in [d["kind"] for d in docs], (s, f)
        if s.action == "create":
            assert files, s
        if s.action == "delete" and s.kind == "Pod":
            assert "-l app=ds" in s.command and "spec.nodeName=" in s.command


@pytest.mark.parametrize("node", ["ghost", "dp-1", "dra-1", "no-such-node-0"])
@pytest.mark.parametrize("command", ["plan", "preview"])
def test_a_pod_bound_to_a_node_the_snapshot_lacks_is_left_out_not_a_traceback(tmp_path, node: str,
                                                                              command: str) -> None:
    """Pods of deleted nodes linger until the pod garbage collector removes them: no crash, a note."""
    import yaml

    from migrator.cli import main

    snap = yaml.safe_load((Path(__file__).parent / "snapshots" / "plan-cluster.yaml").read_text())
    for kind, name in (("Deployment", "web"), ("Pod", "notebook")):
        for item in snap["items"]:
            if item["kind"] == "Pod" and item["metadata"]["name"].startswith(name if kind == "Pod" else "web"):
                item["spec"]["nodeName"] = node
    (tmp_path / "snap.yaml").write_text(yaml.safe_dump(snap))
    args = [command, str(Path(__file__).parent.parent / "examples"), "--cluster", str(tmp_path / "snap.yaml")]
    code = main(args + (["--format", "json"] if command == "plan" else []))
    assert code in (0, 1)


@pytest.mark.parametrize("bad", ["metadata:\n  name: {{ .Values.x }}\n", "a: [\n", "a: 1\na: 2\n",
                                 "\tkey: tab\n", "- a\nb: c\n"])
def test_plan_reads_inputs_as_rewrite_does_a_broken_file_without_gpus_is_passed_by(tmp_path, capsys,
                                                                                   bad: str) -> None:
    """rewrite and scan never parse a file without a GPU word; plan must not abort on one."""
    from migrator.cli import main

    examples = Path(__file__).parent.parent / "examples"
    snap = str(Path(__file__).parent / "snapshots" / "plan-cluster.yaml")
    for f in examples.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text())
    alone = main(["plan", str(tmp_path), "--cluster", snap, "--format", "json"])
    expected = capsys.readouterr().out
    (tmp_path / "zz-broken.yaml").write_text(bad)
    assert main(["plan", str(tmp_path), "--cluster", snap, "--format", "json"]) == alone
    assert capsys.readouterr().out == expected


# ---- what the apiserver accepts: a Pod's spec and a Job's template are immutable ---------------------

@pytest.mark.parametrize("kind,verb", [("Pod", "replace --force"), ("Job", "replace --force"),
                                       ("CronJob", "apply"), ("PyTorchJob", "apply")])
@pytest.mark.parametrize("gpus", [1, 2, 4])
def test_unmodelled_switch_command_is_one_the_apiserver_accepts(kind: str, verb: str, gpus: int) -> None:
    # The real apiserver refuses `kubectl apply` of a changed Job template or Pod spec ("field is
    # immutable"; found by tests/e2e/test_rollouts.py): those are deleted and created again.
    plan = plan_for([workload(kind, "w", gpus)], FOUR_GPU_NODES)
    switch = [s for s in plan.steps if s.name == "w" and s.action == "update"]
    assert len(switch) == 1 and switch[0].command == f"kubectl {verb} -f m0.yaml", switch
    reason = decision(plan, "w").reason
    assert ("immutable" in reason) is (verb != "apply"), reason


@pytest.mark.parametrize("phase,holds", [("Succeeded", False), ("Failed", False), ("Running", True)])
@pytest.mark.parametrize("nodes", [1, 3])
def test_a_finished_job_holds_no_gpu(phase: str, holds: bool, nodes: int) -> None:
    # A Job that ran to the end has no running pod: the plan must not assume one on its node
    # (that kept the node on the device plugin, and the re-created Job's pod Pending for ever, on
    # the real controllers: tests/e2e/test_rollouts.py).
    pod = running("train-x", "dp-0", ("Job", "train"))
    pod["status"]["phase"] = phase
    plan = plan_for([workload("Job", "train")], [CLASS, *[dp_node(f"dp-{i}") for i in range(nodes)], pod])
    assert not [n for n in plan.notes if "assumed" in n], plan.notes
    cut_over = "label" in node_steps(plan, "dp-0")
    assert cut_over is not holds, [(s.action, s.name) for s in plan.steps]


def statefulset_yaml(name: str, replicas: int, max_unavailable: Any) -> str:
    doc = yaml.safe_load(workload("StatefulSet", name, replicas=replicas))
    if max_unavailable is not None:
        doc["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}}
    return yaml.safe_dump(doc)


@pytest.mark.parametrize("replicas,max_unavailable,down", [
    (2, None, 1), (2, 1, 1), (2, 2, 2), (4, 3, 3), (4, "50%", 2), (4, "60%", 2), (3, "10%", 1), (2, "100%", 2),
    (2, 5, 2),
])
@pytest.mark.parametrize("capacity", [False, True])
def test_statefulset_max_unavailable_takes_that_many_ordinals_down(replicas: int, max_unavailable: Any, down: int,
                                                                   capacity: bool) -> None:
    # The real StatefulSet controller (1.37: MaxUnavailableStatefulSet on) deletes maxUnavailable
    # ordinals at once, a percentage rounded down and at least 1 (tests/e2e/test_rollouts.py saw two
    # replicas down where the plan said one); the plan reports that worst case.
    objs = [CLASS, *[dp_node(f"dp-{i}") for i in range(replicas)],
            *[running(f"db-{i}", f"dp-{i}", ("StatefulSet", "db")) for i in range(replicas)]]
    if capacity:
        objs += [o for i in range(replicas) for o in dra_node(f"dra-{i}")]
    d = decision(plan_for([statefulset_yaml("db", replicas, max_unavailable)], objs), "db")
    assert d.deadlock_without_plan is not capacity, d.reason
    lost = min(down, replicas)
    if capacity:
        assert d.reason.endswith(f"up to {lost} replica(s) unavailable at a time during the rollout"), d.reason
    else:
        assert ("one replica down" if lost == 1 else f": {lost} replica(s) down") in d.reason, d.reason


@pytest.mark.parametrize("replicas", [2, 3, 4])
def test_the_plan_sets_the_order_the_replicaset_deletes_old_pods(replicas: int) -> None:
    """Which old pod a scale-down deletes is the ReplicaSet controller's choice, not the model's: the
    plan gives the old pods on each node a rising pod-deletion-cost before the switch, in the order
    it then cuts the nodes over, and the model deletes by that cost (tests/e2e/test_rollouts.py
    found the named node still running an old pod)."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    objs = [CLASS, *[dp_node(f"dp-{i}") for i in range(replicas)],
            *[running(f"two-1-{i}", f"dp-{i}", ("ReplicaSet", "two-1")) for i in range(replicas)]]
    plan = plan_for([deployment("two", replicas, strategy)], objs)
    assert plan.proof.ok, plan.proof.problems
    steps = plan.steps
    costs = {s.op[2]: s.op[3] for s in steps if s.op[0] == "deletion_cost"}
    assert sorted(costs.values()) == list(range(replicas)), costs
    switch = next(i for i, s in enumerate(steps) if s.op[0] == "switch")
    assert all(i < switch for i, s in enumerate(steps) if s.op[0] == "deletion_cost")
    assert all("controller.kubernetes.io/pod-deletion-cost=" in s.command and "--field-selector spec.nodeName="
               in s.command for s in steps if s.op[0] == "deletion_cost")
    # the nodes are cut over for the workload's own pods in the cost order
    order = [s.name for s in steps[switch:] if s.action == "cordon" and "its old pods left" in s.detail]
    assert order == sorted(order, key=lambda n: costs[n]) and order, (order, costs)
