"""A field of the wrong JSON type anywhere the tool reads: reported for that pod, never a crash.

For every field path in the table below (written from the Kubernetes API types, not from the
engine) and every JSON type, the value at that path of an otherwise valid GPU workload is
replaced and the file is run in a batch between two good files: through the engine
(exhaustively) and through ``rewrite``, ``scan``, ``verify`` and ``plan`` (hypothesis). The
good files come out exactly as when alone; the bad one is either left byte for byte as it was
with a finding (GPU900 naming the field, when the type is wrong) or converted with the same
device holdings and, on the fleet snapshot, the same reachable devices.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import cli
from migrator.cli import main
from migrator.proof.cluster import load_snapshot
from migrator.engine import migrate_text
from migrator.proof.equivalence import Prover, prove_text
from migrator.mode import Mode, WriteBack
from migrator.runner import run
from migrator.transforms import REGISTRY
from semantics import holdings_changed

SNAPSHOT = str(Path(__file__).parent / "snapshots" / "fleet.yaml")
PROVER = Prover(load_snapshot(SNAPSHOT))
GPU = re.compile(r"^nvidia\.com/(gpu|mig-.+)$")

#: one value of every JSON type; collections and strings name a GPU, so a wrongly typed value
#: that replaces a whole pod spec still says "there was a GPU here"
VALUES: dict[str, Any] = {"null": None, "boolean": True, "integer": 7, "float": 1.5,
                          "string": "nvidia.com/gpu", "list": ["nvidia.com/gpu"],
                          "mapping": {"nvidia.com/gpu": "1"}}


# ---- what the API accepts at each path (core/v1, apps/v1, KubeRay types) ------------------------

def _kind(v: Any) -> str:
    return next(k for k, x in VALUES.items() if type(x) is type(v)) if v is not None else "null"


def field(*kinds: str, null: bool = True, check: Callable[[Any], bool] | None = None):  # noqa: ANN201
    """A field accepting ``kinds``; ``null`` False for list items and map values (null is not absent)."""
    def valid(v: Any) -> bool:
        if v is None:
            return null
        return _kind(v) in kinds and (check is None or check(v))
    return valid


MAP, LIST, STR, INT = field("mapping"), field("list"), field("string"), field("integer")
ITEM = field("mapping", null=False)  #: a struct in a list
STR_ITEM = field("string", null=False)  #: a string in a list or a map of strings
QTY = field("string", "integer", "float", null=False)  #: resource.Quantity in limits/requests
PERCENT = field("string", "integer", check=lambda v: not isinstance(v, str) or bool(re.fullmatch(r"\d+%", v)))

#: pod-spec fields the rules, the selection translator, verify and plan read (path below the pod spec)
POD_FIELDS: list[tuple[tuple[Any, ...], Callable[[Any], bool]]] = [
    (("containers",), LIST), (("containers", 0), ITEM), (("containers", 0, "name"), STR),
    (("containers", 0, "resources"), MAP), (("containers", 0, "resources", "limits"), MAP),
    (("containers", 0, "resources", "limits", "nvidia.com/gpu"), QTY),
    (("containers", 0, "resources", "requests"), MAP),
    (("containers", 0, "resources", "requests", "nvidia.com/gpu"), QTY),
    (("containers", 0, "resources", "claims"), LIST), (("containers", 0, "resources", "claims", 0), ITEM),
    (("containers", 0, "resources", "claims", 0, "name"), STR),
    (("containers", 0, "env"), LIST), (("containers", 0, "env", 0), ITEM),
    (("containers", 0, "env", 0, "name"), STR), (("containers", 0, "env", 0, "value"), STR),
    (("initContainers",), LIST), (("initContainers", 0), ITEM), (("initContainers", 0, "restartPolicy"), STR),
    (("initContainers", 0, "resources"), MAP), (("initContainers", 0, "resources", "limits"), MAP),
    (("initContainers", 0, "resources", "limits", "nvidia.com/gpu"), QTY),
    (("ephemeralContainers",), LIST),
    (("nodeSelector",), MAP), (("nodeSelector", "nvidia.com/gpu.family"), STR_ITEM),
    (("affinity",), MAP), (("affinity", "nodeAffinity"), MAP),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"), MAP),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"), LIST),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0), ITEM),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0,
      "matchExpressions"), LIST),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0,
      "matchExpressions", 0), ITEM),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0,
      "matchExpressions", 0, "key"), STR),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0,
      "matchExpressions", 0, "operator"), STR),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0,
      "matchExpressions", 0, "values"), LIST),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0,
      "matchExpressions", 0, "values", 0), STR_ITEM),
    (("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", 0,
      "matchFields"), LIST),
    (("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"), LIST),
    (("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0), ITEM),
    (("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "weight"), INT),
    (("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "preference"), MAP),
    (("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "preference",
      "matchExpressions"), LIST),
    (("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "preference",
      "matchExpressions", 0), ITEM),
    (("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "preference",
      "matchExpressions", 0, "values"), LIST),
    (("tolerations",), LIST), (("tolerations", 0), ITEM), (("tolerations", 0, "key"), STR),
    (("tolerations", 0, "operator"), STR), (("tolerations", 0, "value"), STR), (("tolerations", 0, "effect"), STR),
    (("resourceClaims",), LIST), (("resourceClaims", 0), ITEM), (("resourceClaims", 0, "name"), STR),
    (("resourceClaims", 0, "resourceClaimName"), STR),
    (("runtimeClassName",), STR),
]
METADATA_FIELDS = [((), MAP), (("name",), STR), (("namespace",), STR), (("labels",), MAP),
                   (("labels", "app"), STR_ITEM), (("annotations",), MAP), (("annotations", "note"), STR_ITEM)]

POD: dict[str, Any] = {
    "nodeSelector": {"nvidia.com/gpu.family": "hopper"},
    "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {"matchExpressions": [
            {"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["40000"]}]}}]}},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "value": "", "effect": "NoSchedule"}],
    "resourceClaims": [{"name": "scratch", "resourceClaimName": "scratch-space"}],
    "runtimeClassName": "runc",
    "initContainers": [{"name": "warmup", "image": "i", "resources": {"limits": {"nvidia.com/gpu": 1}}}],
    "containers": [{"name": "main", "image": "i", "env": [{"name": "MODE", "value": "fast"}],
                    "resources": {"limits": {"nvidia.com/gpu": 1, "cpu": "1"}, "requests": {"nvidia.com/gpu": "1"},
                                  "claims": [{"name": "scratch"}]}}],
}
TEMPLATE = {"metadata": {"labels": {"app": "bad"}, "annotations": {"note": "x"}}, "spec": POD}
META = {"name": "bad", "namespace": "ml", "labels": {"app": "bad"}, "annotations": {"note": "x"}}


@pytest.fixture(scope="module", autouse=True)
def _no_project_config(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The CLI reads .dra-migrate.yaml from the working directory: run where there is none."""
    import os

    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(old)


