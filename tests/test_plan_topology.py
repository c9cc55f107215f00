"""GPU Operator install topologies in `plan` (rules/gpu-operator.yaml, migrator/plan/topology.py).

- What the snapshot shows: the operator's resources first, else the deploy labels each stack's
  labeller sets; both at once is refused (the operator reconciles neither).
- ClusterPolicy (per node): the node steps use the ClusterPolicy's device-plugin label and the DRA
  chart's own label, never nvidia.com/gpu.deploy.dra-driver (the ClusterPolicy labeller removes it).
- GPUCluster target from a ClusterPolicy: one cluster-wide window on generated clusters. The proof
  must hold, the window must come in the right order (device plugin off, every device-plugin pod
  deleted, then the DRA stack), every workload is down for it (as the plan says), and whatever would
  still need a device plugin blocks it.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.cli import main
from migrator.proof.cluster import snapshot_from_objects
from migrator.mode import Mode
from migrator.plan.build import build_plan
from migrator.plan.topology import detect, stacks
from test_plan import CLASS, deployment, dp_node, running
from test_plan_capacity import statefulset

CP = {"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"}}
GC = {"apiVersion": "nvidia.com/v1alpha1", "kind": "GPUCluster", "metadata": {"name": "gpu-cluster"}}
CP_LABEL = {"nvidia.com/gpu.deploy.device-plugin": "true"}
GC_LABEL = {"nvidia.com/gpu.deploy.dra-driver": "true"}


def daemonset(name: str) -> str:
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "ml"},
                           "spec": {"selector": {"matchLabels": {"app": name}},
                                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                                        {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}})


# ---- what the snapshot shows -----------------------------------------------------------------

@pytest.mark.parametrize("objects,labels", list(itertools.product(
    [(), ("CP",), ("GC",), ("CP", "GC")], [(), ("cp",), ("gc",), ("cp", "gc")])))
def test_the_install_is_read_from_resources_then_labels(objects: tuple[str, ...], labels: tuple[str, ...]) -> None:
    objs: list[dict[str, Any]] = [{"CP": CP, "GC": GC}[o] for o in objects]
    for i, lab in enumerate(labels):
        objs.append(dp_node(f"n{i}", 1, **{"cp": CP_LABEL, "gc": GC_LABEL}[lab]))
    objs.append(dp_node("plain", 1))
    snap = snapshot_from_objects(objs)
    t = detect(snap)
    source = objects or tuple(x.upper() for x in labels)
    want = {(): "unknown", ("CP",): "clusterpolicy", ("GC",): "gpucluster"}.get(source, "both")
    assert t.shown == want, (objects, labels, t)
    # the target when nothing is asked: the install shown, the ClusterPolicy one otherwise
    assert t.target.name == ("gpucluster" if want == "gpucluster" else "clusterpolicy")
    assert t.cluster_wide is False
    assert detect(snap, "gpucluster").cluster_wide is (want != "gpucluster")
    assert detect(snap, "clusterpolicy").cluster_wide is False


@pytest.mark.parametrize("api", ["example.com/v1", "v1", "nvidia.com.evil/v1"])
def test_a_resource_of_another_group_is_not_the_operator(api: str) -> None:
    snap = snapshot_from_objects([dict(CP, apiVersion=api), dp_node("n0")])
    assert snap.operator_objects == () and detect(snap).shown == "unknown"


def test_an_operator_resource_without_a_name_is_one_error_line() -> None:
    from migrator.proof.cluster import InvalidSnapshot

    with pytest.raises(InvalidSnapshot) as exc:
        snapshot_from_objects([{"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {}}])
    assert any("metadata.name" in line for line in exc.value.lines), exc.value.lines


def test_the_stacks_table() -> None:
    s = stacks()
    assert set(s) == {"clusterpolicy", "gpucluster"}
    assert s["clusterpolicy"].per_node and not s["gpucluster"].per_node
    # the DRA chart beside a ClusterPolicy must not select a label the ClusterPolicy labeller removes
    assert s["clusterpolicy"].dra_on.split("=")[0] not in s["gpucluster"].labels
    assert s["gpucluster"].dra_on.split("=")[0] in s["gpucluster"].labels
    assert s["gpucluster"].device_plugin_off is None


# ---- per node: the ClusterPolicy install -----------------------------------------------------

def test_per_node_steps_use_the_clusterpolicy_labels() -> None:
    objs = [CLASS, CP, dp_node("n1", **CP_LABEL), dp_node("n2", **CP_LABEL),
            running("a-1", "n1", ("ReplicaSet", "a-1")), running("a-2", "n2", ("ReplicaSet", "a-1"))]
    plan = build_plan([("a.yaml", deployment("a", 2))], snapshot_from_objects(objs), Mode())
    assert plan.proof.ok, plan.proof.problems
    labels = [s.command.split()[4] for s in plan.steps if s.action == "label"]
    cp = stacks()["clusterpolicy"]
    assert labels and set(labels) == {cp.device_plugin_off, cp.dra_on}, labels
    assert not any("gpu.deploy.dra-driver=" in s.command for s in plan.steps)
    assert plan.topology.shown == "clusterpolicy" and not plan.topology.cluster_wide


# ---- the cluster-wide cut-over ---------------------------------------------------------------

WORKLOAD = st.tuples(st.sampled_from(["Deployment", "Deployment", "StatefulSet", "DaemonSet"]), st.integers(1, 3),
                     st.sampled_from([None, "Recreate", "surge-only"]))


def _cluster(gpus: list[int], workloads: list[tuple[str, int, str | None]], draw: Any) -> tuple[list[str], list[Any]]:
    objs: list[dict[str, Any]] = [CLASS, CP] + [dp_node(f"n{i}", g, **CP_LABEL) for i, g in enumerate(gpus)]
    room = {f"n{i}": g for i, g in enumerate(gpus)}
    manifests: list[str] = []
    for j, (kind, replicas, strategy) in enumerate(workloads):
        name = f"w{j}"
        if kind == "DaemonSet":
            if not all(room.values()):
                continue
            for node in room:
                room[node] -= 1
                objs.append(running(f"{name}-{node}", node, ("DaemonSet", name)))
            manifests.append(daemonset(name))
            continue
        slots = [n for n in sorted(room) for _ in range(room[n])]
        if len(slots) < replicas:
            continue
        for k, node in enumerate(draw(st.permutations(slots))[:replicas]):
            room[node] -= 1
            owner = ("StatefulSet", name) if kind == "StatefulSet" else ("ReplicaSet", f"{name}-1")
            objs.append(running(f"{name}-{k}", node, owner))
        manifests.append(statefulset(name, replicas) if kind == "StatefulSet" else deployment(name, replicas, {
            None: None, "Recreate": {"type": "Recreate"},
            "surge-only": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}[strategy]))
    return manifests, objs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.lists(WORKLOAD, min_size=1, max_size=4), st.data())
def test_cluster_wide_cutover_is_one_ordered_window(gpus: list[int], workloads: Any, data: Any) -> None:
    manifests, objs = _cluster(gpus, workloads, data.draw)
    if not manifests:
        return
    plan = build_plan([(f"m{i}.yaml", t) for i, t in enumerate(manifests)], snapshot_from_objects(objs), Mode(),
                      gpu_operator="gpucluster")
    assert plan.topology.cluster_wide
    assert plan.proof.ok, plan.proof.problems
    actions = [(s.action, s.kind) for s in plan.steps]
    # nodes are never switched one at a time, and the operator's resources change once each
    assert not [a for a in actions if a[0] in ("label", "drain")], actions
    assert actions.count(("delete", "ClusterPolicy")) == 1 and actions.count(("create", "GPUCluster")) == 1
    off, on = actions.index(("delete", "ClusterPolicy")), actions.index(("create", "GPUCluster"))
    # with DaemonSets, every GPU node is cordoned from before DRA starts until they run again
    # (their pods are bound to a node; another pod could take its device first)
    cordons = [i for i, a in enumerate(actions) if a[0] == "cordon"]
    uncordons = [i for i, a in enumerate(actions) if a[0] == "uncordon"]
    has_ds = any(d.workload.kind == "DaemonSet" for d in plan.decisions)
    assert len(cordons) == len(uncordons) == (len(gpus) if has_ds else 0), actions
    ds_waits = [i for i, s in enumerate(plan.steps) if s.op[0] == "wait_rollout" and s.kind == "DaemonSet"]
    assert all(off < c < on for c in cordons) and all(on < w < u for w in ds_waits for u in uncordons), actions
    templates = [i for i, a in enumerate(actions) if a == ("create", "ResourceClaimTemplate")]
    switches = [i for i, s in enumerate(plan.steps) if s.op[0] == "switch"]
    deletes = [i for i, s in enumerate(plan.steps) if s.op[0] == "delete_pods"]
    assert all(t < off for t in templates) and all(off < i < on for i in switches + deletes), actions
    # every workload holding GPUs has its pods deleted inside the window, and all of it is down
    for d in plan.decisions:
        w = d.workload
        want = w.replicas if w.kind != "DaemonSet" else len(w.ds_nodes)
        assert d.completed and not d.blocked, d
        assert d.capacity_lost == want, (w.key, d.capacity_lost, want)
        assert any(s.op == ("delete_pods", w.key) for s in plan.steps), w.key


@pytest.mark.parametrize("extra", ["outside", "not-migrated"])
def test_what_would_still_need_the_device_plugin_blocks_the_cluster_wide_cutover(extra: str) -> None:
    objs: list[dict[str, Any]] = [CLASS, CP, dp_node("n1", 2, **CP_LABEL), running("a-1", "n1", ("ReplicaSet", "a-1"))]
    manifests = [("a.yaml", deployment("a", 1))]
    if extra == "outside":
        objs.append(running("legacy", "n1", None, ns="batch"))
        needle = "outside the manifests"
    else:  # a pod template the rewrite leaves with the device plugin (a bare count placeholder)
        manifests.append(("b.yaml", deployment("b", 1).replace("nvidia.com/gpu: 1", "nvidia.com/gpu: '{{ .Values.gpus }}'")))
        needle = "stay on the device plugin"
    snap = snapshot_from_objects(objs)
    wide = build_plan(manifests, snap, Mode(), gpu_operator="gpucluster")
    assert not wide.proof.ok and any(needle in p for p in wide.proof.problems), wide.proof.problems
    per_node = build_plan(manifests, snap, Mode(), gpu_operator="clusterpolicy")
    assert not any(needle in p for p in per_node.proof.problems), per_node.proof.problems


def test_both_installs_at_once_are_refused() -> None:
    objs = [CLASS, CP, GC, dp_node("n1", 1), running("a-1", "n1", ("ReplicaSet", "a-1"))]
    plan = build_plan([("a.yaml", deployment("a", 1))], snapshot_from_objects(objs), Mode())
    assert plan.topology.shown == "both"
    assert any(line.startswith("BLOCKED: ClusterPolicy and GPUCluster cannot coexist") for line in plan.preflight)
    assert not plan.proof.ok


def test_cli_gpu_operator_flag(tmp_path: Any, capsys: Any) -> None:
    (tmp_path / "a.yaml").write_text(deployment("a", 1))
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump_all([CLASS, CP, dp_node("n1", 1, **CP_LABEL),
                                        running("a-1", "n1", ("ReplicaSet", "a-1"))]))
    before = (tmp_path / "a.yaml").read_bytes()
    assert main(["plan", str(tmp_path / "a.yaml"), "--cluster", str(snap), "--format", "json",
                 "--gpu-operator", "gpucluster"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["gpu_operator"] == {"shown": "clusterpolicy", "evidence": "the snapshot holds ClusterPolicy cluster-policy",
                                   "target": "gpucluster", "cluster_wide": True, "device_plugin_off": None,
                                   "dra_on": "nvidia.com/gpu.deploy.dra-driver=true"}
    assert (tmp_path / "a.yaml").read_bytes() == before
    assert main(["plan", str(tmp_path / "a.yaml"), "--cluster", str(snap), "--gpu-operator", "nodes"]) == 2
    err = capsys.readouterr().err
    assert "--gpu-operator" in err and "Traceback" not in err
