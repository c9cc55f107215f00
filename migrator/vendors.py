"""Vendor profiles (``rules/vendors/*.yaml``): what the engine knows about one device plugin and its DRA driver.

A profile is data: resource names and what they become, DeviceClasses, the attribute domain and
names, node-label mappings, partition (MIG) and sharing semantics, opaque config, the toleration
keys. The format is documented field by field in ``rules/vendors/README.md``; this module only
reads and checks it, and gives the rules small accessors (``attributes_cel``, ``whole_class``, ``label_rule``).

Loading is strict, as pluto's additional versions file is: unknown fields, missing sources,
dangling references and duplicates (within a profile or across the profiles loaded together) are
rejected with one line naming the file and the line, never a traceback.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator.errors import MigratorError

ROLES = ("whole", "partition", "vfio")
RESOURCE_KINDS = ("whole", "partition", "share", "report", "unknown")
ATTRIBUTE_TYPES = ("string", "int", "bool", "version")
TRANSLATIONS = ("product", "values", "memory-mib", "version-part", "version", "any-device", "equals", "none")
VERSION_PARTS = ("major", "minor", "patch")
DOMAINS = ("closed", "integer", "open")
MAX_BYTES = 1 << 20  #: a profile is a page of YAML; a bigger file is a mistake, not a profile
MAX_DEPTH = 32  #: profiles nest about 6 deep; deeper input is refused before Python's recursion limit

#: The one vendor id the code names: the profile that comes first where nothing else orders or
#: chooses (its rows were the only ones before the profiles, and messages list its classes first).
#: Profile loading's constant; everything else reads ``Profiles.default`` or orders by ``first``.
DEFAULT_VENDOR = "nvidia"

_ID = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# k8s.io/apimachinery IsDNS1123Subdomain (driver and DeviceClass names)
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


class VendorError(MigratorError):
    """A vendor profile that cannot be used: ``<file>:<line>: <what>``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        # one line whatever the profile holds: a key or value quoted in the message may carry a line
        # break (YAML reads NEL, LS and PS as breaks) or a control character
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


# ---- the profile, as the engine will read it -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class Kep5004Class:
    shipped_by: str
    missing_from: str | None
    fix: str | None


@dataclass(frozen=True, slots=True)
class DeviceClassSpec:
    name: str
    role: str  #: whole | partition | vfio
    selector: str  #: the class's CEL (used when a snapshot has no DeviceClass objects)
    extended_resource_name: str | None  #: KEP-5004 spec.extendedResourceName the driver ships
    kep5004: Kep5004Class | None
    source: str


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: str  #: string | int | bool | version
    roles: tuple[str, ...]  #: device roles that carry it
    source: str


@dataclass(frozen=True, slots=True)
class Capacity:
    name: str
    roles: tuple[str, ...]
    consumable: bool
    source: str


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str | None
    pattern: re.Pattern[str] | None
    kind: str  #: whole | partition | share | report | unknown
    device_class: str | None
    selector: str | None  #: CEL template; {group} from the pattern's named groups
    profile_replace: tuple[str, str] | None  #: (regex, replacement) applied to the `profile` group
    node_dependent: bool
    reason: str | None
    source: str
    line: int
    fix: str | None = None  #: kind unknown: what the user does (``fix``); the message then names the partition kind

    def matches(self, resource: str) -> re.Match[str] | bool | None:
        return resource == self.name if self.name is not None else self.pattern.match(resource) if self.pattern else None


@dataclass(frozen=True, slots=True)
class DeviceTypes:
    attribute: str
    whole: str
    partition: str | None
    vfio: str | None
    source: str


@dataclass(frozen=True, slots=True)
class Partitions:
    name: str
    device_class: str
    profile_attribute: str
    parent_attribute: str | None
    identity_attribute: str | None
    resource_prefix: str | None
    resource_from_profile: tuple[str, str] | None  #: (text, replacement) profile -> resource suffix
    product_pattern: re.Pattern[str] | None
    compare_memory_labels: bool
    parents_published_whole: bool
    source: str
    #: ``parentsPublishedWholeRef``: the issue or document messages cite for ``parentsPublishedWhole``
    parents_published_whole_ref: str | None = None


@dataclass(frozen=True, slots=True)
class SourcedLabel:
    label: str
    source: str


@dataclass(frozen=True, slots=True)
class Strategy:
    label: str
    single: str
    whole: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Nodes:
    resource: str
    present_label: str | None
    strategy: Strategy | None
    partition_product: SourcedLabel | None
    count_labels: tuple[SourcedLabel, ...]
    whole_evidence: tuple[SourcedLabel, ...]


@dataclass(frozen=True, slots=True)
class LabelRule:
    label: str | None
    key_pattern: re.Pattern[str] | None
    translate: str
    attribute: str | None
    capacity: str | None
    part: str | None
    values: tuple[tuple[str, str], ...]
    sanitize: tuple[str, str] | None
    value_format: str | None  #: the attribute value built from {value} (or the key pattern's groups)
    remove: bool
    reason: str | None
    source: str


@dataclass(frozen=True, slots=True)
class SharingLabel:
    label: str
    value: re.Pattern[str]
    meaning: str
    domain: str
    all: tuple[str, ...]
    minimum: int
    mig: bool
    exists: bool
    source: str


@dataclass(frozen=True, slots=True)
class OpaqueSharing:
    strategy: str  #: the --sharing value (timeslicing, mps)
    parameters: dict[str, Any]
    driver_gate: str | None
    source: str


@dataclass(frozen=True, slots=True)
class Consumable:
    capacity: str
    request: str
    driver_gate: str | None
    min_driver: str | None
    source: str
    helm_value: str | None = None  #: the driver chart's value that sets the shares per device (``helmValue``)


