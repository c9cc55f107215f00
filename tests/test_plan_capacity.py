"""Cut-over candidates and capacity: empty, cordoned and DRA nodes, generated.

Random small clusters (device-plugin nodes with 0..3 GPUs, DRA nodes with some devices already
allocated, nodes without GPUs; any of them cordoned, some empty) and Deployments/StatefulSets
whose old pods sit on the device-plugin nodes. Pods of workloads outside the plan only sit on
nodes no planned pod uses, so a plan that evicts nothing of theirs always exists: the proof must
hold, and free capacity (empty nodes, cordoned or not, and free DRA devices) must be used before
any replica is traded for a temporary strategy.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from test_plan import CLASS, deployment, dp_node, dra_node, plan_for, running

NODE = st.tuples(st.sampled_from(["dp", "dp", "dra", "none"]), st.integers(0, 3), st.booleans(), st.integers(0, 3))
WORKLOAD = st.tuples(st.sampled_from(["Deployment", "Deployment", "StatefulSet"]), st.integers(1, 3),
                     st.sampled_from([None, "Recreate", "surge-only"]))


def statefulset(name: str, replicas: int) -> str:
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "ml"},
                           "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                                        {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}})


def claim(node: str, device: int) -> dict[str, Any]:
    return {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
            "metadata": {"name": f"held-{node}-{device}", "namespace": "other"},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com"}}]}},
            "status": {"allocation": {"devices": {"results": [
                {"request": "gpu", "driver": "gpu.nvidia.com", "pool": node, "device": f"gpu-{device}"}]}}}}


def cluster(nodes: list[tuple[str, int, bool, int]], workloads: list[tuple[str, int, str | None]], draw: Any):
    """(manifests, snapshot objects, free slots at the start, workloads placed as (kind, name, replicas))."""
    objs: list[dict[str, Any]] = [CLASS]
    room: dict[str, int] = {}
    total: dict[str, int] = {}
    free_now = 0
    for i, (kind, gpus, cordoned, busy) in enumerate(nodes):
        name = f"n{i}"
        if kind == "dra" and gpus:
            made = dra_node(name, gpus)
            held = min(busy, gpus)
            objs += [claim(name, d) for d in range(held)]
            free_now += gpus - held
        else:
            made = [dp_node(name, gpus if kind == "dp" else 0)]
            if kind == "dp":
                room[name] = total[name] = gpus
        if cordoned:
            made[0]["spec"] = {"unschedulable": True}
        objs += made
    manifests, pods, placed = [], [], []
    for j, (kind, replicas, strategy) in enumerate(workloads):
        name = f"w{j}"
        slots = [n for n in sorted(room) for _ in range(room[n])]
        if len(slots) < replicas:
            continue
        chosen = draw(st.permutations(slots))[:replicas]
        for k, node in enumerate(chosen):
            room[node] -= 1
            if kind == "StatefulSet":
                pods.append(running(f"{name}-{k}", node, ("StatefulSet", name)))
            else:
                pods.append(running(f"{name}-1-{k}", node, ("ReplicaSet", f"{name}-1")))
        if kind == "StatefulSet":
            manifests.append(statefulset(name, replicas))
        else:
            manifests.append(deployment(name, replicas, {
                None: None, "Recreate": {"type": "Recreate"},
                "surge-only": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            }[strategy]))
        placed.append((kind, name, replicas))
    used = {p["spec"]["nodeName"] for p in pods}
    for node in sorted(room):
        if node in used:
            continue
        for k in range(draw(st.integers(0, room[node]))):  # someone else's pods, never evicted by the plan
            pods.append(running(f"other-{node}-{k}", node, ns="other"))
            room[node] -= 1
        if room[node] == total[node]:
            free_now += room[node]  # an empty device-plugin node: all its GPUs are free capacity
    return manifests, objs + pods, free_now, placed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NODE, min_size=1, max_size=5), st.lists(WORKLOAD, min_size=1, max_size=3), st.data())
def test_the_proof_holds_and_free_nodes_come_before_a_temporary_strategy(nodes, workloads, data) -> None:
    manifests, objs, free_now, placed = cluster(nodes, workloads, data.draw)
    assume(manifests)
    plan = plan_for(manifests, objs)
    event("temporary strategy" if any(d.switch_strategy for d in plan.decisions) else "own strategies")
    event(f"free slots {'>=' if free_now >= sum(r for _, _, r in placed) else '<'} all replicas")
    assert plan.proof.ok, plan.proof.problems
    decisions = {d.workload.name: d for d in plan.decisions}
    # the planner switches the smallest first; free capacity that hosts all of it needs no temporary strategy
    kind, first, replicas = min(placed, key=lambda p: (p[2], f"{p[0]} ml/{p[1]}"))
    if free_now >= replicas:
        assert decisions[first].switch_strategy is None, (first, free_now, [s.detail for s in plan.steps])
    if free_now >= sum(r for _, _, r in placed):
        assert all(d.switch_strategy is None for d in plan.decisions), free_now
    # a node the user cordoned is only uncordoned with a word in the runbook, and cordoned again at the end
    cordoned = {f"n{i}" for i, n in enumerate(nodes) if n[2]}
    for i, s in enumerate(plan.steps):
        if s.kind == "Node" and s.name in cordoned and s.action == "uncordon":
            assert "cordoned before this plan" in s.detail
            assert any(t.action == "cordon" and t.name == s.name and "restore" in t.detail for t in plan.steps[i:])


def one_replica(name: str, tolerate: bool = False) -> str:
    obj = yaml.safe_load(deployment(name))
    if tolerate:
        obj["spec"]["template"]["spec"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    return yaml.safe_dump(obj)


def test_the_snapshot_case_cuts_the_empty_cordoned_node_over_first(tmp_path, capsys) -> None:
    """plan-cluster.yaml: dp-2 is cordoned, empty, one GPU; two one-replica Deployments need no temporary strategy."""
    import json
    from pathlib import Path

    from migrator.cli import main

    for name in ("web", "api"):
        (tmp_path / f"{name}.yaml").write_text(one_replica(name, tolerate=name == "web"))
    snap = str(Path(__file__).parent / "snapshots" / "plan-cluster.yaml")
    assert main(["plan", str(tmp_path), "--cluster", snap, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["proof"]["ok"], data["proof"]["problems"]
    assert [w["switch_strategy"] for w in data["workloads"]] == [None, None]
    steps = [(s["action"], s["name"]) for s in data["steps"]]
    assert steps.index(("drain", "dp-2")) < steps.index(("update", "web"))
    assert steps[-1] == ("cordon", "dp-2")  # the user's cordon is restored, and the runbook says so
    assert "cordoned before this plan" in data["steps"][steps.index(("uncordon", "dp-2"))]["detail"]


@given(st.integers(1, 3), st.integers(0, 2), st.booleans())
@settings(max_examples=30, deadline=None)
def test_a_cordoned_node_is_no_capacity_for_old_pods(replicas: int, extra: int, cordoned: bool) -> None:
    """A workload without pods in the snapshot is placed where the scheduler would put it: not on a cordoned node."""
    node = dp_node("dp-1", replicas + extra)
    if cordoned:
        node["spec"] = {"unschedulable": True}
    plan = plan_for([deployment("fresh", replicas)], [CLASS, node])
    note = next(n for n in plan.notes if n.startswith("Deployment ml/fresh"))
    assert (f"{replicas} Pending" in note) is cordoned, note
    assert plan.proof.ok, plan.proof.problems


@given(st.lists(st.booleans(), min_size=1, max_size=4), st.booleans())
@settings(max_examples=40, deadline=None)
def test_a_daemonset_on_cordoned_nodes_switches_without_uncordoning_them(cordoned: list[bool], with_pods: bool) -> None:
    """DaemonSet pods tolerate node.kubernetes.io/unschedulable: a cordoned node runs them and stays cordoned."""
    from test_plan import workload

    objs: list[dict[str, Any]] = [CLASS]
    for i, c in enumerate(cordoned):
        node = dp_node(f"dp-{i}")
        if c:
            node["spec"] = {"unschedulable": True}
        objs.append(node)
        if with_pods:
            objs.append(running(f"ds-{i}", f"dp-{i}", ("DaemonSet", "ds")))
    plan = plan_for([workload("DaemonSet", "ds")], objs)
    assert plan.proof.ok, plan.proof.problems
    assert sorted(decision.workload.ds_nodes for decision in plan.decisions)[0] == [f"dp-{i}" for i in range(len(cordoned))]
    for i, c in enumerate(cordoned):
        actions = [s.action for s in plan.steps if s.kind == "Node" and s.name == f"dp-{i}"]
        assert ("uncordon" in actions) is not c, (i, actions)
        if c:
            assert any("stays cordoned" in s.detail for s in plan.steps if s.name == f"dp-{i}")


def crowded(nodes: list[tuple[str, int, bool, int]], workloads: list[tuple[str, int, str | None]], draw: Any):
    """Like cluster(), but pods of workloads outside the plan may share any node: some of these
    clusters cannot switch a workload without evicting such a pod into Pending."""
    objs: list[dict[str, Any]] = [CLASS]
    room: dict[str, int] = {}
    for i, (kind, gpus, cordoned, busy) in enumerate(nodes):
        name = f"n{i}"
        made = dra_node(name, gpus) if kind == "dra" and gpus else [dp_node(name, gpus if kind == "dp" else 0)]
        objs += [claim(name, d) for d in range(min(busy, gpus))] if kind == "dra" and gpus else []
        if kind == "dp":
            room[name] = gpus
        if cordoned:
            made[0]["spec"] = {"unschedulable": True}
        objs += made
    manifests, pods = [], []
    slots = [n for n in sorted(room) for _ in range(room[n])]
    slots = draw(st.permutations(slots))
    for j, (_, replicas, _) in enumerate(workloads):
        if len(slots) < replicas:
            continue
        for k in range(replicas):
            pods.append(running(f"w{j}-1-{k}", slots.pop(), ("ReplicaSet", f"w{j}-1")))
        manifests.append(deployment(f"w{j}", replicas))
    for k in range(draw(st.integers(0, len(slots)))):
        pods.append(running(f"other-{k}", slots.pop(), ns="other"))
    return manifests, objs + pods


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NODE, min_size=1, max_size=5), st.lists(WORKLOAD, min_size=1, max_size=3), st.data())
def test_a_workload_that_cannot_switch_is_blocked_and_keeps_its_replicas(nodes, workloads, data) -> None:
    """The proof holds on crowded clusters too: what cannot switch is blocked, and keeps its running pods."""
    manifests, objs = crowded(nodes, workloads, data.draw)
    assume(manifests)
    plan = plan_for(manifests, objs)
    assert plan.proof.ok, plan.proof.problems
    for d in plan.decisions:
        event("blocked" if d.blocked else "switched")
        if d.blocked:  # not switched: no step touches it (the proof checks it keeps its running pods)
            assert not [s for s in plan.steps if s.action == "update" and s.name == d.workload.name]


@pytest.mark.parametrize("cordoned", [False, True])
@pytest.mark.parametrize("big", [2, 3])
def test_a_last_resort_eviction_never_strands_a_workload_that_is_then_blocked(cordoned: bool, big: int) -> None:
    """small shares dp-1 with a pod outside the plan; evicting big's pods from dp-2 would let small switch, but
    then big (planned after it) has too few devices left and would be blocked with its pods Pending."""
    node = dp_node("dp-1", 2)
    if cordoned:
        node["spec"] = {"unschedulable": True}
    objs = [CLASS, node, dp_node("dp-2", big), running("small-1-a", "dp-1", ("ReplicaSet", "small-1")),
            running("other", "dp-1", ns="other")]
    objs += [running(f"big-1-{i}", "dp-2", ("ReplicaSet", "big-1")) for i in range(big)]
    plan = plan_for([deployment("small"), deployment("big", big)], objs)
    assert plan.proof.ok, plan.proof.problems
    small, big_ = sorted(plan.decisions, key=lambda d: d.workload.name != "small")
    assert small.blocked and not big_.blocked
    assert "dp-1" in small.reason
