"""A cluster snapshot (``kubectl get nodes,resourceslices,deviceclasses,... -o yaml``) as typed data.

Reads a List (or ``NodeList``...) or a multi-document stream, and keeps what placement and
devices depend on: node labels, taints and allocatable resources; ResourceSlice devices
(attributes, capacity) per node; DeviceClass selectors; and for ``plan`` the pods, allocated
ResourceClaims, stored ResourceClaimTemplates and PodDisruptionBudgets.

One validating reader for ``verify``, ``plan`` and ``preview``: every field read is checked
against the type the API server would have enforced (strings, integers, quantities, semvers,
int-or-percent), and every error is collected with its object and field, so a malformed
snapshot is one line per error naming the file (line), the object and the field, and exit 2.
Objects that are valid API objects but that the model cannot use are *reported and kept out*
(``Snapshot.warnings``), as the scheduler would treat them:

- a DeviceClass whose selector does not compile: allocation fails for every request that names
  it (k8s.io/dynamic-resource-allocation structured allocator: a CEL error aborts allocation for
  that request), so the class is kept as *unusable*; requests naming it get no device;
- a ResourceSlice not bound to one node (``allNodes``/``nodeSelector``, e.g. network-attached
  devices): not modelled (this tool reasons about node-local GPUs).

Kinds not listed above are ignored, but for the GPU Operator's ClusterPolicy and GPUCluster
(rules/gpu-operator.yaml), whose names tell ``plan`` the install. The scheduling predicates here follow the Kubernetes rules
for node selectors, required node affinity (``In``, ``NotIn``, ``Exists``, ``DoesNotExist``,
``Gt``, ``Lt``; terms ORed, expressions ANDed) and taints (``NoSchedule``/``NoExecute`` must be
tolerated) (k8s.io/component-helpers scheduling/corev1 nodeaffinity; core/v1 Toleration).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any, Iterator

from migrator.errors import InvalidInput, MigratorError
from migrator.tables import gpu_operator

def default_classes() -> dict[str, str]:
    """The vendor drivers' own DeviceClasses (whole devices and partitions), assumed when the
    snapshot has no DeviceClass objects (rules/vendors/*.yaml ``deviceClasses``; NVIDIA DRA driver
    v25.12 templates/deviceclass-gpu.yaml, deviceclass-mig.yaml)."""
    from migrator.tables import load_tables

    return {c.name: c.selector for p in load_tables().vendors.profiles for c in p.device_classes
            if c.role in ("whole", "partition")}


#: More error lines than this are summarised (a snapshot of a big cluster with one systematic mistake).
MAX_ERRORS = 100


@dataclass(frozen=True, slots=True)
class Device:
    node: str
    driver: str
    pool: str
    name: str
    attributes: dict[str, dict[str, Any]]  #: domain -> name -> value (version values: ("version", text))
    capacity: dict[str, dict[str, str]]  #: domain -> name -> quantity string

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.node, self.driver, self.pool, self.name)

    def attr(self, name: str, domain: str) -> Any:
        return self.attributes.get(domain, {}).get(name)


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    allocatable: dict[str, str] = field(default_factory=dict)  #: resource -> quantity string
    devices: tuple[Device, ...] = ()
    unschedulable: bool = False
    kubelet_version: str = ""
    #: ResourceSlice pools of this node: (driver, pool) -> (generation, declared slice count, slices seen)
    pools: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceClass:
    name: str
    selectors: tuple[str, ...] = ()  #: CEL expressions, ANDed (none: every device)
    extended_resource_name: str | None = None
    problem: str | None = None  #: why allocation fails for this class (its CEL does not compile)


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str | None
    name: str
    node: str | None  #: spec.nodeName (None: not scheduled)
    phase: str
    owner: tuple[str, str] | None  #: (kind, name) of the controller
    #: the node profile's resources (its resourcePrefixes) the pod holds (the device plugin's per-pod arithmetic)
    gpus: dict[str, int]


@dataclass(frozen=True, slots=True)
class Claim:
    """A ResourceClaim: only its allocation matters here (the devices it holds)."""

    namespace: str | None
    name: str
    allocated: tuple[tuple[str, str, str], ...]  #: (driver, pool, device)


@dataclass(frozen=True, slots=True)
class ClaimTemplate:
    namespace: str | None
    name: str
    spec: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.namespace or ''}/{self.name}"


@dataclass(frozen=True, slots=True)
class PDB:
    namespace: str | None
    name: str
    match_labels: dict[str, str]
    min_available: int | str | None
    max_unavailable: int | str | None

    def spec(self) -> dict[str, Any]:
        """The budget as the planner reads it (``minAvailable`` / ``maxUnavailable``)."""
        out: dict[str, Any] = {}
        if self.min_available is not None:
            out["minAvailable"] = self.min_available
        if self.max_unavailable is not None:
            out["maxUnavailable"] = self.max_unavailable
        return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: dict[str, Node]
    device_classes: dict[str, DeviceClass] = field(default_factory=dict)
    pods: tuple[Pod, ...] = ()
    claims: tuple[Claim, ...] = ()
    claim_templates: tuple[ClaimTemplate, ...] = ()
    pdbs: tuple[PDB, ...] = ()
    source: str = "<snapshot>"
    #: objects reported and left out of the model (one line each, naming the file and object)
    warnings: tuple[str, ...] = ()
    #: the API server's gitVersion when read live (a file snapshot has none)
    server_version: str = ""
    #: (kind, name) of the GPU Operator's install resources (ClusterPolicy, GPUCluster: rules/gpu-operator.yaml)
    operator_objects: tuple[tuple[str, str], ...] = ()

    def control_plane_version(self) -> tuple[str, str]:
        """(version, how it is known): the server's own, else the newest kubelet's (a kubelet is
        never newer than its API server: kubernetes.io/releases/version-skew-policy), else ""."""
        from migrator.k8s.kube import parse_version

        if self.server_version:
            try:
                parse_version(self.server_version)
                return self.server_version, "the API server"
            except Exception:
                pass

        versions = []
        for n in self.nodes.values():
            try:
                versions.append((parse_version(n.kubelet_version), n.kubelet_version))
            except Exception:
                continue
        if versions:
            return max(versions)[1], "the newest kubelet (the control plane may be newer)"
        return "", "unknown"

    def devices(self) -> Iterator[Device]:
        for n in self.nodes.values():
            yield from n.devices

    def class_exprs(self, name: str) -> tuple[list[str], str | None]:
        """The selectors a request for class ``name`` must pass, and why it gets nothing (if so).

        Without DeviceClass objects in the snapshot, the vendor drivers' own classes are assumed.
        """
        cls = self.device_classes.get(name)
        if cls is None:
            return [default_classes().get(name, "false")], None
        if cls.problem:
            return ["false"], f"DeviceClass {name} is unusable ({cls.problem}): allocation fails for its requests"
        return list(cls.selectors), None


class InvalidSnapshot(MigratorError):
    """A snapshot with objects of the wrong shape: one line per error (file:line: object: field: what)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


# ---- reading ---------------------------------------------------------------------------------

_MISSING = object()
_BAD = object()
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
# Label syntax (k8s.io/apimachinery pkg/util/validation IsQualifiedName, IsValidLabelValue)
_LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?\Z")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_ATTR_TYPES = ("string", "int", "bool", "version")
_PERCENT = re.compile(r"(0|[1-9][0-9]*)%\Z")
_INT64 = 2**63


def _tname(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _fmt(path: tuple[Any, ...]) -> str:
    out = ""
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            out += f"[{step}]"
        elif isinstance(step, str) and _IDENT.match(step):
            out += ("." if out else "") + step
        else:
            out += f"[{_show(step)}]"
    return out


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _line_of(node: Any, path: tuple[Any, ...]) -> int | None:
    """The line of the deepest node along ``path`` (the key's line for a mapping entry)."""
    from migrator.text.documents import entry, items

    if node is None:
        return None
    line = node.start_mark.line + 1
    cur = node
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            seq = items(cur)
            if step >= len(seq):
                break
            cur = seq[step]
            line = cur.start_mark.line + 1
        else:
            found = entry(cur, step) if isinstance(step, str) else None
            if found is None:
                break
            key, cur = found
            line = key.start_mark.line + 1
    return line


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def line(self, node: Any, path: tuple[Any, ...], label: str, message: str) -> str:
        line = _line_of(node, path)
        where = f"{self.source}:{line}" if line else self.source
        text = f"{where}: {label}: {_fmt(path) + ': ' if path else ''}{message}"
        return text.replace("\r", "\\r").replace("\n", "\\n")

    def sorted_errors(self) -> list[str]:
        """In file order (errors are found kind by kind)."""
        def key(text: str) -> int:
            m = re.match(re.escape(self.source) + r":(\d+): ", text)
            return int(m.group(1)) if m else 0
        return sorted(self.errors, key=key)


class _Obj:
    """One object being read: its errors name it (kind namespace/name, or its index) and the field."""

    def __init__(self, reader: _Reader, data: dict[str, Any], node: Any, where: str) -> None:
        self.reader, self.data, self.node = reader, data, node
        self.failed = False
        self._seen: set[tuple[Any, ...]] = set()
        kind = data.get("kind")
        self.kind = kind if isinstance(kind, str) else "object"
        meta = data.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name, ns = meta.get("name"), meta.get("namespace")
        self.label = f"{self.kind} " + (
            f"{ns}/{name}" if isinstance(name, str) and name and isinstance(ns, str) and ns else
            name if isinstance(name, str) and name else where)

    def fail(self, path: tuple[Any, ...], message: str) -> None:
        self.failed = True
        if path in self._seen:
            return
        self._seen.add(path)
        self.reader.errors.append(self.reader.line(self.node, path, self.label, message))

    def warn(self, path: tuple[Any, ...], message: str) -> None:
        self.reader.warnings.append(self.reader.line(self.node, path, self.label, message))

    def value(self, path: tuple[Any, ...]) -> Any:
        """The value at ``path``; _MISSING when absent or null; _BAD (reported) when a parent has the wrong type."""
        cur: Any = self.data
        for i, step in enumerate(path):
            if cur is None:
                return _MISSING
            if isinstance(step, int):
                if not isinstance(cur, list):
                    self.fail(path[:i], f"expected a list, got {_tname(cur)}")
                    return _BAD
                cur = cur[step] if step < len(cur) else None
            else:
                if not isinstance(cur, dict):
                    self.fail(path[:i], f"expected an object, got {_tname(cur)}")
                    return _BAD
                cur = cur.get(step)
        return _MISSING if cur is None else cur

    def get(self, path: tuple[Any, ...], kind: type | tuple[type, ...], required: bool = False) -> Any:
        v = self.value(path)
        if v is _BAD:
            return None
        if v is _MISSING:
            if required:
                self.fail(path, "missing field")
            return None
        if not isinstance(v, kind) or (isinstance(v, bool) and kind is int):
            self.fail(path, f"expected {_WANT.get(kind, 'a value of another type')}, got {_tname(v)}")
            return None
        return v

    def string(self, path: tuple[Any, ...], required: bool = False) -> str | None:
        v = self.get(path, str, required)
        if v == "" and required:
            self.fail(path, "must not be empty")
            return None
        return v

    def mapping(self, path: tuple[Any, ...]) -> dict[Any, Any]:
        return self.get(path, dict) or {}

    def sequence(self, path: tuple[Any, ...]) -> list[Any]:
        return self.get(path, list) or []

    def objects(self, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
        """The items of a list of objects, each with its path (items of another type are reported)."""
        for i, item in enumerate(self.sequence(path)):
            if isinstance(item, dict):
                yield path + (i,), item
            elif item is not None:
                self.fail(path + (i,), f"expected an object, got {_tname(item)}")

    def keys(self, path: tuple[Any, ...]) -> Iterator[tuple[str, Any]]:
        """The entries of a map with string keys (other keys are reported)."""
        for k, v in self.mapping(path).items():
            if isinstance(k, str):
                yield k, v
            else:
                self.fail(path + (k,), f"keys must be strings, got {_tname(k)}")

    def string_map(self, path: tuple[Any, ...], labels: bool = False) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in self.keys(path):
            if not isinstance(v, str):
                self.fail(path + (k,), f"expected a string, got {_tname(v)}")
            elif labels and not _valid_label_key(k):
                self.fail(path + (k,), "not a valid label key (a qualified name: [prefix/]name)")
            elif labels and (len(v) > 63 or not _LABEL_NAME.match(v)):
                self.fail(path + (k,), f"not a valid label value: {_show(v)}")
            else:
                out[k] = v
        return out

    def integer(self, path: tuple[Any, ...], minimum: int = 0) -> int | None:
        v = self.get(path, int)
        if v is not None and not minimum <= v < _INT64:
            self.fail(path, f"must be an integer from {minimum} up, got {v}")
            return None
        return v

    def quantity(self, path: tuple[Any, ...], v: Any) -> str | None:
        """A resource.Quantity (a string, or a JSON number as the API server also accepts)."""
        from migrator.k8s.quantity import read_quantity

        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            self.fail(path, f"expected a quantity (a string such as '1' or '80Gi'), got {_tname(v)}")
            return None
        try:
            read_quantity(str(v))
        except ValueError:
            self.fail(path, f"not a valid quantity: {_show(v)}")
            return None
        return str(v)

    def int_or_percent(self, path: tuple[Any, ...]) -> int | str | None:
        v = self.value(path)
        if v is _BAD or v is _MISSING:
            return None
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < _INT64:
            return v
        if isinstance(v, str) and _PERCENT.match(v) and int(v[:-1]) <= 100:
            return v
        got = _show(v) if isinstance(v, str) else _tname(v)
        self.fail(path, f"expected an integer or a percentage such as '50%', got {got}")
        return None


_WANT: dict[Any, str] = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object", list: "a list"}


def _valid_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))):
        return False
    return 0 < len(name) <= 63 and bool(_LABEL_NAME.match(name))


def _qualify(name: str, driver: str) -> tuple[str, str]:
    """Attribute names without a domain belong to the driver's domain (dra-api.md §1.7)."""
    if "/" in name:
        domain, short = name.rsplit("/", 1)
        return domain, short
    return driver, name


def load_snapshot(path: str) -> Snapshot:
    """Read and validate a snapshot file; raises InvalidInput (unreadable) or InvalidSnapshot."""
    from migrator.text.documents import get, items, parse, to_python
    from migrator.text.sources import read

    try:
        # only a regular file: a FIFO or a device would block or never end
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InvalidInput(path, None, "cannot read snapshot: not a regular file")
    except OSError as exc:
        raise InvalidInput(path, None, f"cannot read snapshot: {exc.strerror or exc}") from None
    text = read(path).text  # bounded, UTF-8 checked
    reader = _Reader(path)
    objs: list[tuple[Any, Any, str]] = []
    for doc in parse(text, path):
        if doc.root is None:
            continue
        data = to_python(doc.root)
        where = f"document {doc.index + 1}"
        if data is None:
            continue
        if not isinstance(data, dict):
            reader.errors.append(reader.line(doc.root, (), where,
                                             f"expected a Kubernetes object or List, got {_tname(data)}"))
            continue
        if "items" in data or (isinstance(data.get("kind"), str) and data["kind"].endswith("List")):
            list_kind = data["kind"] if isinstance(data.get("kind"), str) else "List"
            members = data.get("items")
            if members is None:
                continue
            if not isinstance(members, list):
                reader.errors.append(reader.line(doc.root, ("items",), f"{list_kind} ({where})",
                                                 f"expected a list, got {_tname(members)}"))
                continue
            nodes = items(get(doc.root, "items"))
            for i, item in enumerate(members):
                node = nodes[i] if i < len(nodes) else doc.root
                if isinstance(item, dict) and "kind" not in item and list_kind.endswith("List") \
                        and list_kind != "List":
                    item = dict(item, kind=list_kind[:-4])  # kubectl get --raw: NodeList items have no kind
                if item is not None:
                    objs.append((item, node, f"items[{i}]"))
        else:
            objs.append((data, doc.root, where))
    return _build(reader, objs)


def snapshot_from_objects(objs: list[Any], source: str = "<snapshot>") -> Snapshot:
    """Objects already parsed (the live API, tests) into the model; raises InvalidSnapshot."""
    return _build(_Reader(source), [(o, None, f"items[{i}]") for i, o in enumerate(objs)])


def _build(reader: _Reader, objs: list[tuple[Any, Any, str]]) -> Snapshot:
    nodes: dict[str, dict[str, Any]] = {}
    first: dict[tuple[str, str], int | None] = {}
    classes: dict[str, DeviceClass] = {}
    pods: list[Pod] = []
    claims: list[Claim] = []
    templates: list[ClaimTemplate] = []
    pdbs: list[PDB] = []
    slices: list[tuple[_Obj, dict[str, Any]]] = []
    operator_objects: list[tuple[str, str]] = []
    operators = {k: v["apiVersion"] for k, v in gpu_operator()["objects"].items()}
    for data, node, where in objs:
        if not isinstance(data, dict):
            reader.errors.append(reader.line(node, (), where, f"expected an object, got {_tname(data)}"))
            continue
        o = _Obj(reader, data, node, where)
        kind = data.get("kind")
        if kind is None:
            o.fail(("kind",), "missing field")
            continue
        if not isinstance(kind, str):
            o.fail(("kind",), f"expected a string, got {_tname(kind)}")
            continue
        if kind in operators:
            api = data.get("apiVersion")
            if isinstance(api, str) and api.partition("/")[0] == operators[kind].partition("/")[0]:
                name = o.string(("metadata", "name"), required=True)
                if not o.failed and name is not None:
                    operator_objects.append((kind, name))
            continue
        if kind not in _READERS:
            continue  # not part of the model
        name = o.string(("metadata", "name"), required=True)
        ns = o.string(("metadata", "namespace"))
        if name is not None and kind in ("Node", "DeviceClass"):
            key = (kind, name)
            if key in first:
                o.fail(("metadata", "name"), "defined twice in the snapshot"
                       + (f" (first at line {first[key]})" if first[key] else ""))
                continue
            first[key] = _line_of(node, ())
        result = _READERS[kind](o, name or "", ns)
        if o.failed or result is None:
            continue
        if kind == "Node":
            nodes[name or ""] = result
        elif kind == "ResourceSlice":
            slices.append((o, result))
        elif kind == "DeviceClass":
            classes[result.name] = result
        elif kind == "Pod":
            pods.append(result)
        elif kind == "ResourceClaim":
            claims.append(result)
        elif kind == "ResourceClaimTemplate":
            templates.append(result)
        else:
            pdbs.append(result)
    for _o, s in slices:
        n = nodes.setdefault(s["node"], {"name": s["node"]})
        pools = n.setdefault("pools", {})
        _, count, seen = pools.get((s["driver"], s["pool"]), (0, 0, 0))
        pools[(s["driver"], s["pool"])] = (s["generation"], s["count"], seen + 1)
        n.setdefault("devices", []).extend(s["devices"])
    if reader.errors:
        lines = reader.sorted_errors()[:MAX_ERRORS]
        if len(reader.errors) > MAX_ERRORS:
            lines.append(f"{reader.source}: {len(reader.errors) - MAX_ERRORS} more error(s) not shown")
        raise InvalidSnapshot(lines)
    built = {name: Node(**dict(n, devices=tuple(n.get("devices", ())))) for name, n in nodes.items()}
    return Snapshot(built, classes, tuple(pods), tuple(claims), tuple(templates), tuple(pdbs),
                    reader.source, tuple(reader.warnings), operator_objects=tuple(sorted(set(operator_objects))))


def _node(o: _Obj, name: str, ns: str | None) -> dict[str, Any]:
    labels = o.string_map(("metadata", "labels"), labels=True)
    taints: list[Taint] = []
    for path, _t in o.objects(("spec", "taints")):
        key = o.string(path + ("key",), required=True)
        value = o.string(path + ("value",)) or ""
        effect = o.string(path + ("effect",), required=True)
        if effect is not None and effect not in _TAINT_EFFECTS:
            o.fail(path + ("effect",),
                   f"unknown taint effect {_show(effect)} (NoSchedule, PreferNoSchedule or NoExecute)")
        elif key is not None and effect is not None:
            taints.append(Taint(key, value, effect))
    allocatable: dict[str, str] = {}
    for k, v in o.keys(("status", "allocatable")):
        q = o.quantity(("status", "allocatable", k), v)
        if q is not None:
            allocatable[k] = q
    return {"name": name, "labels": labels, "taints": tuple(taints), "allocatable": allocatable,
            "unschedulable": bool(o.get(("spec", "unschedulable"), bool)),
            "kubelet_version": o.string(("status", "nodeInfo", "kubeletVersion")) or ""}


def _slice(o: _Obj, name: str, ns: str | None) -> dict[str, Any] | None:
    driver = o.string(("spec", "driver"), required=True)
    node = o.string(("spec", "nodeName"))
    all_nodes = o.get(("spec", "allNodes"), bool)
    selector = o.get(("spec", "nodeSelector"), dict)
    per_device = o.get(("spec", "perDeviceNodeSelection"), bool)
    pool = o.string(("spec", "pool", "name"), required=True)
    generation = o.integer(("spec", "pool", "generation")) or 0
    count = o.integer(("spec", "pool", "resourceSliceCount"), minimum=1) or 1
    devices: list[Device] = []
    for path, d in o.objects(("spec", "devices")):
        dev_name = o.string(path + ("name",), required=True)
        body = path + ("basic",) if "basic" in d else path  # v1beta1 nests attributes under "basic"
        attrs: dict[str, dict[str, Any]] = {}
        for k, v in o.keys(body + ("attributes",)):
            value = _attribute(o, body + ("attributes", k), v)
            if value is not None:
                domain, short = _qualify(k, driver or "")
                attrs.setdefault(domain, {})[short] = value
        caps: dict[str, dict[str, str]] = {}
        for k, v in o.keys(body + ("capacity",)):
            where = body + ("capacity", k)
            if isinstance(v, dict):  # v1beta1+: {value: quantity}; v1alpha3: the quantity itself
                where, v = where + ("value",), v.get("value")
                if v is None:
                    o.fail(where, "missing field")
                    continue
            q = o.quantity(where, v)
            if q is not None:
                domain, short = _qualify(k, driver or "")
                caps.setdefault(domain, {})[short] = q
        if dev_name is not None:
            devices.append(Device(node or "", driver or "", pool or "", dev_name, attrs, caps))
    if o.failed:
        return None
    if not node:
        if all_nodes or selector is not None or per_device:
            o.warn(("spec",), "devices not bound to one node (allNodes/nodeSelector) are not modelled; ignored")
        else:
            o.fail(("spec", "nodeName"), "missing field (a slice names its node, or allNodes/nodeSelector)")
        return None
    return {"node": node, "driver": driver, "pool": pool, "generation": generation, "count": count,
            "devices": devices}


def _attribute(o: _Obj, path: tuple[Any, ...], v: Any) -> Any:
    """A device attribute: exactly one of string, int, bool, version (a semver) (dra-api.md §1.7)."""
    from migrator.k8s.cel import parse_semver

    if not isinstance(v, dict):
        o.fail(path, f"expected an object with one of string, int, bool, version; got {_tname(v)}")
        return None
    present = [t for t in _ATTR_TYPES if v.get(t) is not None]
    if len(present) != 1:
        o.fail(path, "exactly one of string, int, bool, version must be set"
               + (f" (has {', '.join(present)})" if present else ""))
        return None
    t = present[0]
    value = v[t]
    want = {"string": str, "int": int, "bool": bool, "version": str}[t]
    if not isinstance(value, want) or (t == "int" and isinstance(value, bool)):
        o.fail(path + (t,), f"expected {_WANT[want]}, got {_tname(value)}")
        return None
    if t == "int" and not -_INT64 <= value < _INT64:  # type: ignore[operator]  # an int: checked above
        o.fail(path + (t,), "out of the int64 range")
        return None
    if t == "version":
        try:
            parse_semver(value)  # type: ignore[arg-type]  # a str: checked above
        except ValueError:
            o.fail(path + (t,), f"not a semantic version (semver 2.0): {_show(value)}")
            return None
        return ("version", value)
    return value


def _device_class(o: _Obj, name: str, ns: str | None) -> DeviceClass:
    from migrator.k8s.cel import compile_error, compile_expression

    exprs: list[str] = []
    problem = None
    for path, _s in o.objects(("spec", "selectors")):
        expr = o.string(path + ("cel", "expression"), required=True)
        if expr is None:
            continue
        exprs.append(expr)
        if problem is None:
            try:
                compile_expression(expr)
            except Exception as exc:  # the engine raises ValueError (and others) on syntax errors
                problem = f"{_fmt(path + ('cel', 'expression'))} does not compile: {compile_error(exc)}"
                o.warn(path + ("cel", "expression"), f"does not compile ({compile_error(exc)}): requests "
                       "for this class get no device (allocation fails for them)")
    return DeviceClass(name, tuple(exprs), o.string(("spec", "extendedResourceName")), problem)


def _pod(o: _Obj, name: str, ns: str | None) -> Pod:
    from migrator.k8s.podspec import pod_needs as _need
    from migrator.tables import load_tables

    # the resources of the profile whose node-dependent resource the planner reads off nodes
    prefixes = load_tables().node_profile().resource_prefixes

    owner = None
    for path, _ref in o.objects(("metadata", "ownerReferences")):
        kind = o.string(path + ("kind",), required=True)
        ref_name = o.string(path + ("name",), required=True)
        controller = o.get(path + ("controller",), bool)
        if owner is None and kind and ref_name and controller is not False:
            owner = (kind, ref_name)
    # only the GPU resources, as whole numbers (extended resources must be integers:
    # k8s.io/kubernetes pkg/apis/core/validation IsIntegerResourceName)
    spec: dict[str, list[dict[str, Any]]] = {}
    for section in ("initContainers", "containers"):
        for path, _c in o.objects(("spec", section)):
            asks: dict[str, dict[str, int]] = {}
            for which in ("requests", "limits"):
                for k, v in o.keys(path + ("resources", which)):
                    q = o.quantity(path + ("resources", which, k), v)
                    if q is None or not k.startswith(prefixes):
                        continue
                    n = _whole(q)
                    if n is None:
                        o.fail(path + ("resources", which, k),
                               f"an extended resource must be a whole number, got {_show(v)}")
                    else:
                        asks.setdefault(which, {})[k] = n
            policy = o.string(path + ("restartPolicy",))
            spec.setdefault(section, []).append({"resources": asks, "restartPolicy": policy})
    return Pod(ns, name, o.string(("spec", "nodeName")) or None, o.string(("status", "phase")) or "Running", owner,
               {r: n for r, n in _need(spec).items() if n})


def _whole(q: str) -> int | None:
    from migrator.k8s.quantity import read_quantity

    v = read_quantity(q)
    return int(v) if v.denominator == 1 and v >= 0 else None


def _claim(o: _Obj, name: str, ns: str | None) -> Claim:
    out: list[tuple[str, str, str]] = []
    for path, _r in o.objects(("status", "allocation", "devices", "results")):
        driver = o.string(path + ("driver",), required=True)
        pool = o.string(path + ("pool",), required=True)
        device = o.string(path + ("device",), required=True)
        if driver is not None and pool is not None and device is not None:
            out.append((driver, pool, device))
    return Claim(ns, name, tuple(out))


def _claim_template(o: _Obj, name: str, ns: str | None) -> ClaimTemplate:
    return ClaimTemplate(ns, name, o.get(("spec",), dict) or {})


def _pdb(o: _Obj, name: str, ns: str | None) -> PDB:
    return PDB(ns, name, o.string_map(("spec", "selector", "matchLabels"), labels=True),
               o.int_or_percent(("spec", "minAvailable")), o.int_or_percent(("spec", "maxUnavailable")))


_READERS: dict[str, Any] = {
    "Node": _node, "ResourceSlice": _slice, "DeviceClass": _device_class, "Pod": _pod,
    "ResourceClaim": _claim, "ResourceClaimTemplate": _claim_template, "PodDisruptionBudget": _pdb,
}


# ---- placement ---------------------------------------------------------------------------------

def _expr_ok(labels: dict[str, str], expr: dict[str, Any]) -> bool:
    key, op = expr.get("key"), expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    has = key in labels
    val = labels.get(key)  # type: ignore[arg-type]  # no key: None, no label
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
    """Every NoSchedule/NoExecute taint of ``node`` is tolerated (the scheduler's TaintToleration
    filter; PreferNoSchedule only scores). ``pod``'s tolerations are used as given: the admission
    plugin's are added by the caller (migrator.k8s.tolerations.admission_tolerations)."""
    from migrator.k8s.tolerations import tolerates_taint

    raw = pod.get("tolerations")
    tols = [t for t in raw if isinstance(t, dict)] if isinstance(raw, list) else []
    for taint in node.taints:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates_taint(t, taint.key, taint.value, taint.effect) for t in tols):
            return False
    return True


def allocatable_count(node: Node, resource: str) -> int:
    # the reader validated every allocatable quantity; a fractional one counts its whole part
    from migrator.k8s.quantity import read_quantity

    v = read_quantity(node.allocatable.get(resource, "0"))
    return max(int(v), 0)