@dataclass(frozen=True, slots=True)
class Sharing:
    labels: tuple[SharingLabel, ...]
    converted: tuple[OpaqueSharing, ...]
    consumable: Consumable | None
    reported: str | None  #: why the vendor's shares are reported, never converted


@dataclass(frozen=True, slots=True)
class OpaqueConfig:
    driver: str
    api_version: str
    kinds: tuple[str, ...]
    sharing_kind: str | None
    source: str


@dataclass(frozen=True, slots=True)
class Tolerations:
    names: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    source: str


@dataclass(frozen=True, slots=True)
class Foreign:
    name: str
    resources: tuple[str, ...]
    annotations: tuple[str, ...]
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class RuntimeHints:
    env: tuple[tuple[str, str], ...]
    runtime_class_contains: str | None
    annotations: tuple[str, ...]
    annotation_prefixes: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class VendorProfile:
    vendor: str
    name: str
    source: str
    driver: str
    attribute_domain: str
    resource_prefixes: tuple[str, ...]
    triggers: tuple[str, ...]
    device_types: DeviceTypes
    device_classes: tuple[DeviceClassSpec, ...]
    attributes: dict[str, Attribute]
    capacities: dict[str, Capacity]
    resources: tuple[ResourceSpec, ...]
    partitions: Partitions | None
    nodes: Nodes | None
    node_labels: tuple[LabelRule, ...]
    label_families: tuple[str, ...]
    cutover_labels: tuple[str, ...]
    device_plugin_off: str | None
    dra_on: str | None
    sharing: Sharing
    opaque_config: OpaqueConfig | None
    tolerations: Tolerations
    foreign: tuple[Foreign, ...]
    annotation_requests: tuple[str, ...]
    runtime_hints: RuntimeHints | None
    kep5004_unmapped: tuple[tuple[re.Pattern[str], str], ...]
    path: str
    #: ``ray.numGpus``: the resources KubeRay's autoscaler reads as a group's GPUs (GPU010)
    ray_num_gpus: tuple[str, ...] = ()

    @property
    def attributes_cel(self) -> str:
        """CEL for the driver's own attributes: ``device.attributes['<attributeDomain>']``."""
        return f"device.attributes['{self.attribute_domain}']"

    @property
    def whole_class(self) -> str | None:
        """``deviceClasses[role: whole].name``: the class whole devices are requested from."""
        return next((c.name for c in self.device_classes if c.role == "whole"), None)

    def label_rule(self, label: str) -> LabelRule | None:
        """The ``nodeLabels`` row of ``label`` (exact label rows only)."""
        return next((r for r in self.node_labels if r.label == label), None)

    def resource(self, name: str) -> ResourceSpec | None:
        """The first row that names or matches ``name`` (rows are tried in file order)."""
        return next((r for r in self.resources if r.matches(name)), None)

    def device_class(self, name: str) -> DeviceClassSpec | None:
        return next((c for c in self.device_classes if c.name == name), None)


@dataclass(frozen=True, slots=True)
class Profiles:
    profiles: tuple[VendorProfile, ...]

    def for_resource(self, name: str) -> tuple[VendorProfile, ResourceSpec] | None:
        for p in self.profiles:
            r = p.resource(name)
            if r is not None:
                return p, r
        return None

    def by_vendor(self, vendor: str) -> VendorProfile | None:
        return next((p for p in self.profiles if p.vendor == vendor), None)

    def for_class(self, device_class: str) -> VendorProfile | None:
        """The profile whose driver creates ``device_class`` (its ``deviceClasses``)."""
        return next((p for p in self.profiles if p.device_class(device_class) is not None), None)

    @property
    def default(self) -> VendorProfile | None:
        """The ``DEFAULT_VENDOR`` profile (None: not loaded)."""
        return self.by_vendor(DEFAULT_VENDOR)

    def first(self) -> list[VendorProfile]:
        """The profiles with the default one first, then by file path (the order rows and messages use)."""
        return sorted(self.profiles, key=lambda p: (p.vendor != DEFAULT_VENDOR, p.path))


# ---- reading: YAML nodes with their lines --------------------------------------------------------

Path_ = tuple[Any, ...]


class _Doc:
    """One file's data plus the line of every mapping key and sequence item (1-based)."""

    def __init__(self, path: str, data: Any, lines: dict[Path_, int]) -> None:
        self.path, self.data, self.lines = path, data, lines

    def line(self, at: Path_) -> int | None:
        for n in range(len(at), -1, -1):
            if at[:n] in self.lines:
                return self.lines[at[:n]]
        return None

    def fail(self, at: Path_, message: str) -> VendorError:
        return VendorError(self.path, self.line(at), message)