def _kinds() -> dict[str, tuple[dict[str, Any], tuple[Any, ...], list[tuple[tuple[Any, ...], Callable]]]]:
    """kind -> (object, path of the pod template, object-level fields besides metadata)."""
    def obj(api: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": api, "kind": kind, "metadata": copy.deepcopy(META), "spec": spec}

    t = copy.deepcopy(TEMPLATE)
    return {
        "Deployment": (obj("apps/v1", "Deployment", {
            "replicas": 2, "selector": {"matchLabels": {"app": "bad"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
            "template": t}), ("spec", "template"),
            [(("spec",), MAP), (("spec", "replicas"), INT), (("spec", "strategy"), MAP),
             (("spec", "strategy", "type"), STR), (("spec", "strategy", "rollingUpdate"), MAP),
             (("spec", "strategy", "rollingUpdate", "maxSurge"), PERCENT),
             (("spec", "strategy", "rollingUpdate", "maxUnavailable"), PERCENT),
             (("spec", "template"), MAP), (("spec", "template", "spec"), MAP)]),
        "StatefulSet": (obj("apps/v1", "StatefulSet", {
            "replicas": 1, "serviceName": "s", "updateStrategy": {"type": "RollingUpdate",
                                                                  "rollingUpdate": {"partition": 0}},
            "template": t}), ("spec", "template"),
            [(("spec", "replicas"), INT), (("spec", "updateStrategy"), MAP),
             (("spec", "updateStrategy", "rollingUpdate", "partition"), INT)]),
        "PyTorchJob": (obj("kubeflow.org/v1", "PyTorchJob", {"pytorchReplicaSpecs": {"Worker": {
            "replicas": 2, "template": t}}}), ("spec", "pytorchReplicaSpecs", "Worker", "template"),
            [(("spec", "pytorchReplicaSpecs"), MAP), (("spec", "pytorchReplicaSpecs", "Worker"), MAP),
             (("spec", "pytorchReplicaSpecs", "Worker", "template"), MAP),
             (("spec", "pytorchReplicaSpecs", "Worker", "template", "spec"), MAP)]),
        "RayCluster": (obj("ray.io/v1", "RayCluster", {
            "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [{"name": "head",
                                                                                         "image": "i"}]}}},
            "workerGroupSpecs": [{"groupName": "gpu", "replicas": 1,
                                  "rayStartParams": {"num-cpus": "1"}, "template": t}]}),
            ("spec", "workerGroupSpecs", 0, "template"),
            [(("spec", "workerGroupSpecs"), LIST), (("spec", "workerGroupSpecs", 0), ITEM),
             (("spec", "workerGroupSpecs", 0, "rayStartParams"), MAP),
             (("spec", "workerGroupSpecs", 0, "rayStartParams", "num-cpus"), STR_ITEM),
             (("spec", "workerGroupSpecs", 0, "template"), MAP)]),
        "JobSet": (obj("jobset.x-k8s.io/v1alpha2", "JobSet", {"replicatedJobs": [{"name": "w", "template": {
            "spec": {"template": t}}}]}), ("spec", "replicatedJobs", 0, "template", "spec", "template"),
            [(("spec", "replicatedJobs"), LIST), (("spec", "replicatedJobs", 0), ITEM),
             (("spec", "replicatedJobs", 0, "template", "spec"), MAP)]),
        "LeaderWorkerSet": (obj("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", {
            "replicas": 1, "leaderWorkerTemplate": {"size": 2, "workerTemplate": t}}),
            ("spec", "leaderWorkerTemplate", "workerTemplate"),
            [(("spec", "replicas"), INT), (("spec", "leaderWorkerTemplate"), MAP),
             (("spec", "leaderWorkerTemplate", "workerTemplate"), MAP)]),
    }


