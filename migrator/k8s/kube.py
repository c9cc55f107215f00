"""What a Kubernetes release serves and which gates it turns on by default (``rules/kubernetes.yaml``).

Versions are ``1.35`` (a minor: its .0 release) or ``1.35.4`` (a patch); a gate range given as a
minor covers all of its patches.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from migrator.errors import MigratorError

Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    """``1.35``, ``v1.35.4``, ``v1.35.4-gke.100`` -> (1, 35, 4); a bad one is a MigratorError."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?", text.strip())
    if not m:
        raise MigratorError(f"{text!r}: expected a Kubernetes version such as 1.35 or v1.35.4")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _minor(text: str) -> tuple[int, int]:
    major, minor, _ = parse_version(text)
    return major, minor


@dataclass(frozen=True, slots=True)
class Api:
    name: str
    introduced: tuple[int, int]
    deprecated: tuple[int, int] | None
    removed: tuple[int, int] | None
    default: bool  #: served without --runtime-config

    def served(self, v: Version) -> bool:
        return self.introduced <= v[:2] and (self.removed is None or v[:2] < self.removed)

    def is_deprecated(self, v: Version) -> bool:
        return self.deprecated is not None and self.deprecated <= v[:2]


@dataclass(frozen=True, slots=True)
class Gate:
    name: str
    on: tuple[tuple[Version, Version | None, bool], ...]  #: (from, to, to-is-a-minor)
    what: str
    since: Version = (0, 0, 0)  #: the first release that has the gate (alpha, off by default)

    def exists(self, v: Version) -> bool:
        return v[:2] >= self.since[:2]

    def enabled(self, v: Version) -> bool:
        for lo, hi, hi_minor in self.on:
            if v < lo:
                continue
            if hi is None or (v[:2] <= hi[:2] if hi_minor else v <= hi):
                return True
        return False

    def first(self) -> str:
        lo = self.on[0][0] if self.on else None
        return f"{lo[0]}.{lo[1]}" if lo and lo[2] == 0 else (".".join(map(str, lo)) if lo else "never")


@dataclass(frozen=True, slots=True)
class Releases:
    apis: tuple[Api, ...]  #: oldest first
    gates: dict[str, Gate]

    def api(self, name: str) -> Api | None:
        return next((a for a in self.apis if a.name == name), None)

    def write_version(self, target: str) -> str:
        """The resource.k8s.io version the rewrite writes for ``target``: the newest it has."""
        v = parse_version(target)
        served = [a for a in self.apis if a.served(v) and a.name != "resource.k8s.io/v1alpha3"]
        if not served:
            raise MigratorError(f"--kube-version {target}: structured DRA needs Kubernetes 1.32 or newer")
        return served[-1].name

    def gate(self, name: str, target: str) -> bool:
        return self.gates[name].enabled(parse_version(target))


@functools.lru_cache(maxsize=1)
def releases() -> Releases:
    import yaml

    from migrator.tables import rules_dir  # rules/ beside the source tree, or packaged as migrator/_rules

    # libyaml's parser, as for the other tables: every rewrite builds its Mode from this file (the
    # pre-commit hook too), and the pure-Python one took most of a commit's start-up
    data = yaml.load((rules_dir() / "kubernetes.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    apis = []
    for name, a in data["apis"].items():
        apis.append(Api(name, _minor(a["introduced"]), _minor(a["deprecated"]) if a.get("deprecated") else None,
                        _minor(a["removed"]) if a.get("removed") else None, bool(a["default"])))
    gates = {}
    for name, g in data["gates"].items():
        ranges = []
        for lo, hi in g["enabled"]:
            ranges.append((parse_version(lo), None if hi is None else parse_version(hi),
                           hi is not None and hi.count(".") == 1))
        gates[name] = Gate(name, tuple(ranges), g["what"], parse_version(g.get("since") or "0.0"))
    return Releases(tuple(sorted(apis, key=lambda a: a.introduced)), gates)