def _read(path: Path) -> _Doc:
    import yaml

    import os
    import stat

    where = str(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would hang or never end
            raise VendorError(where, None, "not a regular file")
        raw = path.read_bytes()
    except OSError as exc:
        raise VendorError(where, None, f"cannot read the vendor profile: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise VendorError(where, None, f"a vendor profile is at most {MAX_BYTES} bytes, this one is {len(raw)}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VendorError(where, None, f"not UTF-8 (byte {exc.start})") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        lines: dict[Path_, int] = {}
        seen: set[int] = set()

        def convert(node: Any, at: Path_) -> Any:
            if len(at) > MAX_DEPTH:
                raise VendorError(where, node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            if id(node) in seen:  # an alias: refused (and no billion laughs)
                raise VendorError(where, node.start_mark.line + 1, "YAML anchors and aliases are not supported here")
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                out: dict[Any, Any] = {}
                for k, v in node.value:
                    if not isinstance(k, yaml.ScalarNode) or k.tag == "tag:yaml.org,2002:merge":
                        raise VendorError(where, k.start_mark.line + 1, "mapping keys must be plain strings")
                    key = str(loader.construct_scalar(k))
                    if key in out:
                        raise VendorError(where, k.start_mark.line + 1,
                                          f"duplicate key {key!r} (first at line {lines[at + (key,)]})")
                    lines[at + (key,)] = k.start_mark.line + 1
                    out[key] = convert(v, at + (key,))
                return out
            if isinstance(node, yaml.SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    lines[at + (i,)] = item.start_mark.line + 1
                    items.append(convert(item, at + (i,)))
                return items
            return loader.construct_object(node, deep=True)

        data = convert(root, ()) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise VendorError(where, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise VendorError(where, 1, "a vendor profile is a mapping (vendor:, driver:, resources:, ...)")
    return _Doc(where, data, lines)


# ---- checking ------------------------------------------------------------------------------------

class _Check:
    """Typed field access on one document; every failure names the field's line."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc

    def obj(self, at: Path_, fields: dict[str, bool], value: Any = None) -> dict[str, Any]:
        """``value`` (default: the node at ``at``) as a mapping with only ``fields`` (name -> required)."""
        v = self.get(at) if value is None else value
        if not isinstance(v, dict):
            raise self.doc.fail(at, f"{self.name(at)} must be a mapping")
        for key in v:
            if key not in fields:
                raise self.doc.fail(at + (key,), f"unknown field {self.name(at + (key,))} "
                                                 f"(known: {', '.join(sorted(fields))})")
        for key, required in fields.items():
            if required and key not in v:
                what = "a source (a link or a repo path)" if key == "source" else repr(key)
                raise self.doc.fail(at, f"{self.name(at)} needs {what}")
        return v

    def free(self, at: Path_) -> dict[str, Any]:
        """The node at ``at`` as a mapping whose keys are data (attribute names, table values)."""
        v = self.get(at)
        if not isinstance(v, dict):
            raise self.doc.fail(at, f"{self.name(at)} must be a mapping")
        return v

    def get(self, at: Path_) -> Any:
        v: Any = self.doc.data
        for step in at:
            v = v[step]
        return v

    @staticmethod
    def name(at: Path_) -> str:
        return ".".join(str(s) for s in at) if at else "the profile"

    def text(self, at: Path_, v: Any, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        if not isinstance(v, str) or not v.strip():
            raise self.doc.fail(at, f"{self.name(at)} must be a non-empty string")
        if pattern is not None and not pattern.match(v):
            raise self.doc.fail(at, f"{self.name(at)}: {v!r} is not {what}")
        return v

    def opt_str(self, m: dict[str, Any], at: Path_, key: str) -> str | None:
        return self.text(at + (key,), m[key]) if key in m else None

    def flag(self, m: dict[str, Any], at: Path_, key: str, default: bool) -> bool:
        if key not in m:
            return default
        if not isinstance(m[key], bool):
            raise self.doc.fail(at + (key,), f"{self.name(at + (key,))} must be true or false")
        return m[key]

    def strs(self, at: Path_, v: Any, allow_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(v, list) or (not v and not allow_empty):
            raise self.doc.fail(at, f"{self.name(at)} must be a{'' if allow_empty else ' non-empty'} list of strings")
        out = tuple(self.text(at + (i,), s) for i, s in enumerate(v))
        for i, s in enumerate(out):
            if s in out[:i]:
                raise self.doc.fail(at + (i,), f"{self.name(at)}: {s!r} is listed twice")
        return out

    def regex(self, at: Path_, v: Any, anchored: bool = False) -> re.Pattern[str]:
        text = self.text(at, v)
        if anchored and not text.startswith("^"):
            raise self.doc.fail(at, f"{self.name(at)} must be anchored with '^'")
        try:
            return re.compile(text)
        except re.error as exc:
            raise self.doc.fail(at, f"{self.name(at)} is not a regular expression: {exc}") from None

    def source(self, m: dict[str, Any], at: Path_) -> str:
        if "source" not in m:
            raise self.doc.fail(at, f"{self.name(at)} needs a source (a link or a repo path)")
        return self.text(at + ("source",), m["source"])

    def items(self, at: Path_, v: Any, allow_empty: bool = True) -> list[tuple[Path_, Any]]:
        if not isinstance(v, list) or (not v and not allow_empty):
            raise self.doc.fail(at, f"{self.name(at)} must be a{'' if allow_empty else ' non-empty'} list")
        return [(at + (i,), item) for i, item in enumerate(v)]

    def roles(self, at: Path_, v: Any) -> tuple[str, ...]:
        out = self.strs(at, v)
        for i, r in enumerate(out):
            if r not in ROLES:
                raise self.doc.fail(at + (i,), f"{self.name(at)}: {r!r} is not one of {', '.join(ROLES)}")
        return out


_TOP = {
    "vendor": True, "name": True, "source": True, "driver": True, "attributeDomain": False,
    "resourcePrefixes": True, "triggers": True, "deviceTypes": True, "deviceClasses": True,
    "attributes": True, "capacities": False, "resources": True, "partitions": False, "nodes": False,
    "nodeLabels": False, "labelFamilies": False, "cutoverLabels": False, "sharing": False,
    "opaqueConfig": False, "tolerations": True, "foreign": False, "annotationRequests": False,
    "runtimeHints": False, "kep5004": False, "ray": False,
}

# CEL references to the vendor's own attributes/capacities: device.attributes['<domain>'].<id>,
# '<id>' in device.attributes['<domain>'] (the guard the selectors use)
_REF = r"device\.(attributes|capacity)\[\s*['\"]{domain}['\"]\s*\]"


def _cel_refs(cel: str, domain: str) -> set[tuple[str, str]]:
    ref = _REF.format(domain=re.escape(domain))
    out = {(m.group(1), m.group(2)) for m in re.finditer(ref + r"\.(\w+)", cel)}
    out |= {(m.group(2), m.group(1)) for m in re.finditer(r"['\"](\w+)['\"]\s+in\s+" + ref, cel)}
    return out


def _profile(doc: _Doc) -> VendorProfile:
    c = _Check(doc)
    top = c.obj((), _TOP)
    vendor = c.text(("vendor",), top["vendor"], _ID, "a lowercase DNS label")
    driver = c.text(("driver",), top["driver"], _SUBDOMAIN, "a DNS subdomain (the DRA driver name)")
    domain = c.text(("attributeDomain",), top.get("attributeDomain", driver), _SUBDOMAIN, "a DNS subdomain")
    prefixes = c.strs(("resourcePrefixes",), top["resourcePrefixes"])
    for i, prefix in enumerate(prefixes):
        if not prefix.endswith("/"):
            raise doc.fail(("resourcePrefixes", i), f"resourcePrefixes: {prefix!r} must end with '/' (a resource namespace)")

    dt_at = ("deviceTypes",)
    dt = c.obj(dt_at, {"attribute": True, "whole": True, "partition": False, "vfio": False, "source": True})
    device_types = DeviceTypes(c.text(dt_at + ("attribute",), dt["attribute"]), c.text(dt_at + ("whole",), dt["whole"]),
                               c.opt_str(dt, dt_at, "partition"), c.opt_str(dt, dt_at, "vfio"), c.source(dt, dt_at))

    attributes: dict[str, Attribute] = {}
    at_at = ("attributes",)
    amap = c.free(at_at)
    for name, _row in amap.items():
        rat = at_at + (name,)
        r = c.obj(rat, {"type": True, "roles": True, "source": True})
        if r["type"] not in ATTRIBUTE_TYPES:
            raise doc.fail(rat + ("type",), f"{c.name(rat)}.type: {r['type']!r} is not one of {', '.join(ATTRIBUTE_TYPES)}")
        attributes[name] = Attribute(name, r["type"], c.roles(rat + ("roles",), r["roles"]), c.source(r, rat))
    if device_types.attribute not in attributes:
        raise doc.fail(dt_at + ("attribute",), f"deviceTypes.attribute {device_types.attribute!r} is not in attributes")
    capacities: dict[str, Capacity] = {}
    cp_at = ("capacities",)
    if "capacities" in top:
        cmap = c.free(cp_at)
        for name, _row in cmap.items():
            rat = cp_at + (name,)
            r = c.obj(rat, {"roles": True, "consumable": False, "source": True})
            capacities[name] = Capacity(name, c.roles(rat + ("roles",), r["roles"]), c.flag(r, rat, "consumable", False),
                                        c.source(r, rat))

    def check_cel(at: Path_, cel: str) -> None:
        for kind, ident in _cel_refs(cel, domain):
            known = attributes if kind == "attributes" else capacities
            if ident not in known:
                raise doc.fail(at, f"{c.name(at)} refers to {kind} {ident!r}, which the profile does not declare")

    classes: list[DeviceClassSpec] = []
    for at, row in c.items(("deviceClasses",), top["deviceClasses"], allow_empty=False):
        r = c.obj(at, {"name": True, "role": True, "selector": True, "extendedResourceName": False, "kep5004": False,
                       "source": True}, row)
        class_name = c.text(at + ("name",), r["name"], _SUBDOMAIN, "a DNS subdomain (a DeviceClass name)")
        if r["role"] not in ROLES:
            raise doc.fail(at + ("role",), f"{c.name(at)}.role: {r['role']!r} is not one of {', '.join(ROLES)}")
        selector = c.text(at + ("selector",), r["selector"])
        check_cel(at + ("selector",), selector)
        ern = c.opt_str(r, at, "extendedResourceName")
        if ern is not None:
            from migrator.k8s.tolerations import is_extended_resource
            if not is_extended_resource(ern):
                raise doc.fail(at + ("extendedResourceName",), f"{ern!r} is not an extended resource name")
        kep = None
        if "kep5004" in r:
            if ern is None:
                raise doc.fail(at + ("kep5004",), f"{c.name(at)}.kep5004 needs extendedResourceName")
            k = c.obj(at + ("kep5004",), {"shippedBy": True, "missingFrom": False, "fix": False})
            kep = Kep5004Class(c.text(at + ("kep5004", "shippedBy"), k["shippedBy"]),
                               c.opt_str(k, at + ("kep5004",), "missingFrom"),
                               " ".join(str(c.opt_str(k, at + ("kep5004",), "fix") or "").split()) or None)
        classes.append(DeviceClassSpec(class_name, r["role"], selector, ern, kep, c.source(r, at)))
    if not any(cl.role == "whole" for cl in classes):
        raise doc.fail(("deviceClasses",), "deviceClasses needs one class with role: whole")
    class_names = {cl.name for cl in classes}

    resources: list[ResourceSpec] = []
    for at, row in c.items(("resources",), top["resources"], allow_empty=False):
        r = c.obj(at, {"name": False, "pattern": False, "kind": True, "deviceClass": False, "selector": False,
                       "profileFromResource": False, "nodeDependent": False, "reason": False, "fix": False,
                       "source": True}, row)
        if ("name" in r) == ("pattern" in r):
            raise doc.fail(at, f"{c.name(at)} needs exactly one of name or pattern")
        res_name = c.opt_str(r, at, "name")
        pattern = c.regex(at + ("pattern",), r["pattern"], anchored=True) if "pattern" in r else None
        spelled = res_name if res_name is not None else pattern.pattern.lstrip("^").replace("\\", "") if pattern else ""
        if not any(spelled.startswith(p) for p in prefixes):
            raise doc.fail(at + ("name" if res_name else "pattern",),
                           f"{c.name(at)}: {res_name or spelled!r} is outside resourcePrefixes")
        kind = r["kind"]
        if kind not in RESOURCE_KINDS:
            raise doc.fail(at + ("kind",), f"{c.name(at)}.kind: {kind!r} is not one of {', '.join(RESOURCE_KINDS)}")
        device_class = c.opt_str(r, at, "deviceClass")
        reason = c.opt_str(r, at, "reason")
        if kind in ("whole", "partition"):
            if device_class is None:
                raise doc.fail(at, f"{c.name(at)} (kind {kind}) needs deviceClass")
            if device_class not in class_names:
                raise doc.fail(at + ("deviceClass",), f"{c.name(at)}.deviceClass {device_class!r} is not in deviceClasses")
        else:
            if device_class is not None or "selector" in r:
                raise doc.fail(at, f"{c.name(at)} (kind {kind}) is reported, not converted: no deviceClass or selector")
            if reason is None:
                raise doc.fail(at, f"{c.name(at)} (kind {kind}) needs a reason (reported to the user)")
        if "fix" in r and kind != "unknown":
            raise doc.fail(at + ("fix",), f"{c.name(at)}.fix goes with kind unknown only")
        res_selector = c.opt_str(r, at, "selector")
        groups = set(pattern.groupindex) if pattern else set()
        if res_selector is not None:
            check_cel(at + ("selector",), res_selector)
            for g in _PLACEHOLDER.findall(res_selector):
                if g not in groups:
                    raise doc.fail(at + ("selector",), f"{c.name(at)}.selector uses {{{g}}}, which is not a named "
                                                       "group of the pattern")
        repl = None
        if "profileFromResource" in r:
            pat = at + ("profileFromResource",)
            p = c.obj(pat, {"replace": True, "with": True})
            if "profile" not in groups:
                raise doc.fail(pat, f"{c.name(pat)} needs a pattern with a (?P<profile>...) group")
            repl = (c.regex(pat + ("replace",), p["replace"]).pattern, str(p["with"]))
        resources.append(ResourceSpec(res_name, pattern, kind, device_class, res_selector, repl,
                                      c.flag(r, at, "nodeDependent", False), reason, c.source(r, at), doc.line(at) or 0,
                                      c.opt_str(r, at, "fix")))
    if not any(x.kind == "whole" for x in resources):
        raise doc.fail(("resources",), "resources needs one row with kind: whole")
    for i, res in enumerate(resources):
        if res.name is None:
            continue
        for other in resources[:i] + resources[i + 1:]:
            if other.name == res.name:
                raise doc.fail(("resources", i), f"duplicate resource name {res.name!r} (also at line {other.line})")
            if other.pattern is not None and other.kind != "unknown" and res.kind != "unknown" and \
                    other.pattern.match(res.name):
                raise doc.fail(("resources", i), f"resource name {res.name!r} is also matched by the pattern at line "
                                                 f"{other.line}")
    for i, res in enumerate(resources):
        if res.pattern is not None and any(o.pattern is not None and o.pattern.pattern == res.pattern.pattern
                                           for o in resources[:i]):
            raise doc.fail(("resources", i, "pattern"), f"duplicate resource pattern {res.pattern.pattern!r}")

    partitions = None
    if "partitions" in top:
        pa = ("partitions",)
        pm = c.obj(pa, {"name": True, "deviceClass": True, "profileAttribute": True, "parentAttribute": False,
                       "identityAttribute": False, "resourcePrefix": False, "resourceFromProfile": False,
                       "productPattern": False, "compareMemoryLabels": False, "parentsPublishedWhole": False,
                       "parentsPublishedWholeRef": False, "source": True})
        dc = c.text(pa + ("deviceClass",), pm["deviceClass"])
        if dc not in class_names:
            raise doc.fail(pa + ("deviceClass",), f"partitions.deviceClass {dc!r} is not in deviceClasses")
        for key in ("profileAttribute", "parentAttribute", "identityAttribute"):
            if key in pm and c.text(pa + (key,), pm[key]) not in attributes:
                raise doc.fail(pa + (key,), f"partitions.{key} {pm[key]!r} is not in attributes")
        rfp = None
        if "resourceFromProfile" in pm:
            q = c.obj(pa + ("resourceFromProfile",), {"replace": True, "with": True})
            rfp = (str(q["replace"]), str(q["with"]))
        partitions = Partitions(
            c.text(pa + ("name",), pm["name"]), dc, pm["profileAttribute"], pm.get("parentAttribute"),
            pm.get("identityAttribute"),
            c.opt_str(pm, pa, "resourcePrefix"), rfp,
            c.regex(pa + ("productPattern",), pm["productPattern"], anchored=True) if "productPattern" in pm else None,
            c.flag(pm, pa, "compareMemoryLabels", True), c.flag(pm, pa, "parentsPublishedWhole", False), c.source(pm, pa),
            parents_published_whole_ref=c.opt_str(pm, pa, "parentsPublishedWholeRef"))

    nodes = None
    if "nodes" in top:
        na = ("nodes",)
        n = c.obj(na, {"resource": True, "presentLabel": False, "strategy": False, "partitionProduct": False,
                       "countLabels": False, "wholeEvidence": False, "source": True})
        res_name = c.text(na + ("resource",), n["resource"])
        if not any(x.name == res_name and x.kind == "whole" for x in resources):
            raise doc.fail(na + ("resource",), f"nodes.resource {res_name!r} is not a resources row of kind whole")
        strategy = None
        if "strategy" in n:
            sa = na + ("strategy",)
            s = c.obj(sa, {"label": True, "single": True, "whole": True, "source": True})
            strategy = Strategy(c.text(sa + ("label",), s["label"]), c.text(sa + ("single",), s["single"]),
                                c.strs(sa + ("whole",), s["whole"]), c.source(s, sa))

        def sourced(at: Path_, v: Any) -> SourcedLabel:
            m = c.obj(at, {"label": True, "source": True}, v)
            return SourcedLabel(c.text(at + ("label",), m["label"]), c.source(m, at))

        nodes = Nodes(res_name, c.opt_str(n, na, "presentLabel"), strategy,
                      sourced(na + ("partitionProduct",), n["partitionProduct"]) if "partitionProduct" in n else None,
                      tuple(sourced(a, v) for a, v in c.items(na + ("countLabels",), n.get("countLabels", []))),
                      tuple(sourced(a, v) for a, v in c.items(na + ("wholeEvidence",), n.get("wholeEvidence", []))))

    node_labels: list[LabelRule] = []
    for at, row in c.items(("nodeLabels",), top.get("nodeLabels", [])):
        r = c.obj(at, {"label": False, "keyPattern": False, "translate": True, "attribute": False, "capacity": False,
                       "part": False, "values": False, "sanitize": False, "valueFormat": False, "remove": False,
                       "reason": False, "source": True}, row)
        if ("label" in r) == ("keyPattern" in r):
            raise doc.fail(at, f"{c.name(at)} needs exactly one of label or keyPattern")
        t = r["translate"]
        if t not in TRANSLATIONS:
            raise doc.fail(at + ("translate",), f"{c.name(at)}.translate: {t!r} is not one of {', '.join(TRANSLATIONS)}")
        attr, cap = c.opt_str(r, at, "attribute"), c.opt_str(r, at, "capacity")
        if attr is not None and attr not in attributes:
            raise doc.fail(at + ("attribute",), f"{c.name(at)}.attribute {attr!r} is not in attributes")
        if cap is not None and cap not in capacities:
            raise doc.fail(at + ("capacity",), f"{c.name(at)}.capacity {cap!r} is not in capacities")
        needs = {"product": "attribute", "values": "attribute", "version-part": "attribute", "version": "attribute",
                 "equals": "attribute", "memory-mib": "capacity"}.get(t)
        if needs and r.get(needs) is None:
            raise doc.fail(at, f"{c.name(at)} (translate {t}) needs {needs}")
        if t in ("version-part", "version") and attributes[str(attr)].type != "version":
            raise doc.fail(at + ("attribute",), f"{c.name(at)} (translate {t}) needs a version attribute, {attr!r} is "
                                                f"{attributes[str(attr)].type}")
        part = c.opt_str(r, at, "part")
        if (t == "version-part") != (part is not None) or (part is not None and part not in VERSION_PARTS):
            raise doc.fail(at, f"{c.name(at)}: part (major, minor or patch) goes with translate version-part only")
        values: tuple[tuple[str, str], ...] = ()
        if t == "values":
            vm = c.free(at + ("values",)) if "values" in r else {}
            if not vm:
                raise doc.fail(at, f"{c.name(at)} (translate values) needs a non-empty values table")
            values = tuple((str(k), c.text(at + ("values", k), v)) for k, v in vm.items())
        sanitize = None
        if "sanitize" in r:
            sm = c.obj(at + ("sanitize",), {"replace": True, "with": True})
            sanitize = (str(sm["replace"]), str(sm["with"]))
        key_pattern = c.regex(at + ("keyPattern",), r["keyPattern"], anchored=True) if "keyPattern" in r else None
        fmt = c.opt_str(r, at, "valueFormat")
        if fmt is not None:
            allowed = set(key_pattern.groupindex) if key_pattern else {"value"}
            for g in _PLACEHOLDER.findall(fmt):
                if g not in allowed:
                    raise doc.fail(at + ("valueFormat",), f"{c.name(at)}.valueFormat uses {{{g}}}; allowed: "
                                                          f"{', '.join(sorted(allowed))}")
        if t == "none" and "reason" not in r:
            raise doc.fail(at, f"{c.name(at)} (translate none) needs a reason (why the label stays)")
        node_labels.append(LabelRule(c.opt_str(r, at, "label"), key_pattern, t, attr, cap, part, values, sanitize, fmt,
                                     c.flag(r, at, "remove", True), c.opt_str(r, at, "reason"), c.source(r, at)))
    for i, lr in enumerate(node_labels):
        for j in range(i):
            prior = node_labels[j]
            if (lr.label is not None and lr.label == prior.label) or \
                    (lr.key_pattern is not None and prior.key_pattern is not None and
                     lr.key_pattern.pattern == prior.key_pattern.pattern):
                raise doc.fail(("nodeLabels", i), f"duplicate node label {lr.label or lr.key_pattern.pattern!r} "  # type: ignore[union-attr]
                                                  f"(also at line {doc.line(('nodeLabels', j))})")

    families: tuple[str, ...] = ()
    if "labelFamilies" in top:
        fa = ("labelFamilies",)
        f = c.obj(fa, {"prefixes": True, "source": True})
        families = c.strs(fa + ("prefixes",), f["prefixes"])
        c.source(f, fa)
    cutover: tuple[str, ...] = ()
    dp_off = dra_on = None
    if "cutoverLabels" in top:
        ca = ("cutoverLabels",)
        cu = c.obj(ca, {"labels": True, "devicePluginOff": False, "draOn": False, "source": True})
        cutover = c.strs(ca + ("labels",), cu["labels"])
        c.source(cu, ca)
        for key in ("devicePluginOff", "draOn"):
            if key in cu and "=" not in c.text(ca + (key,), cu[key]):
                raise doc.fail(ca + (key,), f"cutoverLabels.{key} must be key=value")
        dp_off, dra_on = cu.get("devicePluginOff"), cu.get("draOn")

    sharing = _sharing(c, top.get("sharing"), capacities)
    opaque = None
    if "opaqueConfig" in top:
        oa = ("opaqueConfig",)
        o = c.obj(oa, {"driver": True, "apiVersion": True, "kinds": True, "sharingKind": False, "source": True})
        kinds = c.strs(oa + ("kinds",), o["kinds"])
        sk = c.opt_str(o, oa, "sharingKind")
        if sk is not None and sk not in kinds:
            raise doc.fail(oa + ("sharingKind",), f"opaqueConfig.sharingKind {sk!r} is not in kinds")
        opaque = OpaqueConfig(c.text(oa + ("driver",), o["driver"], _SUBDOMAIN, "a DNS subdomain"),
                              c.text(oa + ("apiVersion",), o["apiVersion"]), kinds, sk, c.source(o, oa))
    if sharing.converted and (opaque is None or opaque.sharing_kind is None):
        raise doc.fail(("sharing", "converted"), "sharing.converted needs opaqueConfig with a sharingKind")

    ta = ("tolerations",)
    tol = c.obj(ta, {"names": False, "patterns": False, "source": True})
    tolerations = Tolerations(c.strs(ta + ("names",), tol.get("names", []), allow_empty=True),
                              tuple(c.regex(a, v, anchored=True)
                                    for a, v in c.items(ta + ("patterns",), tol.get("patterns", []))),
                              c.source(tol, ta))
    for res in resources:
        if res.name is not None and res.kind in ("whole", "partition", "share") and res.name not in tolerations.names \
                and not any(p.match(res.name) for p in tolerations.patterns):
            raise doc.fail(ta, f"tolerations: the resource {res.name!r} (line {res.line}) has no toleration key")

    foreign: list[Foreign] = []
    for at, row in c.items(("foreign",), top.get("foreign", [])):
        r = c.obj(at, {"name": True, "resources": False, "annotations": False, "reason": True, "source": True}, row)
        foreign.append(Foreign(c.text(at + ("name",), r["name"]), c.strs(at + ("resources",), r.get("resources", []), True),
                               c.strs(at + ("annotations",), r.get("annotations", []), True),
                               c.text(at + ("reason",), r["reason"]), c.source(r, at)))
    annotation_requests: tuple[str, ...] = ()
    if "annotationRequests" in top:
        aa = ("annotationRequests",)
        a = c.obj(aa, {"keys": True, "source": True})
        annotation_requests = c.strs(aa + ("keys",), a["keys"])
        c.source(a, aa)
    hints = None
    if "runtimeHints" in top:
        ha = ("runtimeHints",)
        h = c.obj(ha, {"env": False, "runtimeClassContains": False, "annotations": False, "annotationPrefixes": False,
                       "source": True})
        env = []
        for at, row in c.items(ha + ("env",), h.get("env", [])):
            e = c.obj(at, {"name": True, "value": True}, row)
            env.append((c.text(at + ("name",), e["name"]), c.text(at + ("value",), str(e["value"]))))
        hints = RuntimeHints(tuple(env), c.opt_str(h, ha, "runtimeClassContains"),
                             c.strs(ha + ("annotations",), h.get("annotations", []), True),
                             c.strs(ha + ("annotationPrefixes",), h.get("annotationPrefixes", []), True), c.source(h, ha))
    unmapped: list[tuple[re.Pattern[str], str]] = []
    if "kep5004" in top:
        ka = ("kep5004",)
        k = c.obj(ka, {"unmapped": True, "source": True})
        for at, row in c.items(ka + ("unmapped",), k["unmapped"]):
            u = c.obj(at, {"pattern": True, "why": True}, row)
            unmapped.append((c.regex(at + ("pattern",), u["pattern"], anchored=True), c.text(at + ("why",), u["why"])))
        c.source(k, ka)

    ray: tuple[str, ...] = ()
    if "ray" in top:
        ra = ("ray",)
        rr = c.obj(ra, {"numGpus": True, "source": True})
        ray = c.strs(ra + ("numGpus",), rr["numGpus"])
        c.source(rr, ra)
        for i, name in enumerate(ray):
            if not any(x.name == name and x.kind == "whole" for x in resources):
                raise doc.fail(ra + ("numGpus", i), f"ray.numGpus: {name!r} is not a resources name of kind whole")

    return VendorProfile(
        vendor=vendor, name=c.text(("name",), top["name"]), source=c.text(("source",), top["source"]), driver=driver,
        attribute_domain=domain, resource_prefixes=prefixes, triggers=c.strs(("triggers",), top["triggers"]),
        device_types=device_types, device_classes=tuple(classes), attributes=attributes, capacities=capacities,
        resources=tuple(resources), partitions=partitions, nodes=nodes, node_labels=tuple(node_labels),
        label_families=families, cutover_labels=cutover, device_plugin_off=dp_off, dra_on=dra_on, sharing=sharing,
        opaque_config=opaque, tolerations=tolerations, foreign=tuple(foreign), annotation_requests=annotation_requests,
        runtime_hints=hints, kep5004_unmapped=tuple(unmapped), path=doc.path, ray_num_gpus=ray,
    )


def _sharing(c: _Check, v: Any, capacities: dict[str, Capacity]) -> Sharing:
    if v is None:
        return Sharing((), (), None, None)
    sa = ("sharing",)
    s = c.obj(sa, {"labels": False, "converted": False, "consumable": False, "reported": False})
    labels = []
    for at, row in c.items(sa + ("labels",), s.get("labels", [])):
        r = c.obj(at, {"label": True, "domain": False, "valuePattern": True, "meaning": True, "all": False,
                       "minimum": False, "mig": False, "exists": False, "source": True}, row)
        domain = r.get("domain", "open")
        if domain not in DOMAINS:
            raise c.doc.fail(at + ("domain",), f"{c.name(at)}.domain: {domain!r} is not one of {', '.join(DOMAINS)}")
        if domain == "closed" and "all" not in r:
            raise c.doc.fail(at, f"{c.name(at)} (domain closed) needs all: every value the label takes")
        minimum = r.get("minimum", 2)
        if not isinstance(minimum, int) or isinstance(minimum, bool):
            raise c.doc.fail(at + ("minimum",), f"{c.name(at)}.minimum must be an integer")
        labels.append(SharingLabel(c.text(at + ("label",), r["label"]), c.regex(at + ("valuePattern",), r["valuePattern"]),
                                   c.text(at + ("meaning",), r["meaning"]), domain,
                                   c.strs(at + ("all",), r.get("all", []), True), minimum, c.flag(r, at, "mig", False),
                                   c.flag(r, at, "exists", False), c.source(r, at)))
    for i, lab in enumerate(labels):
        for j in range(i):
            if (labels[j].label, labels[j].value.pattern) == (lab.label, lab.value.pattern):
                raise c.doc.fail(sa + ("labels", i), f"duplicate sharing label {lab.label!r} with valuePattern "
                                                     f"{lab.value.pattern!r} (also at line {c.doc.line(sa + ('labels', j))})")
    converted = []
    if "converted" in s:
        ca = sa + ("converted",)
        cm = c.free(ca)
        for name, row in cm.items():
            at = ca + (name,)
            r = c.obj(at, {"parameters": True, "driverGate": False, "source": True}, row)
            if not isinstance(r["parameters"], dict) or not r["parameters"]:
                raise c.doc.fail(at + ("parameters",), f"{c.name(at)}.parameters must be a non-empty mapping")
            converted.append(OpaqueSharing(name, dict(r["parameters"]), c.opt_str(r, at, "driverGate"), c.source(r, at)))
    consumable = None
    if "consumable" in s:
        ca = sa + ("consumable",)
        r = c.obj(ca, {"capacity": True, "request": True, "driverGate": False, "minDriver": False, "helmValue": False,
                       "source": True})
        cap = c.text(ca + ("capacity",), r["capacity"])
        if cap not in capacities or not capacities[cap].consumable:
            raise c.doc.fail(ca + ("capacity",), f"sharing.consumable.capacity {cap!r} is not a consumable capacity")
        consumable = Consumable(cap, c.text(ca + ("request",), str(r["request"])), c.opt_str(r, ca, "driverGate"),
                                c.opt_str(r, ca, "minDriver"), c.source(r, ca), c.opt_str(r, ca, "helmValue"))
    return Sharing(tuple(labels), tuple(converted), consumable, c.opt_str(s, sa, "reported"))


# ---- several profiles: duplicates across files ---------------------------------------------------

def _owners(p: VendorProfile) -> Iterable[tuple[str, str, int | None]]:
    """(what, value, line) a profile claims; two profiles may not claim the same one."""
    doc_line = _LINES.get(p.path, {})
    yield "vendor", p.vendor, doc_line.get(("vendor",))
    yield "driver", p.driver, doc_line.get(("driver",))
    for i, c in enumerate(p.device_classes):
        yield "DeviceClass", c.name, doc_line.get(("deviceClasses", i))
        if c.extended_resource_name:
            yield "extendedResourceName", c.extended_resource_name, doc_line.get(("deviceClasses", i))
    for r in p.resources:
        if r.name is not None:
            yield "resource name", r.name, r.line
    for i, lr in enumerate(p.node_labels):
        yield "node label", lr.label or (lr.key_pattern.pattern if lr.key_pattern else ""), doc_line.get(("nodeLabels", i))
    for i, f in enumerate(p.label_families):
        yield "label family", f, doc_line.get(("labelFamilies", "prefixes", i))
    for i, lab in enumerate(p.cutover_labels):
        yield "cutover label", lab, doc_line.get(("cutoverLabels", "labels", i))
    for i, s in enumerate(p.sharing.labels):
        yield "sharing label", f"{s.label} ~ {s.value.pattern}", doc_line.get(("sharing", "labels", i))
    for i, k in enumerate(p.annotation_requests):
        yield "annotation request", k, doc_line.get(("annotationRequests", "keys", i))
    for fr in p.foreign:
        for name in fr.resources:
            yield "foreign resource", name, None


_LINES: dict[str, dict[Path_, int]] = {}


def load_profile(path: str | Path) -> VendorProfile:
    doc = _read(Path(path))
    _LINES[doc.path] = doc.lines
    return _profile(doc)


def load_profiles(paths: Iterable[str | Path]) -> Profiles:
    """Load and check ``paths`` together: a duplicate across them names both places."""
    profiles: list[VendorProfile] = []
    claimed: dict[tuple[str, str], tuple[str, int | None]] = {}
    for path in paths:
        p = load_profile(path)
        for what, value, line in _owners(p):
            other = claimed.get((what, value))
            if other is not None and other[0] != p.path:
                where = f"{other[0]}:{other[1]}" if other[1] else other[0]
                raise VendorError(p.path, line, f"duplicate {what} {value!r} (also in {where})")
            claimed.setdefault((what, value), (p.path, line))
        for q in profiles:
            _cross(p, q)
        profiles.append(p)
    return Profiles(tuple(profiles))


def _cross(p: VendorProfile, q: VendorProfile) -> None:
    """Overlaps no key equality catches: resource namespaces, and names one file's pattern matches."""
    for i, a in enumerate(p.resource_prefixes):
        for b in q.resource_prefixes:
            if a.startswith(b) or b.startswith(a):
                raise VendorError(p.path, _LINES.get(p.path, {}).get(("resourcePrefixes", i)),
                                  f"duplicate resource prefix: {a!r} overlaps {b!r} of {q.path} (vendor {q.vendor})")
    for x, y in ((p, q), (q, p)):
        for r in x.resources:
            if r.name is None:
                continue
            hit = next((o for o in y.resources if o.pattern is not None and o.pattern.match(r.name)), None)
            if hit is not None:
                raise VendorError(p.path, r.line if x is p else hit.line,
                                  f"duplicate resource: {r.name!r} of {x.path} is matched by a pattern of {y.path} "
                                  f"(line {hit.line})")


@functools.cache
def builtin_profiles(directory: str | None = None) -> Profiles:
    """The profiles shipped in ``rules/vendors/`` (sorted by file name)."""
    from migrator.data import rules_dir

    base = Path(directory) if directory else rules_dir() / "vendors"
    return load_profiles(sorted(base.glob("*.yaml")))
