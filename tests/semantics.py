"""An independent oracle for device semantics, written from the Kubernetes rules, not the engine.

For every pod spec (a mapping with a ``containers`` list) it computes what the device plugin
would give the pod, per resource: max(max over init containers i of (k_i + sidecars declared
before i), app containers + all sidecars) (KEP-753 / scheduler resource arithmetic), and what
the migrated pod holds: the device counts of the requests in the templates its claims name.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import yaml

GPU = re.compile(r"^nvidia\.com/(gpu|mig-.+)$")
PROFILE = re.compile(r"profile == '([^']+)'")


def count_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def container_asks(ctr: dict[str, Any]) -> dict[str, int]:
    res = ctr.get("resources") or {}
    out: dict[str, int] = {}
    for which in ("requests", "limits"):
        for k, v in (res.get(which) or {}).items():
            if isinstance(k, str) and GPU.match(k) and count_of(v) is not None:
                out[k] = count_of(v)  # type: ignore[assignment]
    return out


def device_plugin_holds(pod: dict[str, Any]) -> dict[str, int]:
    inits = [c for c in pod.get("initContainers") or [] if isinstance(c, dict)]
    apps = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
    resources = {r for c in inits + apps for r in container_asks(c)}
    out: dict[str, int] = {}
    for r in resources:
        sidecars_before = 0
        peak = 0
        for c in inits:
            k = container_asks(c).get(r, 0)
            if c.get("restartPolicy") == "Always":
                sidecars_before += k
            else:
                peak = max(peak, k + sidecars_before)
        app = sum(container_asks(c).get(r, 0) for c in apps)
        total = max(peak, app + sidecars_before)
        if total:
            out[r] = total
    return out


def _body(request: dict[str, Any]) -> dict[str, Any]:
    """The device part of a request; for firstAvailable, its first alternative (all ask for the same kind and count)."""
    if request.get("firstAvailable"):
        return request["firstAvailable"][0]
    return request.get("exactly", request)


def _resource_of(request: dict[str, Any]) -> str:
    body = _body(request)
    cls = body.get("deviceClassName")
    if cls == "gpu.nvidia.com":
        return "nvidia.com/gpu"
    exprs = " ".join(s["cel"]["expression"] for s in body.get("selectors") or [])
    m = PROFILE.search(exprs)
    profile = m.group(1).replace("+", ".") if m else "?"
    return f"nvidia.com/mig-{profile}"


def dra_holds(pod: dict[str, Any], templates: dict[str, dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for claim in pod.get("resourceClaims") or []:
        t = templates.get(claim.get("resourceClaimTemplateName") or claim.get("resourceClaimName"))
        if t is None:
            continue
        devices = t["spec"]["spec"]["devices"] if t["kind"] == "ResourceClaimTemplate" else t["spec"]["devices"]
        for req in devices["requests"]:
            body = _body(req)
            r = _resource_of(req)
            out[r] = out.get(r, 0) + int(body.get("count", 1))
    for r, n in device_plugin_holds(pod).items():  # whatever is still a device-plugin request
        out[r] = out.get(r, 0) + n
    return out


def pods(text: str) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(object key + path, pod spec) for every pod spec in every object of ``text``."""
    for doc in yaml.load_all(text, Loader=yaml.CSafeLoader):
        objs = (doc.get("items") or []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for obj in objs:
            if not isinstance(obj, dict):
                continue
            meta = obj.get("metadata") or {}
            key = (obj.get("kind"), meta.get("namespace"), meta.get("name") or meta.get("generateName"))
            stack: list[tuple[tuple[Any, ...], Any]] = [((), obj)]
            while stack:
                path, node = stack.pop()
                if isinstance(node, dict):
                    if isinstance(node.get("containers"), list):
                        yield key + path, node
                    stack += [(path + (k,), v) for k, v in node.items()]
                elif isinstance(node, list):
                    stack += [(path + (i,), v) for i, v in enumerate(node)]


def templates_in(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for doc in yaml.load_all(text, Loader=yaml.CSafeLoader):
        objs = (doc.get("items") or []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for o in objs:
            if isinstance(o, dict) and o.get("kind") in ("ResourceClaimTemplate", "ResourceClaim"):
                out[o["metadata"]["name"]] = o
    return out


def holdings_changed(before: str, after: str, extra_templates: list[dict[str, Any]] = ()) -> list[str]:
    """Pods whose device holdings differ between ``before`` and ``after`` (should be none)."""
    old_templates = templates_in(before)
    new_templates = {**templates_in(after), **{t["metadata"]["name"]: t for t in extra_templates}}
    old = dict(pods(before))
    problems: list[str] = []
    for key, pod in pods(after):
        if key not in old:
            problems.append(f"{key}: pod spec appeared")
            continue
        was = dra_holds(old[key], old_templates)
        now = dra_holds(pod, new_templates)
        if was != now:
            problems.append(f"{key}: held {was}, now {now}")
    return problems
