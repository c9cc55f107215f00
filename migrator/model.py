"""Values that cross module boundaries: findings, per-pod plans' outputs, per-file results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(str, enum.Enum):
    """What happened to a pod spec (or, for INFO, something worth knowing about it)."""

    CONVERTED = "converted"
    SKIPPED = "skipped"  #: deliberately left alone (not a GPU request we may rewrite)
    MANUAL = "manual"  #: needs a person: we cannot tell what the right DRA form is
    INFO = "info"  #: converted or left alone, plus something the reviewer should know


class FixSafety(str, enum.Enum):
    """ruff's applicability: SAFE fixes keep semantics and are applied by default; UNSAFE ones may
    change what a pod gets and are applied only when the user opts in (``--sharing``); DISPLAY
    ones are shown, never applied; NONE means the rule only reports."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY = "display-only"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """The Kubernetes object a finding is about, as written: no namespace is filled in (kustomize,
    Helm or ``kubectl -n`` may set it later), so an unset one stays None."""

    kind: str
    name: str | None
    namespace: str | None = None
    api_version: str = ""

    @property
    def label(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name or '<unnamed>'}"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    status: Status
    message: str
    path: str = ""
    line: int | None = None
    obj: ObjectRef | None = None  #: None for findings about a file (symlinks) or Python code
    where: str = ""  #: the pod spec's path inside the object
    container: str | None = None  #: set when the finding is about one container
    #: a converted pod behaves differently in a way the user must accept (where it lands, what it
    #: shares): shown by default, not only with --verbose
    warn: bool = False
    #: KEP-5004 for a converted pod, or one left for it: (could keep its manifest, why); scan --format json
    kep5004: tuple[bool, str] | None = None

    @property
    def workload(self) -> str:
        """``Kind namespace/name``: the label of the text listings (and a key in older JSON)."""
        return self.obj.label if self.obj is not None else ""

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """One request of a ResourceClaimTemplate (API-version independent)."""

    name: str
    device_class: str
    count: int
    selectors: tuple[str, ...] = ()
    resource: str = ""  #: the device-plugin resource it replaces
    #: firstAvailable: (subrequest name, extra selectors) in preference order; empty = `exactly`
    alternatives: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: capacity.requests: (capacity name, quantity), e.g. (("shares", "1"),) for consumable shares
    capacity: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SideFile:
    """A file written beside an input (``--templates file``): only together with its input."""

    path: str  #: where it is written (a symlink inside the root: its target)
    text: str  #: its full new text
    before: str = ""  #: its text when read ("" when it did not exist)
    mtime_ns: int | None = None  #: when it was read; None: it did not exist (nor may it when written)


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one input: exactly one per file."""

    path: str
    before: str | None
    after: str | None  #: None when failed; == before when unchanged
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    extra_files: tuple[SideFile, ...] = field(default=())
    mtime_ns: int | None = None  #: when it was read (a file changed since is not overwritten)
    bom: bool = False  #: it started with a UTF-8 byte-order mark (kept on write)
    not_read: bool = False  #: found by the walk but not read (a symlink out of the root): not a file of the run

    @property
    def changed(self) -> bool:
        return self.error is None and self.after is not None and self.after != self.before
