"""StatefulSet rolling updates at the exact Kubernetes release: with MaxUnavailableStatefulSet on
(1.35.0-1.35.3, 1.37+; rules/kubernetes.yaml) the controller takes down up to maxUnavailable pods
at once (a percentage rounded down, at least 1); off (1.35.4-1.36), one. The plan's simulation, its
capacity_lost and its notes follow the release the snapshot shows (the server's, else the newest
kubelet's)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.proof.cluster import snapshot_from_objects
from migrator.k8s.kube import releases
from migrator.plan.build import build_plan
from migrator.mode import Mode
from test_plan import CLASS, dra_node, running


def sts(replicas: int, max_unavailable: Any, parallel: bool) -> str:
    spec: dict[str, Any] = {"replicas": replicas, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                                {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}
    if max_unavailable is not None:
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}}
    if parallel:
        spec["podManagementPolicy"] = "Parallel"
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "ml"},
                           "spec": spec})


def node(name: str, version: str, gpus: int = 1) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": "Tesla-T4"}},
            "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}, "nodeInfo": {"kubeletVersion": version}}}


def expected(replicas: int, max_unavailable: Any, version: str) -> int:
    if not releases().gate("MaxUnavailableStatefulSet", version):
        return 1
    v = 1 if max_unavailable is None else max_unavailable
    n = math.floor(int(v[:-1]) * replicas / 100 + 1e-9) if isinstance(v, str) else int(v)
    return min(max(1, n), replicas)


@settings(max_examples=60, deadline=None)
@given(replicas=st.integers(1, 4), max_unavailable=st.sampled_from([None, 1, 2, 3, "50%", "34%", "100%", "10%"]),
       parallel=st.booleans(), version=st.sampled_from(["v1.35.2", "v1.35.3", "v1.35.4", "v1.36.1", "v1.37.2"]),
       live=st.booleans())
def test_the_release_decides_how_many_ordinals_go_at_once(replicas: int, max_unavailable: Any, parallel: bool,
                                                           version: str, live: bool) -> None:
    """Room on DRA nodes for every new pod: the StatefulSet's own strategy completes, and the
    replicas it has down at once are what its controller at that release takes down."""
    objs: list[dict[str, Any]] = [CLASS]
    for i in range(replicas):
        objs += [node(f"dp-{i}", "v1.35.0" if live else version), running(f"db-{i}", f"dp-{i}", ("StatefulSet", "db"))]
    for o in dra_node("dra-1", replicas):
        if o["kind"] == "Node":
            o["status"]["nodeInfo"]["kubeletVersion"] = "v1.35.0" if live else version
        objs.append(o)
    snap = snapshot_from_objects(objs)
    if live:  # read live: the server's own version, whatever the kubelets run
        import dataclasses

        snap = dataclasses.replace(snap, server_version=version)
    plan = build_plan([("db.yaml", sts(replicas, max_unavailable, parallel))], snap, Mode(), explain=False)
    (d,) = plan.decisions
    assert plan.proof.ok, plan.proof.problems
    assert not d.deadlock_without_plan and d.switch_strategy is None
    assert d.capacity_lost == expected(replicas, max_unavailable, version), (d.capacity_lost, plan.notes)
    noted = [n for n in plan.notes if "sets rollingUpdate.maxUnavailable" in n]
    assert bool(noted) == (max_unavailable not in (None, 1))
    if noted:
        assert version in noted[0] and ("the API server" if live else "the newest kubelet") in noted[0]


@pytest.mark.parametrize("version,on", [("v1.35.3", True), ("v1.35.4", False), ("v1.37.2", True)])
def test_a_stalled_statefulset_loses_what_its_release_takes_down(version: str, on: bool) -> None:
    """No DRA capacity at all: with maxUnavailable 2 where the gate is on, two replicas go down
    and stay Pending; where it is off, one."""
    objs: list[dict[str, Any]] = [CLASS]
    for i in range(3):
        objs += [node(f"dp-{i}", version), running(f"db-{i}", f"dp-{i}", ("StatefulSet", "db"))]
    snap = snapshot_from_objects(objs)
    plan = build_plan([("db.yaml", sts(3, 2, False))], snap, Mode(), explain=False)
    (d,) = plan.decisions
    assert d.deadlock_without_plan
    assert ("2 replica(s) down" in d.reason) is on and ("one replica down" in d.reason) is not on, d.reason
    assert plan.proof.ok, plan.proof.problems
    # the plan's own partition steps move one ordinal at a time whatever the release
    assert d.capacity_lost == 1


@pytest.mark.parametrize("kind,field_,value,ok", [
    ("StatefulSet", "maxUnavailable", 0, False), ("StatefulSet", "maxUnavailable", "0%", False),
    ("StatefulSet", "maxUnavailable", -1, False), ("StatefulSet", "maxUnavailable", "150%", False),
    ("StatefulSet", "maxUnavailable", "101%", False), ("StatefulSet", "maxUnavailable", 1, True),
    ("StatefulSet", "maxUnavailable", "1%", True), ("StatefulSet", "maxUnavailable", "100%", True),
    ("StatefulSet", "maxUnavailable", 10, True),
    ("Deployment", "maxUnavailable", -1, False), ("Deployment", "maxSurge", "150%", False),
    ("Deployment", "maxUnavailable", 0, True), ("Deployment", "maxSurge", "100%", True),
])
def test_rolling_update_values_the_api_rejects_are_reported(kind: str, field_: str, value: Any, ok: bool) -> None:
    """A value outside the range apps validation accepts is reported with its path, and the pod
    is left as it was (pkg/apis/apps/validation, kubernetes v1.37.2)."""
    from migrator.engine import migrate_text

    doc = yaml.safe_load(sts(2, None, False))
    doc["kind"] = kind
    key = "updateStrategy" if kind == "StatefulSet" else "strategy"
    doc["spec"][key] = {"type": "RollingUpdate", "rollingUpdate": {field_: value}}
    text = yaml.safe_dump(doc)
    out = migrate_text(text, "w.yaml", Mode())
    bad = [f for f in out.findings if f.code == "GPU900" and field_ in f.message]
    assert bool(bad) is not ok, out.findings
    assert (out.text == text) is not ok