KINDS = _kinds()


#: the pod fields substituted in the other kinds (the Deployment and the StatefulSet get all)
SAMPLE = {("containers",), ("containers", 0), ("containers", 0, "resources", "limits"),
          ("initContainers", 0, "resources", "limits", "nvidia.com/gpu"), ("nodeSelector",),
          ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"),
          ("tolerations", 0), ("resourceClaims",)}


def cases(kind: str) -> list[tuple[tuple[Any, ...], Callable[[Any], bool]]]:
    """Every field path of ``kind`` this test substitutes, with what the API accepts there."""
    obj, template, extra = KINDS[kind]
    out = [(("metadata",) + p, v) for p, v in METADATA_FIELDS]
    out += [(template + ("metadata",) + p, v) for p, v in METADATA_FIELDS]
    out += [(template + ("spec",) + p, v) for p, v in POD_FIELDS
            if kind in ("Deployment", "StatefulSet") or p in SAMPLE]
    return out + extra


def dotted(path: tuple[Any, ...]) -> str:
    """The documented form of a field path in messages: spec.containers[0].resources.limits["nvidia.com/gpu"]."""
    out = ""
    for s in path:
        if isinstance(s, int):
            out += f"[{s}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", s):
            out += f".{s}" if out else s
        else:
            out += f'["{s}"]'
    return out


def substitute(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur: Any = out
    for step in path[:-1]:
        cur = cur[step]
    cur[path[-1]] = copy.deepcopy(value)
    return out


def mentions_gpu(value: Any) -> bool:
    if isinstance(value, dict):
        return any(GPU.match(str(k)) or mentions_gpu(v) for k, v in value.items())
    if isinstance(value, list):
        return any(mentions_gpu(v) for v in value)
    return isinstance(value, str) and bool(GPU.match(value))


def at(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and isinstance(step, int) and step < len(obj):
            obj = obj[step]
        else:
            return None
    return obj


def dump(obj: dict[str, Any]) -> str:
    return yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=False)


GOOD_BEFORE = dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "good-t4", "namespace": "ml"},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "t4"}}, "template": {
                        "metadata": {"labels": {"app": "t4"}},
                        "spec": {"nodeSelector": {"nvidia.com/gpu.product": "Tesla-T4"},
                                 "containers": [{"name": "c", "image": "i",
                                                 "resources": {"limits": {"nvidia.com/gpu": 2}}}]}}}})
