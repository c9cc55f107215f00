"""Property tests: generated manifests of many shapes and layouts.

For every generated file: the rewrite parses, validates, is idempotent, keeps every pod's device
holdings (independent oracle), and leaves the documents around the workload byte-identical.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import generated_problems, lost_decisions
from migrator.engine import migrate_text
from migrator.mode import Mode
from semantics import holdings_changed

NAMES = st.sampled_from(["main", "worker", "sidecar-a", "c0", "trainer", "proxy"])
RESOURCES = st.sampled_from(["nvidia.com/gpu", "nvidia.com/gpu", "nvidia.com/mig-1g.5gb",
                             "nvidia.com/mig-2g.10gb.me"])


@st.composite
def containers(draw: Any, init: bool) -> list[dict[str, Any]]:
    out = []
    names = draw(st.lists(NAMES, min_size=1 if not init else 0, max_size=3, unique=True))
    for name in names:
        ctr: dict[str, Any] = {"name": ("init-" if init else "") + name, "image": "img"}
        if init and draw(st.booleans()):
            ctr["restartPolicy"] = "Always"
        limits: dict[str, Any] = {}
        requests: dict[str, Any] = {}
        for res in draw(st.lists(RESOURCES, max_size=2, unique=True)):
            n = draw(st.integers(min_value=0, max_value=4))
            where = draw(st.sampled_from(["limits", "requests", "both"]))
            value: Any = draw(st.sampled_from([n, str(n)]))
            if where in ("limits", "both"):
                limits[res] = value
            if where in ("requests", "both"):
                requests[res] = value
        if draw(st.booleans()):
            limits["cpu"] = "1"
        if draw(st.integers(0, 4)) == 0:  # GPU007: a hint that must stay reported after the rewrite
            ctr["env"] = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
        res_block: dict[str, Any] = {}
        if limits:
            res_block["limits"] = limits
        if requests:
            res_block["requests"] = requests
        if res_block:
            ctr["resources"] = res_block
        out.append(ctr)
    return out


@st.composite
def layouts(draw: Any) -> dict[str, Any]:
    return {
        "indent": draw(st.sampled_from([2, 4])),
        "seq_indent": draw(st.booleans()),
        "quote": draw(st.sampled_from(["", "'", '"'])),
        "flow_resources": draw(st.booleans()),
        "comments": draw(st.booleans()),
        "crlf": draw(st.booleans()),
        "kind": draw(st.sampled_from(["Pod", "Deployment", "Job", "StatefulSet", "CronJob", "DaemonSet",
                                      "ReplicaSet", "PyTorchJob", "LeaderWorkerSet"])),
        "anchors": draw(st.booleans()),
        "runtime_class": draw(st.sampled_from([None, None, None, "nvidia", "nvidia-cdi", "runc"])),
        "tolerations": draw(st.sampled_from([None, [], [{"key": "nvidia.com/gpu", "operator": "Exists"}],
                                             [{"key": "other", "operator": "Exists"}]])),
    }


def q(text: Any, quote: str) -> str:
    if isinstance(text, int):
        return str(text)
    if quote == "'":
        return f"'{text}'"
    if quote == '"':
        return f'"{text}"'
    return text if not text.isdigit() else f'"{text}"'


def emit(value: Any, col: int, lay: dict[str, Any], in_resources: bool = False) -> list[str]:
    pad = " " * col
    ind = lay["indent"]
    lines: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "resources" and lay["flow_resources"]:
                flow = "{" + ", ".join(
                    f"{kk}: {{" + ", ".join(f"{kkk}: {q(vvv, lay['quote'])}" for kkk, vvv in vv.items()) + "}"
                    for kk, vv in v.items()) + "}"
                lines.append(f"{pad}resources: {flow}")
            elif isinstance(v, (dict, list)) and v:
                comment = "  # note" if lay["comments"] and k in ("limits", "containers") else ""
                lines.append(f"{pad}{k}:{comment}")
                sub = col + ind if isinstance(v, dict) or lay["seq_indent"] else col
                lines += emit(v, sub, lay)
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{k}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                val = q(v, lay["quote"]) if isinstance(v, str) and (v.isdigit() or "/" in k) else str(v)
                if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
                    val = q(v, lay["quote"]) if isinstance(v, str) else str(v)
                comment = "  # gpu count" if lay["comments"] and k.startswith("nvidia.com/") else ""
                lines.append(f"{pad}{k}: {val}{comment}")
    else:
        for item in value:
            sub = emit(item, col + 2, lay)
            sub[0] = pad + "- " + sub[0][col + 2:]
            lines += sub
    return lines


@st.composite
def manifests(draw: Any) -> tuple[str, str, str]:
    lay = draw(layouts())
    pod: dict[str, Any] = {}
    inits = draw(containers(init=True))
    if inits:
        pod["initContainers"] = inits
    pod["containers"] = draw(containers(init=False))
    if lay["tolerations"] is not None:
        pod["tolerations"] = lay["tolerations"]
    if lay["runtime_class"]:
        pod["runtimeClassName"] = lay["runtime_class"]
    template = {"metadata": {"labels": {"app": "x"}}, "spec": pod}
    body = {
        "Pod": {"spec": pod},
        "Deployment": {"spec": {"replicas": 2, "template": template}},
        "StatefulSet": {"spec": {"serviceName": "s", "template": template}},
        "DaemonSet": {"spec": {"template": template}},
        "ReplicaSet": {"spec": {"replicas": 1, "template": template}},
        "Job": {"spec": {"template": template}},
        "CronJob": {"spec": {"schedule": '"0 2 * * *"', "jobTemplate": {"spec": {"template": template}}}},
        "PyTorchJob": {"spec": {"pytorchReplicaSpecs": {"Worker": {"replicas": 2, "template": template}}}},
        "LeaderWorkerSet": {"spec": {"leaderWorkerTemplate": {"size": 2, "workerTemplate": template}}},
    }[lay["kind"]]
    api = {"Pod": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
           "ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1", "PyTorchJob": "kubeflow.org/v1",
           "LeaderWorkerSet": "leaderworkerset.x-k8s.io/v1"}[lay["kind"]]
    obj = {"apiVersion": api, "kind": lay["kind"], "metadata": {"name": "w", "namespace": "ns"}, **body}
    nl = "\r\n" if lay["crlf"] else "\n"
    head = nl.join(["# header comment", "apiVersion: v1", "kind: ConfigMap", "metadata:",
                    "  name: before   # keep me", "data:", "  k: 'v'", "---"]) + nl
    tail = nl.join(["---", "apiVersion: v1", "kind: Service", "metadata: {name: after}", "# trailing", ""])
    middle = nl.join(emit(obj, 0, lay)) + nl
    if lay["anchors"]:
        # an anchor and an alias that have nothing to do with GPUs must not stop the rewrite
        middle = middle.replace("metadata:" + nl + " " * lay["indent"] + "name: w",
                                "metadata:" + nl + " " * lay["indent"] + "name: w" + nl + " " * lay["indent"]
                                + "labels: &lbl {team: ml}" + nl + " " * lay["indent"] + "annotations: *lbl", 1)
    return head, middle, tail


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests())
def test_rewrite_properties(parts: tuple[str, str, str]) -> None:
    head, middle, tail = parts
    text = head + middle + tail
    result = migrate_text(text, "gen.yaml", Mode())
    out = result.text
    assert out.startswith(head)
    assert out.endswith(tail)
    if "\r\n" in text:
        assert "\n" not in out.replace("\r\n", "")
    assert holdings_changed(text, out) == []
    assert generated_problems(out) == []
    again = migrate_text(out, "gen.yaml", Mode())
    assert again.text == out
    assert lost_decisions(result, again) == []
    if out != text:
        assert any(f.code in ("GPU000", "GPU003") for f in result.findings)
    # every line the rewrite removed or replaced was about GPUs, resources or tolerations
    import difflib
    from collections import Counter

    # (a line ndiff shows as removed and added again elsewhere was kept: its alignment is ndiff's
    # choice, e.g. `runtimeClassName: nvidia` after an inserted block)
    diff = list(difflib.ndiff(text.splitlines(), out.splitlines()))
    gone = Counter(d[2:] for d in diff if d.startswith("- ")) - Counter(d[2:] for d in diff if d.startswith("+ "))
    for line in gone:
        assert re.search(r"nvidia\.com/|limits|requests|resources|tolerations|\{", line), line
