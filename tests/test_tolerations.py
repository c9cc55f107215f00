"""GPU005 and verify mirror the ExtendedResourceToleration admission plugin (issue 11 item 5).

Oracle, written here from the Kubernetes sources and not from migrator/k8s/tolerations.py:
- k8s.io/api core/v1 toleration.go ``(*Toleration).ToleratesTaint``: empty effect matches all
  effects, empty key all keys, operator "" or Equal compares the value, Exists matches every
  value, Lt/Gt compare decimal integers (taint < / > toleration), anything else matches nothing;
- kubernetes/kubernetes plugin/pkg/admission/extendedresourcetoleration/admission.go: for each
  extended resource named in a container's or init container's requests (limits default them),
  whatever the amount, add {key: <resource>, operator: Exists, effect: NoSchedule}.

Property: for every generated pod (GPUs in app, init or sidecar containers, MIG, zero counts,
another extended resource), toleration list and taint, "original pod + plugin tolerates the
taint" equals "rewritten pod + plugin tolerates it".
"""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.proof.cluster import Node, Taint, tolerates
from migrator.text.documents import parse, to_python
from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.k8s.tolerations import admission_tolerations

KEYS = ["nvidia.com/gpu", "nvidia.com/mig-1g.5gb", "rdma/ib", "other", ""]
VALUES = ["", "present", "true", "3", "7", "x"]
EFFECTS = ["NoSchedule", "NoExecute", "PreferNoSchedule"]


def oracle_tolerates(tol: dict, key: str, value: str, effect: str) -> bool:
    def s(field: str) -> str:
        v = tol.get(field)
        return "" if v is None else str(v)

    if s("effect") and s("effect") != effect:
        return False
    if s("key") and s("key") != key:
        return False
    op = s("operator")
    if op in ("", "Equal"):
        return s("value") == value
    if op == "Exists":
        return True
    if op in ("Lt", "Gt"):
        number = re.compile(r"^(0|-?[1-9][0-9]*)$")
        if not (number.match(s("value")) and number.match(value)):
            return False
        return int(value) < int(s("value")) if op == "Lt" else int(value) > int(s("value"))
    return False


def oracle_plugin(pod: dict) -> list[dict]:
    names = set()
    for section in ("containers", "initContainers"):
        for c in pod.get(section) or []:
            res = c.get("resources") or {}
            for which in ("requests", "limits"):
                names |= {k for k in res.get(which) or {} if "/" in k and "kubernetes.io/" not in k}
    return list(pod.get("tolerations") or []) + [
        {"key": r, "operator": "Exists", "effect": "NoSchedule"} for r in sorted(names)]


def tolerated(tolerations: list[dict], key: str, value: str, effect: str) -> bool:
    return any(oracle_tolerates(t, key, value, effect) for t in tolerations)


@st.composite
def toleration(draw: st.DrawFn) -> dict:
    t: dict = {}
    for field, choices in (("key", KEYS), ("operator", ["", "Equal", "Exists", "Lt", "Gt"]),
                           ("value", VALUES), ("effect", ["", *EFFECTS])):
        if draw(st.booleans()):
            t[field] = draw(st.sampled_from(choices))
    if t.get("operator") == "Exists":
        t.pop("value", None)  # the API requires an empty value with Exists
    if not t.get("key") and t.get("operator") != "Exists":
        t["operator"] = "Exists"  # the API requires Exists with an empty key
        t.pop("value", None)
    if t.get("effect") == "NoExecute" and draw(st.booleans()):
        t["tolerationSeconds"] = draw(st.integers(0, 600))
    return t


