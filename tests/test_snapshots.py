"""Malformed cluster snapshots: one line per error naming the file, the object and the field; exit 2.

The valid snapshots in tests/snapshots/ are mutated field by field: every field the reader reads
(the SCHEMA below; a test checks the reader reads nothing else) gets every wrong JSON type, and
quantities, semvers, int-or-percents, label values and CEL get invalid strings. Then ``verify``,
``plan --format json`` and ``preview --cluster`` run in-process (migrator.cli.main).
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from migrator.proof import cluster
from migrator.cli import main

HERE = Path(__file__).resolve().parent
SNAPSHOTS = sorted((HERE / "snapshots").glob("*.yaml"))
WORKLOADS = HERE / "verify" / "workloads.yaml"

S, I, F, B, L, O = "x", 7, 1.5, True, ["x"], {"a": "b"}  # noqa: E741  (one letter per JSON type, as in the table)
INT_KEY = {1: "x"}  # a map whose key is not a string (YAML `1: x`)

#: type -> values that are wrong for it (None: deleting / nulling a required field)
WRONG: dict[str, list[Any]] = {
    "kind": [I, F, B, L, O, None],  # another string is another kind: not read
    "string": [I, F, B, L, O],
    "string!": [I, F, B, L, O, None, ""],
    "object": [S, I, F, B, L],
    "object!": [S, I, F, B, L, None],
    "list": [S, I, F, B, O],
    "map": [S, I, F, B, L, INT_KEY],
    "label": [I, F, B, L, O, "has space", "x" * 64, "-lead", "trail."],
    # not "Gi": ParseQuantity reads a suffix without digits as 0 (quantity.go parseQuantityString)
    "quantity": [B, L, O, "abc", "1.2.3", "1i", "", "1 Gi", "--1"],
    "quantity!": [B, L, O, "abc", "1.2.3", "1i", "", None],
    "int": ["1", F, B, L, O, -1, 2**64],
    "int64": ["1", F, B, L, O, 2**64, -(2**64)],
    "count": ["1", F, B, L, O, 0, -3],
    "bool": ["true", 1, F, L, O],
    "effect": [I, L, O, "Bogus", "noschedule", "", None],
    "intorpercent": [B, F, L, O, "abc", "2", "150%", "-1%", -1],
    "semver": [I, F, B, L, O, "1.02.3", "v1.2.3", "1.2", "", "1.2.3.4"],
    "attr": [S, I, L, {}, {"string": "a", "int": 1}, {"bogus": "a"}],
    "capacity": [B, L, "abc", "1.2.3", {"notvalue": "1"}],
    "cel": [I, F, B, L, O, None],  # wrong types; invalid CEL text is tested separately (reported, not fatal)
}

COMMON = {"kind": "kind", "metadata": "object!", "metadata.name": "string!", "metadata.namespace": "string"}


def _device(prefix: str) -> dict[str, str]:
    return {f"{prefix}.attributes": "map", f"{prefix}.attributes.*": "attr",
            f"{prefix}.attributes.*.string": "string", f"{prefix}.attributes.*.int": "int64",
            f"{prefix}.attributes.*.bool": "bool", f"{prefix}.attributes.*.version": "semver",
            f"{prefix}.capacity": "map", f"{prefix}.capacity.*": "capacity",
            f"{prefix}.capacity.*.value": "quantity!"}


def _containers(section: str) -> dict[str, str]:
    p = f"spec.{section}"
    return {p: "list", f"{p}[]": "object", f"{p}[].resources": "object", f"{p}[].resources.requests": "map",
            f"{p}[].resources.requests.*": "quantity", f"{p}[].resources.limits": "map",
            f"{p}[].resources.limits.*": "quantity", f"{p}[].restartPolicy": "string"}


SCHEMA: dict[str, dict[str, str]] = {
    "Node": {"metadata.labels": "map", "metadata.labels.*": "label", "spec": "object", "spec.taints": "list",
             "spec.taints[]": "object", "spec.taints[].key": "string!", "spec.taints[].value": "string",
             "spec.taints[].effect": "effect", "spec.unschedulable": "bool", "status": "object",
             "status.allocatable": "map", "status.allocatable.*": "quantity", "status.nodeInfo": "object",
             "status.nodeInfo.kubeletVersion": "string"},
    "ResourceSlice": {"spec": "object!", "spec.driver": "string!", "spec.nodeName": "string!",
                      "spec.allNodes": "bool", "spec.nodeSelector": "object", "spec.perDeviceNodeSelection": "bool",
                      "spec.pool": "object!", "spec.pool.name": "string!", "spec.pool.generation": "int",
                      "spec.pool.resourceSliceCount": "count", "spec.devices": "list", "spec.devices[]": "object",
                      "spec.devices[].name": "string!", **_device("spec.devices[]"),
                      **_device("spec.devices[].basic")},
    "DeviceClass": {"spec": "object", "spec.selectors": "list", "spec.selectors[]": "object",
                    "spec.selectors[].cel": "object!", "spec.selectors[].cel.expression": "cel",
                    "spec.extendedResourceName": "string"},
    "Pod": {"metadata.ownerReferences": "list", "metadata.ownerReferences[]": "object",
            "metadata.ownerReferences[].kind": "string!", "metadata.ownerReferences[].name": "string!",
            "metadata.ownerReferences[].controller": "bool", "spec": "object", "spec.nodeName": "string",
            **_containers("containers"), **_containers("initContainers"), "status": "object",
            "status.phase": "string"},
    "ResourceClaim": {"status": "object", "status.allocation": "object", "status.allocation.devices": "object",
                      "status.allocation.devices.results": "list", "status.allocation.devices.results[]": "object",
                      "status.allocation.devices.results[].driver": "string!",
                      "status.allocation.devices.results[].pool": "string!",
                      "status.allocation.devices.results[].device": "string!"},
    "ResourceClaimTemplate": {"spec": "object"},
    "PodDisruptionBudget": {"spec": "object", "spec.selector": "object", "spec.selector.matchLabels": "map",
                            "spec.selector.matchLabels.*": "label", "spec.minAvailable": "intorpercent",
                            "spec.maxUnavailable": "intorpercent"},
}


#: v1 device fields: a v1beta1 device has them under "basic" (the reader reads that one), so they are not inserted
V1_DEVICE = ("attributes", "capacity")


def schema(kind: str) -> dict[str, str]:
    return {**COMMON, **SCHEMA[kind]}


def _child(pattern: str, key: Any, fields: dict[str, str]) -> str:
    if isinstance(key, int):
        return pattern + "[]"
    if fields.get(pattern) == "map":
        return pattern + ".*"
    return f"{pattern}.{key}" if pattern else str(key)


def _sites(obj: dict[str, Any], fields: dict[str, str]) -> Iterator[tuple[tuple[Any, ...], str, bool]]:
    """(path, pattern, present) of every schema field of ``obj``, present or insertable (a field absent
    from the base object is inserted with the wrong value where its parent exists)."""
    stack: list[tuple[tuple[Any, ...], str, Any]] = [((), "", obj)]
    while stack:
        path, pattern, value = stack.pop()
        if pattern in fields:
            yield path, pattern, True
        if isinstance(value, dict):
            for k, v in value.items():
                stack.append((path + (k,), _child(pattern, k, fields), v))
            if fields.get(pattern) != "map":
                for f in fields:
                    head, _, last = f.rpartition(".")
                    if head == pattern and last != "*" and "[" not in last and last not in value \
                            and (pattern or f in COMMON) and not ("basic" in value and last in V1_DEVICE):
                        yield path + (last,), f, False
        elif isinstance(value, list):
            for i, v in enumerate(value):
                stack.append((path + (i,), _child(pattern, i, fields), v))


def _set(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur = out
    for step in path[:-1]:
        cur = cur[step]
    if value is None and isinstance(cur, dict):
        cur.pop(path[-1], None)
    else:
        cur[path[-1]] = value
    return out


@functools.cache
def _base(snap: Path) -> dict[str, Any]:
    return yaml.load(snap.read_text(), Loader=yaml.CSafeLoader)


def _base_objects() -> list[tuple[Path, int, dict[str, Any]]]:
    return [(snap, i, o) for snap in SNAPSHOTS for i, o in enumerate(_base(snap)["items"])]


def mutations(per_pattern: int = 2) -> list[tuple[str, str, Path, int, tuple[Any, ...], Any]]:
    """(kind, pattern, snapshot, item index, path, wrong value), at most ``per_pattern`` sites per snapshot."""
    out = []
    for snap, index, obj in _base_objects():
        kind = obj["kind"]
        if kind not in SCHEMA:
            continue
        fields = schema(kind)
        taken: dict[str, int] = {}
        for path, pattern, present in sorted(_sites(obj, fields), key=lambda s: [str(p) for p in s[0]]):
            if taken.get(pattern, 0) >= per_pattern:
                continue
            taken[pattern] = taken.get(pattern, 0) + 1
            for wrong in WRONG[fields[pattern]]:
                if wrong is None and not present:
                    continue
                out.append((kind, pattern, snap, index, path, wrong))
            if fields[pattern] == "quantity" and str(path[-1]).startswith("nvidia.com/") and path[0] == "spec":
                for whole in ("0.5", "1500m", 1.5, "-1"):  # extended resources are whole numbers
                    out.append((kind, pattern, snap, index, path, whole))
    return out


MUTATIONS = mutations()
BY_PATTERN: dict[tuple[str, str], list[Any]] = {}
for _m in MUTATIONS:
    BY_PATTERN.setdefault((_m[0], _m[1]), []).append(_m)


def _dump(data: Any, wrong: Any) -> str:
    if wrong is INT_KEY:  # JSON would turn the key into a string
        return yaml.dump(data, Dumper=yaml.CSafeDumper)
    return json.dumps(data)  # JSON is YAML, and fast to write


def _identity(obj: dict[str, Any], index: int, path: tuple[Any, ...]) -> tuple[str, ...]:
    name = (obj.get("metadata") or {}).get("name")
    names = [f"items[{index}]"]
    if path[:2] not in (("metadata", "name"), ("metadata",)):
        names.append(f" {name}: ")
        if (obj.get("metadata") or {}).get("namespace"):
            names.append(f"/{name}: ")
    return tuple(names)


def _field(path: tuple[Any, ...]) -> str:
    last = path[-1]
    return f"[{last}]" if isinstance(last, int) else str(last)


def _assert_lines(err: str, source: str) -> list[str]:
    lines = err.splitlines()
    assert lines, "no error printed"
    assert "Traceback" not in err
    for line in lines:
        assert line.startswith(f"dra-migrate: {source}"), line
    return lines


def test_every_schema_field_is_mutated() -> None:
    """Each field of the schema is present (or insertable) in some valid snapshot."""
    missing = [(k, p) for k in SCHEMA for p in schema(k) if (k, p) not in BY_PATTERN]
    assert not missing, missing


def test_the_reader_reads_only_schema_fields(monkeypatch) -> None:
    """Every path the reader looks up on the valid snapshots is in SCHEMA (so it is mutated above)."""
    seen: set[tuple[str, str]] = set()
    original = cluster._Obj.value

    def spy(self, path):  # type: ignore[no-untyped-def]
        pattern = ""
        for step in path:
            pattern = _child(pattern, step, schema(self.kind) if self.kind in SCHEMA else COMMON)
        seen.add((self.kind, pattern))
        return original(self, path)

    monkeypatch.setattr(cluster._Obj, "value", spy)
    for snap in SNAPSHOTS:
        cluster.load_snapshot(str(snap))
    unknown = sorted((k, p) for k, p in seen if p not in schema(k))
    assert not unknown, unknown
    assert {k for k, _ in seen} >= set(SCHEMA)


@pytest.mark.parametrize("kind,pattern", sorted(BY_PATTERN), ids=lambda v: str(v))
def test_reader_reports_each_wrong_value(kind: str, pattern: str, tmp_path: Path) -> None:
    """The mutated object alone in a List: InvalidSnapshot, one line per error, naming file, object, field."""
    f = tmp_path / "snap.yaml"
    for _, _, snap, index, path, wrong in BY_PATTERN[(kind, pattern)]:
        obj = _base(snap)["items"][index]
        bad = _set(obj, path, wrong)
        f.write_text(_dump({"apiVersion": "v1", "kind": "List", "items": [bad]}, wrong))
        if pattern == "spec.selectors[].cel.expression" and isinstance(wrong, str):
            continue
        with pytest.raises(cluster.InvalidSnapshot) as info:
            cluster.load_snapshot(str(f))
        lines = info.value.lines
        assert all(line.startswith(f"{f}:") and "\n" not in line for line in lines), lines
        ident = tuple(s.replace(f"items[{index}]", "items[0]") for s in _identity(obj, index, path))
        assert any(any(i in line for i in ident) and _field(path) in line for line in lines), (path, wrong, lines)


COMMANDS = {
    "verify": lambda snap: ["verify", str(WORKLOADS), "--cluster", snap],
    "plan": lambda snap: ["plan", str(WORKLOADS), "--cluster", snap, "--format", "json"],
    "preview": lambda snap: ["preview", str(WORKLOADS), "--cluster", snap],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_commands_exit_2_with_one_line_per_error(command: str, tmp_path: Path, capsys) -> None:
    """The whole snapshot with one mutated field, through the CLI: no traceback, exit 2."""
    f = tmp_path / "snap.yaml"
    for n, key in enumerate(sorted(BY_PATTERN)):
        if key == ("DeviceClass", "spec.selectors[].cel.expression"):
            continue
        cases = BY_PATTERN[key]
        _, _, snap, index, path, wrong = cases[(n * 7 + len(command)) % len(cases)]  # rotate the wrong values
        data = copy.deepcopy(_base(snap))
        obj = data["items"][index]
        data["items"][index] = _set(obj, path, wrong)
        f.write_text(_dump(data, wrong))
        capsys.readouterr()
        assert main(COMMANDS[command](str(f))) == 2, (key, path, wrong)
        out, err = capsys.readouterr()
        lines = _assert_lines(err, str(f))
        assert any(any(i in line for i in _identity(obj, index, path)) and _field(path) in line
                   for line in lines), (key, path, wrong, lines)
        assert out == ""


@pytest.mark.parametrize("expression", ["device.driver ==", ")(", " ", "device.attributes['x'", "1 +* 2", "'a",
                                        "device.driver == 'gpu.nvidia.com' &&"])
def test_device_class_that_does_not_compile_is_reported_and_fails_its_requests(expression: str, tmp_path: Path,
                                                                                 capsys) -> None:
    """Kubernetes fails allocation for a class whose CEL fails: the class is unusable, the rest is used."""
    base = yaml.safe_load((HERE / "snapshots" / "fleet.yaml").read_text())
    for o in base["items"]:
        if o["kind"] == "DeviceClass" and o["metadata"]["name"] == "gpu.nvidia.com":
            o["spec"]["selectors"][0]["cel"]["expression"] = expression
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump(base))
    assert main(["verify", str(WORKLOADS), "--cluster", str(f), "--format", "json"]) == 1
    out, err = capsys.readouterr()
    warn = [line for line in err.splitlines() if "warning:" in line]
    assert len(warn) == 1 and str(f) in warn[0] and "DeviceClass gpu.nvidia.com" in warn[0] \
        and "does not compile" in warn[0], err
    data = json.loads(out)
    by = {w["workload"]: w for w in data["workloads"]}
    assert by["Pod mig-small"]["equivalent"]  # the MIG class is fine: its requests are still proven
    assert not by["Deployment t4-by-product"]["equivalent"]
    assert any("DeviceClass gpu.nvidia.com is unusable" in d for d in by["Deployment t4-by-product"]["details"])
    assert main(["plan", str(WORKLOADS), "--cluster", str(f), "--format", "json"]) == 1
    plan = json.loads(capsys.readouterr().out)
    assert any("gpu.nvidia.com is unusable" in p for p in plan["preflight"])
    assert main(["preview", str(WORKLOADS), "--cluster", str(f)]) == 0
    assert "does not compile" in capsys.readouterr().err


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


STRUCTURE: dict[str, bytes | str] = {
    "items-not-a-list": "apiVersion: v1\nkind: List\nitems: {a: b}\n",
    "items-a-string": "kind: List\nitems: nodes\n",
    "item-a-scalar": "kind: List\nitems:\n- 5\n- kind: Node\n  metadata: {name: n}\n",
    "item-a-list": "kind: List\nitems:\n- [a, b]\n",
    "document-a-list": "- kind: Node\n  metadata: {name: n}\n",
    "document-a-scalar": "just text\n",
    "second-document-a-scalar": "kind: Node\nmetadata: {name: n}\n---\n42\n",
    "kind-missing": "kind: List\nitems:\n- metadata: {name: n}\n",
    "kind-a-list": "kind: List\nitems:\n- {kind: [Node], metadata: {name: n}}\n",
    "node-twice": "kind: List\nitems:\n- {kind: Node, metadata: {name: n}}\n- {kind: Node, metadata: {name: n}}\n",
    "slice-nowhere": "kind: ResourceSlice\nmetadata: {name: s}\nspec: {driver: d, pool: {name: p}}\n",
    "invalid-yaml": "kind: List\nitems: [\n",
    "duplicate-key": "kind: Node\nmetadata: {name: a}\nmetadata: {name: b}\n",
    "non-utf8": b"kind: Node\nmetadata: {name: \xff\xfe}\n",
    "nul-bytes": b"kind: Node\x00\n",
    "alias-bomb": _alias_bomb(),
    "tabs": "kind: Node\nmetadata:\n\tname: a\n",
}


@pytest.mark.parametrize("name", sorted(STRUCTURE))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_malformed_structure_is_one_line_per_error(name: str, command: str, tmp_path: Path, capsys) -> None:
    f = tmp_path / f"{name}.yaml"
    content = STRUCTURE[name]
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(COMMANDS[command](str(f))) == 2
    out, err = capsys.readouterr()
    lines = _assert_lines(err, str(f))
    assert len(lines) == (2 if name in ("item-a-scalar", "kind-missing") and False else 1), lines
    assert out == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_fifo_snapshot_is_refused_without_blocking(command: str, tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "snap.yaml"
    os.mkfifo(fifo)
    assert main(COMMANDS[command](str(fifo))) == 2
    lines = _assert_lines(capsys.readouterr().err, str(fifo))
    assert len(lines) == 1 and "not a regular file" in lines[0]


def test_many_errors_are_capped(tmp_path: Path) -> None:
    items = [{"kind": "Node", "metadata": {"name": f"n{i}", "labels": {"a": i}}} for i in range(150)]
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump({"kind": "List", "items": items}))
    with pytest.raises(cluster.InvalidSnapshot) as info:
        cluster.load_snapshot(str(f))
    assert len(info.value.lines) == cluster.MAX_ERRORS + 1
    assert "50 more error(s)" in info.value.lines[-1]
    # in file order, each with its own line number
    lines = [int(line.split(":")[1]) for line in info.value.lines[:-1]]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)


def test_live_objects_are_read_by_the_same_reader() -> None:
    objs = [{"kind": "Node", "metadata": {"name": "n", "labels": ["x"]}}, "not an object"]
    with pytest.raises(cluster.InvalidSnapshot) as info:
        cluster.snapshot_from_objects(objs, "--context c")
    assert info.value.lines == ["--context c: Node n: metadata.labels: expected an object, got list",
                                "--context c: items[1]: expected an object, got string"]


def test_slice_not_bound_to_a_node_is_reported_and_left_out(tmp_path: Path) -> None:
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump_all([
        {"kind": "Node", "metadata": {"name": "n"}},
        {"kind": "ResourceSlice", "metadata": {"name": "net"},
         "spec": {"driver": "net.example.com", "allNodes": True, "pool": {"name": "p"},
                  "devices": [{"name": "nic-0"}]}}]))
    snap = cluster.load_snapshot(str(f))
    assert list(snap.devices()) == []
    assert len(snap.warnings) == 1 and "ResourceSlice net" in snap.warnings[0] and str(f) in snap.warnings[0]


def test_valid_snapshots_read_every_kind() -> None:
    snap = cluster.load_snapshot(str(HERE / "snapshots" / "plan-cluster.yaml"))
    assert set(snap.nodes) == {"dp-1", "dp-2", "dra-1", "dra-2"}
    assert snap.nodes["dp-1"].taints == (cluster.Taint("nvidia.com/gpu", "present", "NoSchedule"),)
    assert snap.nodes["dp-2"].unschedulable and snap.nodes["dp-2"].allocatable == {"nvidia.com/gpu": "1"}
    dra2 = snap.nodes["dra-2"].devices[0]  # v1beta1 "basic"
    assert dra2.attr("driverVersion", "gpu.nvidia.com") == ("version", "580.126.20") and dra2.attr("index", "gpu.nvidia.com") == 0
    assert dra2.attr("multiProcessor", "gpu.nvidia.com") is False and dra2.capacity == {"gpu.nvidia.com": {"memory": "15Gi"}}
    assert snap.nodes["dra-1"].devices[0].attr("pciBusID", "resource.kubernetes.io") == "0000:00:04.0"
    assert {p.name: p.gpus for p in snap.pods} == {"web-5d4-abcde": {"nvidia.com/gpu": 1},
                                                   "notebook": {"nvidia.com/gpu": 1}}
    assert snap.claims[0].allocated == (("gpu.nvidia.com", "dra-1", "gpu-0"),)
    assert snap.claim_templates[0].ref == "ml/web-gpu"
    assert [(p.min_available, p.max_unavailable) for p in snap.pdbs] == [(1, None), (None, "50%")]
    assert snap.device_classes["gpu.nvidia.com"].extended_resource_name == "nvidia.com/gpu"
    assert snap.warnings == ()
