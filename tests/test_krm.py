"""The KRM function on ResourceLists of the wrong shape: an error ResourceList on stdout, exit 1.

KRM Functions Specification v1 (kubernetes-sigs/kustomize cmd/config/docs/api-conventions/
functions-spec.md): stdout is reserved for a ResourceList, a non-zero exit code is a failure,
``results[].severity`` is error, warning or info, and a ``field`` needs a ``resourceRef``.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.integrations.krm import run_krm

EXE = Path(sys.executable).parent / "dra-migrate"

GOOD: dict[str, Any] = {
    "apiVersion": "config.kubernetes.io/v1",
    "kind": "ResourceList",
    "functionConfig": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dra-migrate"},
                       "data": {"kubeVersion": "1.35"}},
    "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "annotations": {"config.kubernetes.io/path": "web.yaml",
                                                     "config.kubernetes.io/index": "0"}},
         "spec": {"template": {"spec": {"containers": [
             {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
    ],
}

# Floats are ones whose JSON text YAML 1.1 also reads as a float (1e+16 would be a string there).
SCALARS = st.none() | st.booleans() | st.integers() | st.sampled_from([0.5, -2.25, 1.4, 3.0]) | st.text(max_size=8)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=6)
NOT_NULL = JSON.filter(lambda v: v is not None)
NOT_STRING = JSON.filter(lambda v: not isinstance(v, str))
NOT_LIST = NOT_NULL.filter(lambda v: not isinstance(v, list))
NOT_MAPPING = NOT_NULL.filter(lambda v: not isinstance(v, dict))
NOT_BOOL = JSON.filter(lambda v: not isinstance(v, bool) and str(v).lower() not in ("true", "false"))
BAD_VERSIONS = NOT_STRING | st.sampled_from(["", "latest", "1.31", "1.4", "2.0", "1.35.x", "v1", "1.35-rc", "1.3x",
                                                  "v1.36", "1.34.2", "1.40", "1.39", " 1.35 "])  # as --kube-version
BAD_SHARING = JSON.filter(lambda v: v not in (None, "", "timeslicing", "mps"))
OPTIONS = ("kubeVersion", "keepNodeLabels", "sharing", "convertUnknown")
ENVELOPE = ("apiVersion", "kind", "metadata", "data", "spec")
UNKNOWN = object()  #: in a path: an unknown key (drawn)
OPTS = object()  #: in a path: where the options are (data or spec)

# (where to put a value, the wrong values for that place)
SLOTS: list[tuple[tuple[Any, ...], Any]] = [
    (("apiVersion",), NOT_STRING | st.sampled_from(["v1", "config.kubernetes.io/v9", "kpt.dev/v1"])),
    (("kind",), NOT_STRING | st.sampled_from(["List", "ConfigMap", "resourcelist"])),
    (("items",), NOT_LIST),
    (("items", 0), NOT_MAPPING),
    (("items", 1), NOT_MAPPING),
    (("items", 0, "apiVersion"), NOT_STRING),
    (("items", 1, "kind"), NOT_STRING),
    (("items", 0, "metadata"), NOT_MAPPING),
    (("items", 0, "metadata", "annotations"), NOT_MAPPING),
    (("items", 0, "metadata", "annotations", "config.kubernetes.io/path"),
     st.lists(JSON) | st.dictionaries(st.text(), JSON)),
    (("results",), NOT_LIST),
    (("functionConfig",), NOT_MAPPING),
    (("functionConfig", OPTS), NOT_MAPPING),
    (("functionConfig", "kind"), NOT_STRING),
    (("functionConfig", "metadata"), NOT_MAPPING),
    (("functionConfig", UNKNOWN), JSON),
    (("functionConfig", OPTS, UNKNOWN), JSON),
    (("functionConfig", OPTS, "kubeVersion"), BAD_VERSIONS),
    (("functionConfig", OPTS, "keepNodeLabels"), NOT_BOOL),
    (("functionConfig", OPTS, "convertUnknown"), NOT_BOOL),
    (("functionConfig", OPTS, "sharing"), BAD_SHARING),
]


def put(doc: Any, path: tuple[Any, ...], value: Any) -> bool:
    """Set ``value`` at ``path``; False when the path no longer exists (a parent was replaced)."""
    target = doc
    for step in path[:-1]:
        if isinstance(step, int):
            if not (isinstance(target, list) and step < len(target)):
                return False
            target = target[step]
        elif isinstance(target, dict):
            target = target.setdefault(step, {})
        else:
            return False
    if isinstance(path[-1], int) and not (isinstance(target, list) and path[-1] < len(target)):
        return False
    if not isinstance(path[-1], int) and not isinstance(target, dict):
        return False
    target[path[-1]] = value
    return True


@st.composite
def wrong_shape(draw: Any) -> dict[str, Any]:
    """GOOD with one to three places given a value of the wrong type or shape."""
    doc = copy.deepcopy(GOOD)
    opts = draw(st.sampled_from(["data", "spec"]))  # a ConfigMap's data, or a custom kind's spec
    if opts == "spec":
        fc = doc["functionConfig"]
        fc.update({"apiVersion": "example.com/v1", "kind": "DraMigrate", "spec": fc.pop("data")})
    chosen = draw(st.lists(st.sampled_from(SLOTS), min_size=1, max_size=3, unique_by=lambda s: s[0]))
    placed = 0
    for path, values in sorted(chosen, key=lambda s: -len(s[0])):  # deeper first: a parent may replace them
        steps = []
        for i, step in enumerate(path):
            if step is OPTS:
                step = opts
            elif step is UNKNOWN:
                known = OPTIONS if i == 2 else ENVELOPE
                step = draw(st.text(min_size=1, max_size=12).filter(lambda k, known=known: k not in known))
            steps.append(step)
        placed += put(doc, tuple(steps), draw(values))
    if not placed:  # pragma: no cover - the shallowest path always exists
        doc["items"] = draw(NOT_LIST)
    return doc


def assert_error_list(out: str, code: int) -> list[dict[str, Any]]:
    assert code == 1
    docs = [d for d in yaml.safe_load_all(out) if d is not None]
    assert len(docs) == 1, out
    rl = docs[0]
    assert isinstance(rl, dict) and rl["kind"] == "ResourceList"
    assert rl["apiVersion"] in ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1", "config.kubernetes.io/v2alpha1")
    assert isinstance(rl["items"], list) and all(isinstance(i, dict) for i in rl["items"])
    results = rl["results"]
    assert isinstance(results, list) and results
    for r in results:
        assert isinstance(r["message"], str) and r["severity"] in ("error", "warning", "info")
        assert "internal error" not in r["message"]  # a bug of ours, not a checked shape
        if "resourceRef" in r:
            assert all(isinstance(r["resourceRef"][k], str) for k in ("apiVersion", "kind", "name"))
        if "field" in r:
            assert "resourceRef" in r and isinstance(r["field"]["path"], str)
    assert any(r["severity"] == "error" for r in results)
    return results


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(wrong_shape(), st.sampled_from(["yaml", "json"]))
def test_every_wrong_shape_is_an_error_resource_list(doc: dict[str, Any], fmt: str) -> None:
    text = yaml.safe_dump(doc, sort_keys=False) if fmt == "yaml" else json.dumps(doc, indent=1)
    res = run_krm(text)
    assert_error_list(res.text, res.code)
    assert res.errors and all("\n" not in e for e in res.errors)
    out = yaml.safe_load(res.text)
    if isinstance(doc.get("items"), list) and out["items"]:
        assert out["items"] == doc["items"]  # nothing half-migrated: the items come back as they were


GOOD_VERSIONS = st.sampled_from(["1.32", "1.33", "1.34", "1.35", "1.36", "1.37", "1.38"])  # mode.KUBE_VERSIONS
GOOD_BOOLS = st.sampled_from([True, False, "true", "false", "True", "FALSE"])


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({}, optional={"kubeVersion": GOOD_VERSIONS, "keepNodeLabels": GOOD_BOOLS,
                                           "convertUnknown": GOOD_BOOLS,
                                           "sharing": st.sampled_from([None, "", "timeslicing", "mps"])}),
       st.sampled_from(["data", "spec", None]))
def test_every_well_typed_config_is_accepted(options: dict[str, Any], where: str | None) -> None:
    doc = copy.deepcopy(GOOD)
    if where is None:
        del doc["functionConfig"]
    else:
        doc["functionConfig"] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, where: options}
    res = run_krm(yaml.safe_dump(doc, sort_keys=False))
    assert res.code == 0 and not res.errors
    out = yaml.safe_load(res.text)
    assert all(r["severity"] != "error" for r in out.get("results") or [])
    assert any(i["kind"] == "ResourceClaimTemplate" for i in out["items"]) or out.get("results")


def test_config_errors_keep_the_input_bytes() -> None:
    text = yaml.safe_dump(GOOD, sort_keys=False).replace("kubeVersion: '1.35'", "kubeVersion: 1.40  # a float!")
    res = run_krm(text)
    (result,) = assert_error_list(res.text, res.code)
    assert res.text.startswith(text)  # results appended; every input byte kept, nothing migrated
    assert result["field"]["path"] == "data.kubeVersion"
    assert result["resourceRef"] == {"apiVersion": "v1", "kind": "ConfigMap", "name": "dra-migrate"}


RAW = [
    "",
    "\n\n  \n",
    "# only a comment\n",
    "a: [\n",
    "{",
    "just a string\n",
    "- a\n- b\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n",  # items is required
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n---\n"
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nitems: []\n",  # duplicate key
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: &a [*a]\n",
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [" + "[" * 2000 + "]" * 2000 + "]\n",
    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: {data: {kubeVersion: '1.35', "
    "keepNodeLabels: maybe}}\nitems: []\n",
]


@pytest.mark.parametrize("text", RAW, ids=range(len(RAW)))
def test_raw_input_that_is_no_resource_list(text: str) -> None:
    res = run_krm(text)
    assert_error_list(res.text, res.code)


@pytest.mark.parametrize("stdin", [b"", b"\xff\xfe bad utf-8", b"a\x00b", *(t.encode() for t in RAW[3:9])],
                         ids=range(9))
def test_console_script_answers_with_a_resource_list(stdin: bytes) -> None:
    proc = subprocess.run([str(EXE), "krm"], input=stdin, capture_output=True)
    err = proc.stderr.decode()
    assert "Traceback" not in err and err.strip() and all(line.startswith("dra-migrate krm: ") for line in err.splitlines())
    assert_error_list(proc.stdout.decode(), proc.returncode)


@pytest.mark.parametrize("depth", [50, 400, 990])
def test_deeply_nested_items_are_processed(depth: int) -> None:
    """libyaml composes up to 1,000 levels; nothing of ours may recurse per level below that."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "$N"}}}]}}
    text = yaml.safe_dump({**GOOD, "items": [pod]}, sort_keys=False)
    text = text.replace("items:\n", "items:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: "
                        + "[" * depth + "]" * depth + "}\n", 1)
    res = run_krm(text)
    assert res.code == 0 and not res.errors
    (result,) = yaml.safe_load(res.text[res.text.index("\nresults:"):])["results"]  # PyYAML's own constructor recurses
    assert result["resourceRef"]["name"] == "p" and result["message"].startswith("GPU102")


