"""Project configuration: ``[tool.dra-migrate]`` in pyproject.toml, or ``.dra-migrate.yaml``.

The nearest file from the current directory upwards wins. Keys: ``include`` and ``exclude``
(glob patterns matched against paths), ``namespaces`` (only objects in these namespaces are
migrated; ``default`` also matches objects without one), and defaults for the command-line flags
(``kube-version``, ``templates``, ``keep-node-labels``, ``sharing``, ``convert-unknown``,
``gitops``), which flags given on the command line override.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from migrator.errors import MigratorError

FLAG_KEYS = ("kube-version", "templates", "keep-node-labels", "sharing", "convert-unknown", "gitops")


@dataclass(frozen=True)
class Config:
    source: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    flags: dict[str, Any] = field(default_factory=dict)

    def selected(self, path: str) -> bool:
        p = path.replace("\\", "/")
        if self.include and not any(fnmatch.fnmatch(p, g) or fnmatch.fnmatch(Path(p).name, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatch(p, g) or fnmatch.fnmatch(p, f"*/{g}") for g in self.exclude)


def _from(data: dict[str, Any], source: str) -> Config:
    unknown = set(data) - {"include", "exclude", "namespaces", *FLAG_KEYS}
    if unknown:
        raise MigratorError(f"{source}: unknown setting(s): {', '.join(sorted(unknown))}")

    def globs(key: str) -> tuple[str, ...]:
        v = data.get(key) or []
        return tuple([v] if isinstance(v, str) else [str(x) for x in v])

    return Config(source, globs("include"), globs("exclude"), globs("namespaces"),
                  {k: data[k] for k in FLAG_KEYS if k in data})


def load_config(start: Path | None = None) -> Config:
    here = (start or Path.cwd()).resolve()
    for d in [here, *here.parents]:
        yml = d / ".dra-migrate.yaml"
        if yml.is_file():
            try:
                data = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise MigratorError(f"{yml}: invalid YAML: {str(exc).splitlines()[0]}") from None
            if not isinstance(data, dict):
                raise MigratorError(f"{yml}: expected a mapping")
            return _from(data, str(yml))
        py = d / "pyproject.toml"
        if py.is_file():
            raw = py.read_text(encoding="utf-8")
            if "dra-migrate]" not in raw:  # cheap: no table of ours, no TOML parse on every commit
                if (d / ".git").exists():
                    break
                continue
            import tomllib

            try:
                tool = tomllib.loads(raw).get("tool", {})
            except tomllib.TOMLDecodeError as exc:  # noqa: F821 - imported just above
                raise MigratorError(f"{py}: {exc}") from None
            if "dra-migrate" in tool:
                return _from(dict(tool["dra-migrate"]), str(py))
        if (d / ".git").exists():
            break
    return Config()


def default_map(config: Config) -> dict[str, dict[str, Any]]:
    """Click's default_map: the config's flag defaults for every command that has the flag."""
    values = {k.replace("-", "_"): v for k, v in config.flags.items()}
    commands = ("rewrite", "scan", "verify", "plan", "preview", "post-render")
    return {c: dict(values) for c in commands}