GOOD_AFTER = dump({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "good-mig"},
                   "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                       {"name": "c", "image": "i", "resources": {"limits": {"nvidia.com/mig-1g.10gb": 1}}}]}}}})


def check_bad(kind: str, path: tuple[Any, ...], type_name: str, before: str, after: str, findings: list[Any]) -> bool:
    """The per-file property for the bad file; True when it was converted."""
    obj, template, _ = KINDS[kind]
    value = VALUES[type_name]
    valid = dict(cases(kind))[path](value)
    bad = substitute(obj, path, value)
    pod_path = template + ("spec",)
    where = dotted(path)
    shape_findings = [f for f in findings if f["code"] == "GPU900" and " is " in f["message"]
                      and "internal error" not in f["message"]]
    assert not [f for f in findings if "internal error" in f["message"]], findings  # the backstop never fires
    if after != before:
        # converted: only a valid manifest may be, and with the same device holdings
        assert valid, f"{where} = {value!r} is not valid, yet the file was rewritten"
        assert holdings_changed(before, after) == []
        assert any(f["code"] == "GPU000" for f in findings)
        return True
    if not valid:
        # a GPU pod whose field has the wrong type: reported with the field's path
        replaced_pod = pod_path[:len(path)] == path  # the value replaced the pod template or an ancestor
        if mentions_gpu(value) if replaced_pod else mentions_gpu(at(bad, pod_path)):
            named = [f for f in shape_findings if f["message"].startswith("not converted: " + where + " is ")]
            assert named, (where, value, findings)
            assert all(f["line"] == node_line(before, path) for f in named), (where, named)  # the field's line
    else:
        # valid but not converted: a true reason is given (or there is no GPU left to convert)
        assert findings or not mentions_gpu(bad), (where, value)
        for f in shape_findings:  # a type problem, if any, lies inside the value substituted
            assert f["message"].startswith("not converted: " + where), (where, value, f)
    return False


def _findings_json(result_findings: Any) -> list[dict[str, Any]]:
    return [{"code": f.code, "status": f.status.value, "message": f.message, "line": f.line}
            for f in result_findings]


def node_line(text: str, path: tuple[Any, ...]) -> int:
    """1-based line of the value at ``path`` in ``text`` (composed by PyYAML, not by the tool)."""
    node = yaml.compose(text, Loader=yaml.CSafeLoader)
    for step in path:
        if isinstance(step, int):
            node = node.value[step]
        else:
            node = next(v for k, v in node.value if k.value == step)
    return node.start_mark.line + 1


ALL_CASES = [(k, p, t) for k in KINDS for p, _ in cases(k) for t in VALUES]


def test_the_table_covers_every_path_kind_and_type() -> None:
    assert len({p for k, p, _ in ALL_CASES if k == "Deployment"}) >= 75
    for k in KINDS:  # every path exists in the base object (or is a field the test adds)
        obj = KINDS[k][0]
        for p, _ in cases(k):
            assert at(obj, p[:-1]) is not None, (k, p)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_wrong_type_in_a_batch_through_the_engine(kind: str, tmp_path: Path) -> None:
    good1, good2 = tmp_path / "a-good.yaml", tmp_path / "c-good.yaml"
    good1.write_text(GOOD_BEFORE)
    good2.write_text(GOOD_AFTER)
    alone = {str(p): migrate_text(p.read_text(), str(p), Mode()) for p in (good1, good2)}
    assert all(r.text != p.read_text() for p, r in zip((good1, good2), alone.values()))
    base = KINDS[kind][0]
    assert migrate_text(dump(base), "b.yaml", Mode()).text != dump(base)  # the base itself converts
    converted = rejected = 0
    for _, path, type_name in [c for c in ALL_CASES if c[0] == kind]:
        bad = tmp_path / "b-bad.yaml"
        text = dump(substitute(base, path, VALUES[type_name]))
        bad.write_text(text)
        seen: dict[str, Any] = {}
        report = run([str(tmp_path)], Mode(), WriteBack.DIFF, on_result=lambda r, seen=seen: seen.__setitem__(r.path, r))
        assert report.return_code == 0 and not report.failures
        for p, r in alone.items():
            assert seen[p].after == r.text and seen[p].findings == r.findings  # as when alone
        r = seen[str(bad)]
        if check_bad(kind, path, type_name, text, r.after, _findings_json(r.findings)):
            converted += 1
            # the same devices are reachable before and after on the fleet snapshot
            outcomes = prove_text(text, str(bad), PROVER.snap, Mode(), PROVER)
            assert outcomes and all(o.result != "different" for o in outcomes), (dotted(path), type_name, outcomes)
        else:
            rejected += 1
    assert converted and rejected


def test_valid_but_unusual_values_behave_as_absent() -> None:
    """null is an absent field; empty collections are valid: the pod converts as without them."""
    obj, template, _ = KINDS["Deployment"]
    pod = template + ("spec",)
    empty = {"nodeSelector": {}, "affinity": {}, "tolerations": [], "resourceClaims": [], "initContainers": [],
             "ephemeralContainers": [], "runtimeClassName": None}
    for key in [p[0] for p, _ in POD_FIELDS if len(p) == 1 and p[0] != "containers"]:
        p = (key,)
        without = copy.deepcopy(obj)
        at(without, pod).pop(key, None)
        expect = migrate_text(dump(without), "x.yaml", Mode())
        for value in (None, empty[key]):
            got = migrate_text(dump(substitute(obj, pod + p, value)), "x.yaml", Mode())
            codes = sorted((f.code, f.status.value) for f in got.findings)
            assert codes == sorted((f.code, f.status.value) for f in expect.findings), (p, value)
            assert [t["spec"] for t in yaml.safe_load_all(got.text) if t.get("kind") == "ResourceClaimTemplate"] == \
                [t["spec"] for t in yaml.safe_load_all(expect.text) if t.get("kind") == "ResourceClaimTemplate"], (p, value)


# ---- the same through the CLI: rewrite (written), scan, verify and plan ---------------------------

def _cli(*args: str) -> tuple[int, str]:
    code, out, err = cli(*args)
    assert "Traceback" not in err, err
    return code, out


def _json_findings(data: Any, file: str | None = None) -> list[dict[str, Any]]:
    """Every finding object in scan's JSON, with the file it belongs to (its own or its parent's)."""
    if isinstance(data, list):
        return [f for x in data for f in _json_findings(x, file)]
    if not isinstance(data, dict):
        return []
    file = data.get("file", file)
    if "code" in data and "message" in data:
        return [dict(data, file=file)]
    return [f for v in data.values() for f in _json_findings(v, file)]


_ALONE: dict[tuple[str, ...], tuple[int, str]] = {}


def _alone(args: tuple[str, ...], good: list[Path]) -> tuple[int, str]:
    """A command's result on the good files alone (the same for every example: computed once)."""
    key = args + tuple(map(str, good))
    if key not in _ALONE:
        _ALONE[key] = _cli(*key)
    return _ALONE[key]


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batch")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(ALL_CASES))
def test_every_command_survives_a_wrong_type_in_a_batch(batch_dir: Path, case: tuple[str, tuple[Any, ...], str]) -> None:
    kind, path, type_name = case
    root = batch_dir
    good = [root / "a-good.yaml", root / "c-good.yaml"]
    good[0].write_text(GOOD_BEFORE)  # fresh: the last example rewrote them
    good[1].write_text(GOOD_AFTER)
    bad = root / "b-bad.yaml"
    text = dump(substitute(KINDS[kind][0], path, VALUES[type_name]))
    bad.write_text(text)
    files = [str(good[0]), str(bad), str(good[1])]
    if True:
        code, out = _cli("scan", "--format", "json", "-q", "--exit-zero", *files)  # the gate: test_scan_gate.py
        assert code == 0
        scanned = [f for f in _json_findings(json.loads(out)) if f.get("file") == str(bad)]

        # verify and plan read the files before rewrite changes them
        v_alone, v_alone_out = _alone(("verify", "--cluster", SNAPSHOT, "--format", "json"), good)
        v_code, v_out = _cli("verify", "--cluster", SNAPSHOT, "--format", "json", *files)
        p_alone, p_alone_out = _alone(("plan", "--cluster", SNAPSHOT, "--format", "json"), good)
        p_code, p_out = _cli("plan", "--cluster", SNAPSHOT, "--format", "json", *files)

        expect = {str(p): migrate_text(p.read_text(), str(p), Mode()).text for p in good}
        assert _cli("rewrite", "--check", "-q", *files)[0] == 1  # the good files would change
        assert all(p.read_text() == t for p, t in zip(good, (GOOD_BEFORE, GOOD_AFTER))) and bad.read_text() == text
        code, _ = _cli("rewrite", "--write", "-q", *files)
        assert code == 0
        for p in good:
            assert p.read_text() == expect[str(p)]  # converted exactly as when alone
        result = migrate_text(text, str(bad), Mode())
        converted = check_bad(kind, path, type_name, text, bad.read_text(), _findings_json(result.findings))
        assert sorted(f["message"] for f in scanned) == sorted(f.message for f in result.findings)

        # exit 1 alone is "nothing to compare" for a good workload the snapshot has no devices for
        assert v_code in (0, 1) and v_alone in (0, 1)
        assert all(o["result"] != "different" for o in json.loads(v_alone_out)["workloads"])
        outcomes = json.loads(v_out)["workloads"]
        assert [o for o in outcomes if o["file"] != str(bad)] == json.loads(v_alone_out)["workloads"]
        if converted:  # the same devices are reachable before and after on the snapshot
            assert all(o["result"] != "different" for o in outcomes if o["file"] == str(bad)), outcomes
            nothing = any(o["result"] == "nothing-to-compare" for o in outcomes if o["file"] == str(bad))
            assert v_code == (1 if nothing else v_alone)
        else:
            assert v_code == v_alone and not [o for o in outcomes if o["file"] == str(bad)]

        assert p_code in (0, 1)
        if not converted:
            # the bad file adds nothing to the plan but its "not migrated" entries: scan's manual and
            # skipped findings for it, counted in the summary
            planned, alone = json.loads(p_out), json.loads(p_alone_out)
            mine = [n for n in planned["not_migrated"] if n["file"] == str(bad)]
            assert sorted((n["code"], n["status"], n["line"]) for n in mine) == sorted(
                (f["rule"], f["status"], f["line"]) for f in scanned if f["status"] in ("manual", "skipped"))
            assert planned["summary"]["not_migrated"] == alone["summary"]["not_migrated"] + len(mine)
            for data in (planned, alone):
                data["not_migrated"] = [n for n in data["not_migrated"] if n["file"] != str(bad)]
                del data["summary"]
            assert (p_code, planned) == (p_alone, alone)


# ---- objects other than pod templates: claims the rewrite upgrades, and Lists ---------------------

RCT = {"apiVersion": "resource.k8s.io/v1beta1", "kind": "ResourceClaimTemplate", "metadata": {"name": "t"},
       "spec": {"spec": {"devices": {"requests": [{"name": "g", "deviceClassName": "gpu.nvidia.com", "count": 1,
                                                   "selectors": [{"cel": {"expression": "true"}}]}]}}}}
_REQ = ("spec", "spec", "devices", "requests", 0)
RCT_FIELDS = [(("spec",), MAP), (("spec", "spec"), MAP), (("spec", "spec", "devices"), MAP),
              (("spec", "spec", "devices", "requests"), LIST), (_REQ, ITEM), (_REQ + ("name",), STR),
              (_REQ + ("deviceClassName",), STR), (_REQ + ("count",), INT), (_REQ + ("selectors",), LIST),
              (_REQ + ("selectors", 0), ITEM), (_REQ + ("selectors", 0, "cel"), MAP),
              (_REQ + ("selectors", 0, "cel", "expression"), STR), (("metadata", "name"), STR)]
LIST_OBJ = {"apiVersion": "v1", "kind": "List", "items": [KINDS["Deployment"][0]]}
LIST_FIELDS = [(("items",), LIST), (("items", 0), ITEM)]


@pytest.mark.parametrize("obj,fields,done", [(RCT, RCT_FIELDS, "GPU012"), (LIST_OBJ, LIST_FIELDS, "GPU000")])
def test_claims_and_lists_of_every_type(obj: dict[str, Any], fields: list[Any], done: str) -> None:
    for path, valid in fields:
        for _type_name, value in VALUES.items():
            text = dump(substitute(obj, path, value))
            result = migrate_text(text, "x.yaml", Mode())
            where = dotted(path)
            shape = [f.message for f in result.findings if f.code == "GPU900"]
            assert not [m for m in shape if "internal error" in m], (where, value)
            if result.text != text:
                assert valid(value) and any(f.code == done and f.status.value == "converted"
                                            for f in result.findings), (where, value)
            elif not valid(value) and mentions_gpu(value if path[0] == "items" else {"k": "nvidia.com/gpu"}):
                assert any(m.startswith(f"not upgraded: {where} is ") or m.startswith(f"not converted: {where} is ")
                           for m in shape), (where, value, result.findings)
            else:
                assert all(m.split(": ", 1)[1].startswith(where) for m in shape), (where, value, shape)



@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_a_list_with_items_of_the_wrong_type_is_reported_in_every_format(tmp_path: Path, fmt: str,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The GPU900 finding about a List's items names the List as its object: every output format
    renders it (it once carried the bare string "List" and each format raised AttributeError)."""
    cases = [(path, name, value) for path, valid in LIST_FIELDS for name, value in VALUES.items()
             if not valid(value) and mentions_gpu(value)]
    assert len(cases) >= 4
    for path, name, value in cases:
        text = dump(substitute(LIST_OBJ, path, value))
        f = tmp_path / f"{dotted(path)}-{name}.yaml"
        f.write_text(text)
        code = main(["scan", "--format", fmt, str(f)])
        out = capsys.readouterr()
        assert code == 1 and "Traceback" not in out.err, (path, name, out.err)
        assert "GPU900" in out.out and f.read_text() == text, (path, name, out.out)
        if fmt == "json":
            (finding,) = [x for r in json.loads(out.out)["files"] for x in r["findings"] if x["rule"] == "GPU900"]
            assert (finding["kind"], finding["file"]) == ("List", str(f)), finding


# ---- the backstop: an exception nobody foresaw is one pod's finding, never the batch's end --------

TWO_PODS = dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "boom"}, "spec": {"containers": [
    {"name": "boom", "image": "i", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}) + "---\n" + GOOD_BEFORE


def _boom_when(pod_named: str, original: Callable[..., Any], exc: type[BaseException]) -> Callable[..., Any]:
    def wrapper(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        if ctx.ref.obj.name == pod_named:
            raise exc("injected")
        return original(ctx, *args, **kwargs)
    return wrapper


@pytest.mark.parametrize("exc", [KeyError, TypeError, AttributeError, RecursionError, AssertionError])
@pytest.mark.parametrize("where", [r.CODE for r in REGISTRY] + ["apply"])
def test_an_unexpected_exception_is_one_pods_finding(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     where: str, exc: type[BaseException]) -> None:
    import migrator.engine as engine
    from migrator.transforms import BY_CODE

    expect = migrate_text(GOOD_BEFORE, "x.yaml", Mode()).text
    if where == "apply":  # after the pod's edits began (limits removed, claims added): rolled back
        from migrator.text.documents import get, items, str_at

        original = engine._add_items

        def add(patch: Any, mapping: Any, key: str, values: Any) -> None:
            if "boom" in [str_at(c, "name") for c in items(get(mapping, "containers"))]:
                raise exc("injected")
            original(patch, mapping, key, values)

        monkeypatch.setattr(engine, "_add_items", add)
    else:
        rule = BY_CODE[where]
        monkeypatch.setattr(rule, "check", _boom_when("boom", rule.check, exc))
    (tmp_path / "a.yaml").write_text(TWO_PODS)
    (tmp_path / "b.yaml").write_text(GOOD_AFTER)
    seen: dict[str, Any] = {}
    report = run([str(tmp_path)], Mode(), WriteBack.DIFF, on_result=lambda r: seen.__setitem__(Path(r.path).name, r))
    assert report.return_code == 0
    a = seen["a.yaml"]
    boom = [f for f in a.findings if f.workload == "Pod boom"]
    assert [(f.code, f.status.value) for f in boom] == [("GPU900", "manual")], boom
    assert "internal error" in boom[0].message and exc.__name__ in boom[0].message
    head, _, tail = a.after.partition("---\n")
    assert head == TWO_PODS.partition("---\n")[0]  # the pod is left byte for byte as it was
    assert tail == expect  # the other pod of the same file is converted as when alone
    assert seen["b.yaml"].after == migrate_text(GOOD_AFTER, "b.yaml", Mode()).text

