"""The rule tables in ``rules/*.yaml``, loaded once and checked.

The tables are data: what a resource name means, where pod specs sit in each kind. Loading
rejects duplicate kinds (pluto's CombineAdditionalVersions does the same) so that two rows
can never silently disagree.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from migrator.data import rules_dir


@dataclass(frozen=True, slots=True)
class PodPath:
    path: tuple[str, ...]
    role: str | None


@dataclass(frozen=True, slots=True)
class WorkloadKind:
    group: str
    kind: str
    paths: tuple[PodPath, ...]
    convert: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class DeviceRule:
    """A device-plugin resource and the DRA request it becomes (a vendor profile's ``resources``
    row of kind whole or partition: rules/vendors/*.yaml)."""

    name: str | None
    pattern: re.Pattern[str] | None
    device_class: str
    selector: str | None
    profile_replace: tuple[str, str] | None
    vendor: str  #: the profile's ``vendor``
    kind: str = "whole"  #: whole | partition
    node_dependent: bool = False  #: what it is depends on the node (MIG strategy, sharing)


@dataclass(frozen=True, slots=True)
class SharingLabel:
    label: str
    value: re.Pattern[str]
    meaning: str
    domain: str = "open"  #: closed | integer | open (rules/resources.yaml)
    all: tuple[str, ...] = ()  #: closed: every value the label takes
    minimum: int = 2  #: integer: the smallest sharing value
    mig: bool = False  #: a MIG slice rather than a time-sliced/MPS share
    exists: bool = False  #: open: the label is only set on sharing nodes (Exists admits only them)


_MEMO_MAX = 65_536


@dataclass(frozen=True, slots=True)
class Tables:
    workloads: dict[tuple[str, str], WorkloadKind]
    non_pod: dict[tuple[str, str], str]
    devices: tuple[DeviceRule, ...]
    unknown_device: re.Pattern[str]
    shared_resources: frozenset[str]
    hami_resources: frozenset[str]
    hami_annotations: frozenset[str]
    annotation_requests: frozenset[str]
    placeholders: tuple[re.Pattern[str], ...]
    sharing_labels: tuple[SharingLabel, ...]
    triggers: tuple[str, ...]
    source: Path
    #: resource -> (vendor name, why, kind share|report): what a profile reports and never converts
    reported: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: every vendor's device-plugin resource namespaces (``nvidia.com/``, ``amd.com/``, ...)
    prefixes: tuple[str, ...] = ()
    vendors: Any = None  #: vendors.Profiles: the profiles the tables came from
    #: (pattern, vendor name, why) of the resources a profile reports as unknown (never guessed)
    unknown_rows: tuple[tuple[re.Pattern[str], str, str], ...] = ()
    #: ``nodes.resource`` -> its profile, for the profiles with ``sharing.labels`` (rows of
    #: ``sharing_labels``): those labels say what that resource is on a node (GPU011, GPU103)
    sharing_nodes: dict[str, Any] = field(default_factory=dict)
    #: memo of ``device_rule`` and ``is_gpu_name`` by text (bounded: texts come from the input)
    _memo: dict[tuple[int, str], Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def device_rule(self, resource: str) -> Any:
        """The ``devices`` row naming or matching ``resource`` (None: none), first match wins."""
        key = (0, resource)
        memo = self._memo
        if key in memo:
            return memo[key]
        hit = None
        for rule in self.devices:
            if rule.name == resource or (rule.pattern is not None and rule.pattern.match(resource)):
                hit = rule
                break
        if len(memo) < _MEMO_MAX:
            memo[key] = hit
        return hit

    def is_gpu_name(self, text: str) -> bool:
        """A GPU resource name: a device row's, a shared one, or one the unknown-device pattern matches."""
        key = (1, text)
        memo = self._memo
        got = memo.get(key)
        if got is None:
            got = self.device_rule(text) is not None or text in self.shared_resources or \
                bool(self.unknown_device.search(text))
            if len(memo) < _MEMO_MAX:
                memo[key] = got
        return got

    def _profiles(self) -> tuple[Any, ...]:
        return self.vendors.profiles if self.vendors is not None else ()

    def profile_of(self, resource: str) -> Any:
        """The profile with a ``resources`` row naming or matching ``resource`` (None: none)."""
        hit = self.vendors.for_resource(resource) if self.vendors is not None else None
        return hit[0] if hit is not None else None

    def unknown_row(self, resource: str) -> tuple[Any, Any] | None:
        """(profile, ``resources`` row of kind unknown) whose pattern matches ``resource``."""
        for p in self._profiles():
            for r in p.resources:
                if r.kind == "unknown" and r.pattern is not None and r.pattern.search(resource):
                    return p, r
        return None

    def strategy_profile(self, resource: str) -> Any:
        """The profile whose ``nodes.resource`` is ``resource`` and that has ``nodes.strategy`` and
        ``partitions``: a node's labels say whether the resource is a whole device or a partition
        there (migrator/proof/nodes.py; GPU001, GPU113). None for any other resource."""
        return next((p for p in self._profiles() if p.nodes is not None and p.nodes.resource == resource
                     and p.nodes.strategy is not None and p.partitions is not None), None)

    def node_profile(self) -> Any:
        """The profile of the resource whose meaning a node's labels and devices say
        (migrator/proof/nodes.py): the ``strategy_profile`` of the ``nodes.resource`` of the vendor that
        rules/nodes.yaml names (``vendor``)."""
        key = (2, "")
        memo = self._memo
        if key not in memo:
            vendor = str(_load(self.source / "nodes.yaml")["vendor"])
            prof = self.vendors.by_vendor(vendor) if self.vendors is not None else None
            memo[key] = self.strategy_profile(prof.nodes.resource) if prof is not None and prof.nodes else None
        return memo[key]

    def single_partition_profile(self) -> Any:
        """The profile whose whole resource is a partition on nodes whose ``nodes.partitionProduct``
        label matches ``partitions.productPattern`` (GPU009, GPU008), with its product label's
        ``nodeLabels`` row (the attribute and ``sanitize`` of the parent's product)."""
        return next((p for p in self._profiles() if p.nodes is not None and p.nodes.partition_product is not None
                     and p.partitions is not None and p.partitions.product_pattern is not None
                     and p.label_rule(p.nodes.partition_product.label) is not None), None)

    def vendor_of(self, resource: str) -> Any:
        """The profile whose resource namespaces hold ``resource`` (None: no profile knows it)."""
        for p in self.vendors.profiles if self.vendors is not None else ():
            if any(resource.startswith(x) for x in p.resource_prefixes):
                return p
        return None

    def vendors_of(self, resources: Any = (), classes: Any = ()) -> set[str]:
        """The vendors (profile ``vendor``) of device-plugin ``resources`` and of DeviceClass names:
        the one reading of "whose devices are these" that the plan's runbook and its node cut-overs
        share. Names no profile knows add nothing."""
        out = {p.vendor for r in resources if (p := self.vendor_of(r)) is not None}
        if self.vendors is not None:
            out |= {p.vendor for c in classes if (p := self.vendors.for_class(c)) is not None}
        return out




def _load(path: Path) -> Any:
    with path.open("rb") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


#: the user's vendor profiles for this run (``--vendor-file``): every load_tables() reads them
_ACTIVE_VENDOR_FILES: tuple[str, ...] = ()


def use_vendor_files(paths: tuple[str, ...]) -> None:
    """Make ``paths`` (``--vendor-file``) part of every table this process loads from now on, and
    check them at once (VendorError: one line naming the file and line)."""
    global _ACTIVE_VENDOR_FILES
    _ACTIVE_VENDOR_FILES = tuple(paths)
    if paths:  # the shipped profiles are loaded when first needed (a file that fails the pre-filter never does)
        load_tables()


def reset_vendor_files() -> None:
    """Back to the shipped profiles only (each CLI run starts so; tests call main() many times)."""
    global _ACTIVE_VENDOR_FILES
    _ACTIVE_VENDOR_FILES = ()


def active_vendor_files() -> tuple[str, ...]:
    return _ACTIVE_VENDOR_FILES


def triggers() -> tuple[str, ...]:
    """The pre-filter's strings without loading (and checking) the tables: the neutral ones of
    rules/resources.yaml and each vendor profile's ``triggers`` (a file containing none of them is
    never parsed: the pre-commit hook's path stays light). Once the tables are loaded, theirs."""
    files = _ACTIVE_VENDOR_FILES
    return _triggers(files)


def might_matter(text: str, triggers: tuple[str, ...], mode: Any = None) -> bool:
    """Cheap pre-filter: no trigger string, nothing to do (and no need to parse). A target older
    than 1.34 (``mode``: a mode.Mode) cannot read resource.k8s.io/v1 objects: those files matter
    too (GPU012 reports them)."""
    return any(t in text for t in triggers) or (
        mode is not None and mode.api_version != "resource.k8s.io/v1" and "resource.k8s.io/v1" in text)


def needs_rules(text: str, mode: Any) -> bool:
    """engine.migrate_text's first test, before the tables are loaded or the engine is imported
    (runner.py asks this first: a commit of files without GPUs imports neither)."""
    if mode.vendor_files != _ACTIVE_VENDOR_FILES:  # a worker process: the run's --vendor-file
        use_vendor_files(mode.vendor_files)
    return might_matter(text, triggers(), mode)


@functools.cache
def _triggers(vendor_files: tuple[str, ...]) -> tuple[str, ...]:
    base = rules_dir()
    out: list[str] = []
    for path in sorted((base / "vendors").glob("*.yaml")) + [Path(f) for f in vendor_files]:
        try:
            data = _load(path)
            out += [str(t) for t in (data.get("triggers") or [])] if isinstance(data, dict) else []
        except Exception:  # a broken user profile: load_tables() reports it; parse everything meanwhile
            return ("",)
    res = _load(base / "resources.yaml")
    return tuple(dict.fromkeys(out + list(res["triggers"])))


def resource_prefixes() -> tuple[str, ...]:
    """Every profile's ``resourcePrefixes`` without loading (and checking) the tables: the Python
    codemod's pre-filter (a file without any of them, or another trigger, is never parsed)."""
    return _resource_prefixes(_ACTIVE_VENDOR_FILES)


@functools.cache
def _resource_prefixes(vendor_files: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for path in sorted((rules_dir() / "vendors").glob("*.yaml")) + [Path(f) for f in vendor_files]:
        try:
            data = _load(path)
            out += [str(x) for x in (data.get("resourcePrefixes") or [])] if isinstance(data, dict) else []
        except Exception:  # a broken user profile: load_tables() reports it; parse everything meanwhile
            return ("",)
    return tuple(dict.fromkeys(out))


def load_tables(directory: str | None = None, vendor_files: tuple[str, ...] | None = None) -> Tables:
    """The tables of ``rules/`` (or ``directory``), the device rows from the vendor profiles in
    ``rules/vendors/`` and the user's ``vendor_files`` (default: ``use_vendor_files``'), checked
    together (a duplicate of a shipped profile's resource, class or label is an error)."""
    return _load_tables(directory, _ACTIVE_VENDOR_FILES if vendor_files is None else tuple(vendor_files))


@functools.cache
def _load_tables(directory: str | None, vendor_files: tuple[str, ...]) -> Tables:
    base = Path(directory) if directory else rules_dir()
    wl = _load(base / "workloads.yaml")
    res = _load(base / "resources.yaml")
    workloads: dict[tuple[str, str], WorkloadKind] = {}
    for row in wl["workloads"]:
        key = (row["group"], row["kind"])
        if key in workloads:
            raise ValueError(f"rules/workloads.yaml: duplicate row for {key}")
        paths = tuple(PodPath(tuple(p["path"].split(".")), p.get("role")) for p in row["paths"])
        workloads[key] = WorkloadKind(row["group"], row["kind"], paths,
                                      row.get("convert", True), row.get("reason"))
    non_pod: dict[tuple[str, str], str] = {}
    for row in wl.get("nonPod", []):
        key = (row["group"], row["kind"])
        if key in non_pod or key in workloads:
            raise ValueError(f"rules/workloads.yaml: duplicate row for {key}")
        non_pod[key] = row["reason"]
    from migrator.vendors import builtin_profiles, load_profiles

    profiles = builtin_profiles(str(base / "vendors")) if not vendor_files else \
        load_profiles(sorted((base / "vendors").glob("*.yaml")) + [Path(f) for f in vendor_files])
    # the default profile first: its rows were the only ones, and messages list the classes in this order
    ordered = profiles.first()
    devices: list[DeviceRule] = []
    unknown: list[str] = []
    unknown_rows: list[tuple[re.Pattern[str], str, str]] = []
    shared: set[str] = set()
    reported: dict[str, tuple[str, str, str]] = {}
    for prof in ordered:
        for r in prof.resources:
            if r.kind in ("whole", "partition") and r.device_class:
                devices.append(DeviceRule(r.name, r.pattern, r.device_class, r.selector, r.profile_replace,
                                          prof.vendor, r.kind, r.node_dependent))
            elif r.kind == "unknown" and r.pattern is not None:
                unknown.append(r.pattern.pattern)
                unknown_rows.append((r.pattern, prof.name, r.reason or "unknown"))
            elif r.kind == "share" and prof.sharing.converted and r.name:
                shared.add(r.name)  # a time-slicing/MPS replica: --sharing converts it (GPU011)
            elif r.name:
                reported[r.name] = (prof.name, r.reason or f"a {prof.name} resource with no DRA form", r.kind)
    triggers = tuple(dict.fromkeys([t for p in ordered for t in p.triggers] + list(res["triggers"])))
    return Tables(
        workloads=workloads,
        non_pod=non_pod,
        devices=tuple(devices),
        unknown_device=re.compile("|".join(f"(?:{u})" for u in unknown) or r"(?!)"),
        shared_resources=frozenset(shared),
        hami_resources=frozenset(r for p in ordered for f in p.foreign for r in f.resources),
        hami_annotations=frozenset(a for p in ordered for f in p.foreign for a in f.annotations),
        annotation_requests=frozenset(k for p in ordered for k in p.annotation_requests),
        placeholders=tuple(re.compile(p) for p in res["placeholders"]),
        # each profile's sharing.labels (the default one's first), then the clouds' (rules/resources.yaml)
        sharing_labels=tuple(SharingLabel(s.label, s.value, s.meaning, s.domain, s.all, s.minimum, s.mig, s.exists)
                             for p in ordered for s in p.sharing.labels)
        + tuple(SharingLabel(r["label"], re.compile(r["valuePattern"]), r["meaning"],
                             r.get("domain", "open"), tuple(r.get("all") or ()),
                             int(r.get("minimum", 2)), bool(r.get("mig")), bool(r.get("exists")))
                for r in res["sharingLabels"]),
        triggers=triggers,
        source=base,
        reported=reported,
        prefixes=tuple(x for p in ordered for x in p.resource_prefixes),
        vendors=profiles,
        unknown_rows=tuple(unknown_rows),
        sharing_nodes={p.nodes.resource: p for p in ordered if p.nodes is not None and p.sharing.labels},
    )


def is_placeholder(text: str, tables: Tables) -> bool:
    return any(p.search(text) for p in tables.placeholders)


@functools.cache
def gpu_operator() -> dict[str, Any]:
    """rules/gpu-operator.yaml: the GPU Operator's resources and install stacks (migrator/plan/topology.py)."""
    data = _load(rules_dir() / "gpu-operator.yaml")
    for name, row in data["stacks"].items():
        if row["object"] not in data["objects"]:
            raise ValueError(f"rules/gpu-operator.yaml: stack {name} names unknown object {row['object']}")
    return data