def test_results_name_the_item_their_finding_is_about() -> None:
    """Findings find their item by the pairing's key (kind, namespace, name), as the rewrite read
    it: an item named only by generateName (no resourceRef: the specification needs a name) still
    gets its file, and two items of one name in two namespaces each get their own."""
    def pod(ns: str, index: int, ephemeral_gpu: bool, name: str = "name") -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i",
                                                "resources": {"limits": {"nvidia.com/gpu": 1}}}]}
        if ephemeral_gpu:
            spec["ephemeralContainers"] = [{"name": "dbg", "image": "i",
                                            "resources": {"limits": {"nvidia.com/gpu": 1}}}]
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {name: "same", "namespace": ns, "annotations": {
                    "config.kubernetes.io/path": f"{ns}/pod.yaml", "config.kubernetes.io/index": str(index)}},
                "spec": spec}

    text = yaml.safe_dump({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                           "items": [pod("a", 0, True), pod("b", 3, True), pod("c", 5, True, "generateName")]})
    results = [r for r in yaml.safe_load(run_krm(text).text)["results"] if r["message"].startswith("GPU112")]
    assert [(r.get("resourceRef"), r["file"]) for r in results] == [
        ({"apiVersion": "v1", "kind": "Pod", "name": "same", "namespace": "a"}, {"path": "a/pod.yaml", "index": 0}),
        ({"apiVersion": "v1", "kind": "Pod", "name": "same", "namespace": "b"}, {"path": "b/pod.yaml", "index": 3}),
        (None, {"path": "c/pod.yaml", "index": 5})]
