"""Every vendor profile through rewrite, verify and plan (issue 12: the vendor is data).

For each converting row of each shipped profile (NVIDIA, AMD, Intel) pods are generated with
resource names drawn from the row (its name, or strings its pattern matches) and counts per
container; the rewrite must give each container its own request of the row's class with the
row's selector, drop the resource and keep the plugin's toleration; a snapshot whose devices are
built from the profile (what the driver publishes for that resource) must make `verify` agree
and `plan` prove the switch."""

from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.proof.cluster import snapshot_from_objects
from migrator.engine import migrate_text
from migrator.proof.equivalence import EQUIVALENT, Prover, prove_text
from migrator.mode import Mode
from migrator.plan.build import build_plan
from migrator.tables import load_tables
from migrator.transforms.base import resolve_device

T = load_tables()
ROWS = [r for r in T.devices if r.vendor != "nvidia" or r.kind == "whole"]  # NVIDIA MIG has its own tests


def _names(row: Any) -> st.SearchStrategy[str]:
    return st.just(row.name) if row.name else st.from_regex(row.pattern, fullmatch=True).filter(
        lambda n: len(n) < 60 and "/" in n and re.fullmatch(r"[a-z0-9./_-]+", n) is not None)


def _device(row: Any, resource: str, node: str, i: int) -> dict[str, Any]:
    prof = T.vendors.by_vendor(row.vendor)
    attrs: dict[str, Any] = {}
    if row.kind == "whole":
        attrs[prof.device_types.attribute] = prof.device_types.whole
        for attr, value in re.findall(r"\.(\w+) == '([^']*)'", (row.selector or "").format()):
            attrs[attr] = value
    else:
        attrs[prof.device_types.attribute] = prof.device_types.partition
        attrs[prof.partitions.profile_attribute] = resource[len(prof.partitions.resource_prefix or ""):]
    typed = {k: {"string": str(v)} for k, v in attrs.items()}
    return {"name": f"dev-{i}", "attributes": typed, "capacity": {"memory": {"value": "16Gi"}}}


def _pod(name: str, resources: list[tuple[str, int]], replicas: int = 1) -> str:
    containers = [{"name": f"c{i}", "image": "x", "resources": {"limits": {r: n}}} for i, (r, n) in enumerate(resources)]
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ml"},
                           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                    "template": {"metadata": {"labels": {"app": name}},
                                                 "spec": {"containers": containers}}}})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_each_vendor_row_rewrites_verifies_and_plans(data: Any) -> None:
    row = data.draw(st.sampled_from(ROWS))
    resource = data.draw(_names(row))
    counts = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    text = _pod("w", [(resource, n) for n in counts])
    result = migrate_text(text, "w.yaml", Mode())
    docs = [d for d in yaml.safe_load_all(result.text) if d]
    workload = next(d for d in docs if d["kind"] == "Deployment")
    template = next(d for d in docs if d["kind"] == "ResourceClaimTemplate")
    spec = workload["spec"]["template"]["spec"]
    assert resource not in result.text.split("kind: ResourceClaimTemplate")[0].replace(f"key: {resource}", "")
    assert {"key": resource, "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    cls, selectors = resolve_device(resource, T)
    reqs = template["spec"]["spec"]["devices"]["requests"]
    assert [(r["exactly"]["deviceClassName"], r["exactly"]["count"],
             tuple(s["cel"]["expression"] for s in r["exactly"].get("selectors", []))) for r in reqs] == \
        [(cls, n, selectors) for n in counts]
    assert [c["resources"]["claims"] for c in spec["containers"]] == [[{"name": "gpu", "request": r["name"]}]
                                                                       for r in reqs]
    assert migrate_text(result.text, "w.yaml", Mode()).text == result.text  # a second run changes nothing
    # verify: one node on DRA publishing what the device plugin served, and a decoy of another type
    need = sum(counts)
    prof = T.vendors.by_vendor(row.vendor)
    devices = [_device(row, resource, "dra-1", i) for i in range(need)]
    if row.kind == "whole" and prof.device_types.partition:
        decoy = {"name": "decoy", "attributes": {prof.device_types.attribute: {"string": prof.device_types.partition}}}
        devices.append(decoy)
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dra-1"},
         "status": {"allocatable": {}, "nodeInfo": {"kubeletVersion": "v1.35.2"}}},
        {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": "dra-1"},
         "spec": {"driver": prof.driver, "nodeName": "dra-1",
                  "pool": {"name": "dra-1", "generation": 1, "resourceSliceCount": 1}, "devices": devices}}]
    snap = snapshot_from_objects(objs)
    out = prove_text(text, "w.yaml", snap, Mode(), Prover(snap))
    assert [o.result for o in out] == [EQUIVALENT], [o.lines for o in out]
    # plan: the old pod runs on a device-plugin node; the DRA node has room for the new one
    objs += [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dp-1"},
              "status": {"allocatable": {resource: str(need)}, "nodeInfo": {"kubeletVersion": "v1.35.2"}}},
             {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w-1-a", "namespace": "ml", "ownerReferences": [
                 {"kind": "ReplicaSet", "name": "w-1", "controller": True}]},
              "spec": {"nodeName": "dp-1", "containers": [{"name": f"c{i}", "image": "x", "resources": {"limits": {
                  resource: n}}} for i, n in enumerate(counts)]}, "status": {"phase": "Running"}}]
    plan = build_plan([("w.yaml", text)], snapshot_from_objects(objs), Mode())
    assert plan.proof.ok and not any(d.blocked for d in plan.decisions), (plan.proof.problems, plan.decisions)
