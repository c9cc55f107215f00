"""A cluster snapshot (``kubectl get nodes,resourceslices,deviceclasses,... -o yaml``) as plain data.

Reads a List or a multi-document stream, keeps what placement and devices depend on: node
labels, taints and allocatable resources; ResourceSlice devices (attributes, capacity) per node;
DeviceClass selectors. The scheduling predicates here follow the Kubernetes rules for node
selectors, required node affinity (``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, ``Gt``,
``Lt``; terms ORed, expressions ANDed) and taints (``NoSchedule``/``NoExecute`` must be
tolerated) (k8s.io/component-helpers scheduling/corev1 nodeaffinity; core/v1 Toleration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import yaml

from migrator.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Device:
    node: str
    driver: str
    pool: str
    name: str
    attributes: dict[str, dict[str, Any]]  #: domain -> name -> value ({"string": ...} unwrapped)
    capacity: dict[str, dict[str, str]]  #: domain -> name -> quantity string

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.node, self.driver, self.pool, self.name)

    def attr(self, name: str, domain: str = "gpu.nvidia.com") -> Any:
        return self.attributes.get(domain, {}).get(name)


@dataclass
class Node:
    name: str
    labels: dict[str, str]
    taints: list[dict[str, Any]]
    allocatable: dict[str, str]
    devices: list[Device] = field(default_factory=list)
    unschedulable: bool = False
    kubelet_version: str = ""
    #: ResourceSlice pools of this node: (driver, pool) -> (generation, declared slice count, slices seen)
    pools: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)


@dataclass
class Snapshot:
    nodes: dict[str, Node]
    device_classes: dict[str, dict[str, Any]]  #: name -> spec
    other: list[dict[str, Any]] = field(default_factory=list)

    def devices(self) -> Iterator[Device]:
        for n in self.nodes.values():
            yield from n.devices


_TYPES = ("string", "int", "bool", "version")


def _attr_value(raw: Any) -> Any:
    if isinstance(raw, dict):
        for t in _TYPES:
            if t in raw:
                return ("version", raw[t]) if t == "version" else raw[t]
    return raw


def _qualify(name: str, driver: str) -> tuple[str, str]:
    """Attribute names without a domain belong to the driver's domain (dra-api.md §1.7)."""
    if "/" in name:
        domain, short = name.rsplit("/", 1)
        return domain, short
    return driver, name


def load_snapshot(path: str) -> Snapshot:
    try:
        with open(path, "rb") as fh:
            docs = list(yaml.load_all(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except OSError as exc:
        raise InvalidInput(path, None, f"cannot read snapshot: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InvalidInput(path, mark.line + 1 if mark else None, "snapshot is not valid YAML") from None
    objs: list[dict[str, Any]] = []
    for d in docs:
        if isinstance(d, dict) and isinstance(d.get("items"), list):
            objs += [i for i in d["items"] if isinstance(i, dict)]
        elif isinstance(d, dict):
            objs.append(d)
    return snapshot_from_objects(objs)


def snapshot_from_objects(objs: list[dict[str, Any]]) -> Snapshot:
    """Nodes, ResourceSlices and DeviceClasses into the model; everything else kept in ``other``."""
    snap = Snapshot({}, {})
    slices = []
    for o in objs:
        kind = o.get("kind")
        meta = o.get("metadata") or {}
        if kind == "Node":
            st = o.get("status") or {}
            spec = o.get("spec") or {}
            snap.nodes[meta.get("name", "")] = Node(
                meta.get("name", ""), {str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
                list(spec.get("taints") or []),
                {k: str(v) for k, v in (st.get("allocatable") or {}).items()},
                unschedulable=bool(spec.get("unschedulable")),
                kubelet_version=str((st.get("nodeInfo") or {}).get("kubeletVersion", "")))
        elif kind == "ResourceSlice":
            slices.append(o)
        elif kind == "DeviceClass":
            snap.device_classes[meta.get("name", "")] = o.get("spec") or {}
        else:
            snap.other.append(o)
    for s in slices:
        spec = s.get("spec") or {}
        node = spec.get("nodeName")
        driver = spec.get("driver", "")
        pool_spec = spec.get("pool") or {}
        pool = pool_spec.get("name", "")
        if node not in snap.nodes:
            snap.nodes[node] = Node(node, {}, [], {})
        gen, count, seen = snap.nodes[node].pools.get((driver, pool), (0, 0, 0))
        snap.nodes[node].pools[(driver, pool)] = (int(pool_spec.get("generation", 0) or 0),
                                                  int(pool_spec.get("resourceSliceCount", 1) or 1), seen + 1)
        for d in spec.get("devices") or []:
            body = d.get("basic", d)  # v1beta1 nests attributes under "basic"
            attrs: dict[str, dict[str, Any]] = {}
            for k, v in (body.get("attributes") or {}).items():
                domain, short = _qualify(k, driver)
                attrs.setdefault(domain, {})[short] = _attr_value(v)
            caps: dict[str, dict[str, str]] = {}
            for k, v in (body.get("capacity") or {}).items():
                domain, short = _qualify(k, driver)
                caps.setdefault(domain, {})[short] = str(v.get("value", v) if isinstance(v, dict) else v)
            snap.nodes[node].devices.append(Device(node, driver, pool, d.get("name", ""), attrs, caps))
    return snap


# ---- placement ---------------------------------------------------------------------------------

def _expr_ok(labels: dict[str, str], expr: dict[str, Any]) -> bool:
    key, op = expr.get("key"), expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    has = key in labels
    val = labels.get(key)
    if op == "In":
        return has and val in values
    if op == "NotIn":
        return not has or val not in values
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt") and has and len(values) == 1:
        try:
            a, b = int(str(val)), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def selects(pod: dict[str, Any], node: Node) -> bool:
    """nodeSelector and required node affinity (matchFields on metadata.name only)."""
    for k, v in (pod.get("nodeSelector") or {}).items():
        if node.labels.get(str(k)) != str(v):
            return False
    na = ((pod.get("affinity") or {}).get("nodeAffinity") or {})
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req:
        terms = req.get("nodeSelectorTerms") or []
        ok = False
        for term in terms:
            exprs = term.get("matchExpressions") or []
            fields = term.get("matchFields") or []
            if not exprs and not fields:
                continue  # an empty term matches nothing
            if all(_expr_ok(node.labels, e) for e in exprs) and \
                    all(_expr_ok({"metadata.name": node.name}, f) for f in fields):
                ok = True
                break
        if not ok:
            return False
    return True


def tolerates(pod: dict[str, Any], node: Node) -> bool:
    for taint in node.taints:
        effect = taint.get("effect")
        if effect not in ("NoSchedule", "NoExecute"):
            continue
        ok = False
        for tol in pod.get("tolerations") or []:
            op = tol.get("operator", "Equal")
            if tol.get("effect") and tol.get("effect") != effect:
                continue
            if not tol.get("key"):
                ok = op == "Exists"
            elif tol.get("key") == taint.get("key"):
                ok = op == "Exists" or str(tol.get("value", "")) == str(taint.get("value", ""))
            if ok:
                break
        if not ok:
            return False
    return True


_QTY = re.compile(r"^\s*(\d+)\s*$")


def allocatable_count(node: Node, resource: str) -> int:
    m = _QTY.match(node.allocatable.get(resource, "0"))
    return int(m.group(1)) if m else 0
