"""Pod specs and claims as data (the Python objects a manifest or snapshot parses to): what a pod
asks of the device plugin, what a claim asks of DRA, and where a pod spec sits in its object.
Nothing here was validated by an API server, so every reader tolerates wrong types (``as_dict``)
or raises ShapeError where a wrong type must be reported (``claim_requests``)."""

from __future__ import annotations

from typing import Any


def pod_needs(pod: dict[str, Any]) -> dict[str, int]:
    # the device plugin's per-pod arithmetic: max(largest init (+ earlier sidecars), apps + sidecars)
    from migrator.k8s.quantity import parse_count
    from migrator.tables import load_tables

    prefixes = load_tables().prefixes  # every vendor profile's device-plugin namespaces

    def asks(c: dict[str, Any]) -> dict[str, int]:
        res = as_dict(c.get("resources"))
        out: dict[str, int] = {}
        for which in ("requests", "limits"):
            for k, v in as_dict(res.get(which)).items():
                n = parse_count(v)
                if isinstance(k, str) and k.startswith(prefixes) and n:
                    out[k] = n
        return out

    inits = [c for c in as_list(pod.get("initContainers")) if isinstance(c, dict)]
    apps = [c for c in as_list(pod.get("containers")) if isinstance(c, dict)]
    total: dict[str, int] = {}
    for r in {r for c in inits + apps for r in asks(c)}:
        side = peak = 0
        for c in inits:
            k = asks(c).get(r, 0)
            if c.get("restartPolicy") == "Always":
                side += k
            else:
                peak = max(peak, k + side)
        total[r] = max(peak, sum(asks(c).get(r, 0) for c in apps) + side)
    return total


def as_dict(value: Any) -> dict[Any, Any]:
    """``value`` when it is a mapping, else {} (for fields of objects nobody validated: snapshots)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def claim_requests(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``devices.requests`` of a ResourceClaim or ResourceClaimTemplate (ShapeError on a wrong type)."""
    from migrator.text.shape import CLAIM_OBJECTS, require

    kind = obj.get("kind")
    require(obj, CLAIM_OBJECTS[str(kind)], "")
    spec = obj.get("spec") or {}
    if kind == "ResourceClaimTemplate":
        spec = spec.get("spec") or {}
    return list((spec.get("devices") or {}).get("requests") or [])


def alternatives(req: dict[str, Any]) -> list[dict[str, Any]]:
    """A request's subrequests in preference order (one for ``exactly`` or the flat v1beta1 shape)."""
    return req.get("firstAvailable") or [req.get("exactly") or req]


def selector_exprs(alt: dict[str, Any]) -> list[str]:
    # a selector without an expression is invalid: it matches nothing here (never more devices)
    return [(s.get("cel") or {}).get("expression") or "false" for s in alt.get("selectors") or []]


def count_of(alt: dict[str, Any]) -> int:
    count = alt.get("count")
    return 1 if count is None else int(count)


def claim_name(obj: dict[str, Any]) -> str | None:
    name = as_dict(obj.get("metadata")).get("name")
    return name if isinstance(name, str) else None


def capacity_requests(alt: dict[str, Any]) -> dict[str, str]:
    """A (sub)request's ``capacity.requests`` (KEP-5075 consumable capacity), names to quantities."""
    reqs = as_dict(as_dict(alt.get("capacity")).get("requests"))
    return {str(k): str(v) for k, v in reqs.items()}


def claim_index(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """ResourceClaims and ResourceClaimTemplates by name (objects without a string name left out)."""
    out: dict[str, dict[str, Any]] = {}
    for o in objs:
        name = claim_name(o)
        if o.get("kind") in ("ResourceClaimTemplate", "ResourceClaim") and name is not None:
            out[name] = o
    return out


def objects_of(docs: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "List":
            out += [i for i in as_list(d.get("items")) if isinstance(i, dict)]
        elif isinstance(d, dict):
            out.append(d)
    return out


def label_of(o: dict[str, Any]) -> str:
    """As ``K8sObject.label`` (non-string names read as absent, as ``str_at`` reads them)."""
    meta = as_dict(o.get("metadata"))

    def text(key: str) -> str | None:
        v = meta.get(key)
        return None if v is None or isinstance(v, (dict, list)) else v if isinstance(v, str) else str(v)

    ns = f"{text('namespace')}/" if text("namespace") else ""
    return f"{o.get('kind')} {ns}{text('name') or text('generateName') or '<unnamed>'}"


def pod_at(obj: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    cur: Any = obj
    for step in [s for s in where.split("/") if s]:
        if isinstance(cur, list):
            cur = cur[int(step)] if step.isdigit() and int(step) < len(cur) else None
        elif isinstance(cur, dict):
            cur = cur.get(step)
        else:
            return None
    return cur if isinstance(cur, dict) else None