@st.composite
def gpu_pod(draw: st.DrawFn) -> dict:
    gpu = draw(st.sampled_from(["nvidia.com/gpu", "nvidia.com/mig-1g.5gb"]))
    app_count = draw(st.sampled_from([0, 1, 2]))
    app_res: dict = {"limits": {gpu: app_count}}
    if draw(st.booleans()):
        app_res["limits"]["rdma/ib"] = 1
    pod: dict = {"containers": [{"name": "main", "image": "x", "resources": app_res}]}
    init = draw(st.sampled_from(["none", "plain", "sidecar", "no-gpu"]))
    if init != "none":
        c: dict = {"name": "init", "image": "x"}
        if init != "no-gpu":
            c["resources"] = {"limits": {gpu: 1}}
        if init == "sidecar":
            c["restartPolicy"] = "Always"
        pod["initContainers"] = [c]
    tols = draw(st.lists(toleration(), max_size=4))
    if tols or draw(st.booleans()):
        pod["tolerations"] = tols
    return pod


def rewrite(pod: dict) -> tuple[dict, str]:
    text = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod}) + "\n"
    out = migrate_text(text, "p.yaml", Mode())
    docs = [to_python(d.root) for d in parse(out.text, "p.yaml")]
    return next(d for d in docs if d.get("kind") == "Pod")["spec"], out.text


@settings(max_examples=400, deadline=None)
@given(gpu_pod(), st.sampled_from(KEYS[:-1]), st.sampled_from(VALUES), st.sampled_from(EFFECTS))
def test_rewritten_pod_tolerates_exactly_what_the_admitted_original_did(pod: dict, key: str, value: str,
                                                                       effect: str) -> None:
    after, text = rewrite(pod)
    assert "nvidia.com/" not in json.dumps([c.get("resources") for c in after["containers"]]), text
    before_ok = tolerated(oracle_plugin(pod), key, value, effect)
    after_ok = tolerated(oracle_plugin(after), key, value, effect)
    assert before_ok == after_ok, (pod.get("tolerations"), (key, value, effect), after.get("tolerations"))


@settings(max_examples=200, deadline=None)
@given(gpu_pod())
def test_the_added_toleration_is_the_plugins_and_only_when_needed(pod: dict) -> None:
    after, _ = rewrite(pod)
    added = (after.get("tolerations") or [])[len(pod.get("tolerations") or []):]
    assert all(t["operator"] == "Exists" and t["effect"] == "NoSchedule" and set(t) == {"key", "operator", "effect"}
               for t in added)
    for t in added:
        # needed: some taint on its key was tolerated only thanks to the plugin
        assert not all(tolerated(pod.get("tolerations") or [], t["key"], v, "NoSchedule") for v in VALUES + ["zz"])


@settings(max_examples=300, deadline=None)
@given(gpu_pod(), st.sampled_from(KEYS[:-1]), st.sampled_from(VALUES), st.sampled_from(EFFECTS))
def test_verify_models_the_plugin_and_taints_as_kubernetes_does(pod: dict, key: str, value: str, effect: str) -> None:
    node = Node("n", {}, (Taint(key, value, effect),), {})
    expected = effect == "PreferNoSchedule" or tolerated(oracle_plugin(pod), key, value, effect)
    assert tolerates(dict(pod, tolerations=admission_tolerations(pod)), node) == expected
    plain = effect == "PreferNoSchedule" or tolerated(pod.get("tolerations") or [], key, value, effect)
    assert tolerates(pod, node) == plain


def test_admission_adds_nothing_when_the_identical_toleration_exists() -> None:
    tol = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    pod = {"containers": [{"resources": {"limits": {"nvidia.com/gpu": 1, "cpu": 1}}}], "tolerations": [tol]}
    assert admission_tolerations(pod) == [tol]
    # ephemeral containers and native resources get nothing; init containers do
    pod = {"containers": [{"resources": {"limits": {"cpu": 1, "hugepages-2Mi": "1Gi"}}}],
           "ephemeralContainers": [{"resources": {"limits": {"a.io/x": 1}}}],
           "initContainers": [{"resources": {"requests": {"b.io/y": 0}}}]}
    assert admission_tolerations(pod) == [{"key": "b.io/y", "operator": "Exists", "effect": "NoSchedule"}]
