"""The rule tables in ``rules/*.yaml``, loaded once and checked.

The tables are data: what a resource name means, where pod specs sit in each kind. Loading
rejects duplicate kinds (pluto's CombineAdditionalVersions does the same) so that two rows
can never silently disagree.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


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
    name: str | None
    pattern: re.Pattern[str] | None
    device_class: str
    selector: str | None
    profile_replace: tuple[str, str] | None


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


def rules_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if (candidate / "workloads.yaml").is_file():
            return candidate
    raise FileNotFoundError("rules/ tables not found next to the migrator package")


def _load(path: Path) -> Any:
    with path.open("rb") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def load_tables(directory: str | None = None) -> Tables:
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
    devices = []
    for row in res["devices"]:
        repl = row.get("profileFromResource")
        devices.append(DeviceRule(
            name=row.get("name"),
            pattern=re.compile(row["pattern"]) if "pattern" in row else None,
            device_class=row["deviceClassName"],
            selector=row.get("selector"),
            profile_replace=(repl["replace"], repl["with"]) if repl else None,
        ))
    return Tables(
        workloads=workloads,
        non_pod=non_pod,
        devices=tuple(devices),
        unknown_device=re.compile(res["unknownDevicePattern"]),
        shared_resources=frozenset(res["sharedResources"]),
        hami_resources=frozenset(res["hami"]["resources"]),
        hami_annotations=frozenset(res["hami"]["annotations"]),
        annotation_requests=frozenset(res["annotationRequests"]),
        placeholders=tuple(re.compile(p) for p in res["placeholders"]),
        sharing_labels=tuple(SharingLabel(r["label"], re.compile(r["valuePattern"]), r["meaning"],
                                          r.get("domain", "open"), tuple(r.get("all") or ()),
                                          int(r.get("minimum", 2)), bool(r.get("mig")), bool(r.get("exists")))
                             for r in res["sharingLabels"]),
        triggers=tuple(res["triggers"]),
        source=base,
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
