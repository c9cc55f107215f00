"""Project configuration: ``[tool.dra-migrate]`` in pyproject.toml, or ``.dra-migrate.yaml``.

The nearest file from the current directory upwards wins (the search stops at the directory
holding ``.git``). Keys: ``include`` and ``exclude`` (glob patterns matched against paths),
``namespaces`` (only objects in these namespaces are migrated; ``default`` also matches objects
without one), and defaults for the command-line flags (``kube-version``, ``templates``,
``keep-node-labels``, ``sharing``, ``convert-unknown``, ``gitops``, ``migration-path``), which flags given on the
command line override, and ``vendor-files``: the project's own vendor profiles (rules/vendors/README.md),
paths relative to the config file's directory and inside it, read as if each were given with
``--vendor-file`` (before those given on the command line).

The file is read like a manifest (regular files only, bounded, UTF-8, YAML composed safely with
the alias cap) and every value is checked: a wrong type or an unknown key is a one-line error
naming the file, the line and the key. ``null`` means "not set". Versions are strings: in YAML an
unquoted ``kube-version: 1.40`` is taken as the text ``1.40`` (never the float 1.4); TOML keeps
no source text, so there it must be quoted.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.errors import InvalidInput
from migrator.mode import OPTIONS

CONFIG_FILE = ".dra-migrate.yaml"
#: the flags' defaults, by the same table as the command line and KRM (migrator/mode.py OPTIONS)
FLAG_KEYS = tuple(o.config for o in OPTIONS)
LIST_KEYS = ("include", "exclude", "namespaces", "vendor-files")
KEYS = (*LIST_KEYS, *FLAG_KEYS)
BOOL_KEYS = tuple(o.config for o in OPTIONS if o.kind == "bool")
CHOICES = {o.config: o.choices for o in OPTIONS if o.kind == "choice"}
# Namespace names are RFC 1123 DNS labels
# (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names).
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Config:
    source: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    flags: dict[str, Any] = field(default_factory=dict)
    #: ``vendor-files``, resolved against the config file's directory
    vendor_files: tuple[str, ...] = ()

    def selected(self, path: str) -> bool:
        p = path.replace("\\", "/")
        if self.include and not any(fnmatch.fnmatch(p, g) or fnmatch.fnmatch(Path(p).name, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatch(p, g) or fnmatch.fnmatch(p, f"*/{g}") for g in self.exclude)


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return f"a boolean ({str(v).lower()})"
    if isinstance(v, (int, float)):
        return f"a number ({v!r})"
    if isinstance(v, str):
        return f"a string ({v[:40]!r})"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return f"a {type(v).__name__}"  # TOML dates and times


def _check(key: str, value: Any, text: str | None, toml: bool) -> Any:
    """The value of ``key`` when it has the right type; a ValueError saying what is wrong otherwise.

    ``text`` is the source text of an unquoted YAML scalar (versions are read from it).
    """
    if key in LIST_KEYS:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ValueError(f"expected a string or a list of strings, got {_kind(value)}")
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise ValueError(f"item {i + 1}: expected a string, got {_kind(item)}")
            if key == "namespaces" and not _DNS_LABEL.fullmatch(item):
                raise ValueError(f"{item[:64]!r} is not a namespace name (an RFC 1123 label)")
            if key == "vendor-files" and (not item.strip() or os.path.isabs(item)):
                raise ValueError(f"item {i + 1}: expected a path relative to this file, got {item[:64]!r}")
        return tuple(items)
    if key in BOOL_KEYS:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_kind(value)}")
        return value
    if key in CHOICES:
        if not isinstance(value, str) or value not in CHOICES[key]:
            raise ValueError(f"expected one of {', '.join(CHOICES[key])}, got {_kind(value)}")
        return value
    # kube-version
    from migrator.errors import MigratorError
    from migrator.mode import KUBE_VERSIONS, api_version_for

    if not isinstance(value, str):
        if text is None or isinstance(value, bool):
            hint = f'; quote it: {key} = "1.35"' if toml else f'; quote it: {key}: "1.35"'
            raise ValueError(f"expected a version string, got {_kind(value)}{hint}")
        value = text  # the scalar as written: 1.40, not the float 1.4
    try:
        api_version_for(value)
    except MigratorError as exc:
        raise ValueError(str(exc).replace("--kube-version ", "", 1)) from None
    if value not in KUBE_VERSIONS:  # the same choices as --kube-version
        raise ValueError(f"{value}: expected one of {', '.join(KUBE_VERSIONS)}")
    return value


def _build(entries: list[tuple[str, Any, str | None, int | None]], source: str, toml: bool) -> Config:
    values: dict[str, Any] = {}
    line_of: dict[str, int | None] = {}
    for key, value, text, line in entries:
        line_of[key] = line
        if key not in KEYS:
            raise InvalidInput(source, line, f"unknown setting {key[:60]!r} (known: {', '.join(KEYS)})")
        if value is None:  # null: not set
            continue
        try:
            values[key] = _check(key, value, text, toml)
        except ValueError as exc:
            raise InvalidInput(source, line, f"{key}: {exc}") from None
    vendor_files = tuple(_inside(source, p, line_of.get("vendor-files")) for p in values.pop("vendor-files", ()))
    return Config(source, values.pop("include", ()), values.pop("exclude", ()), values.pop("namespaces", ()),
                  values, vendor_files)


def _inside(source: str, path: str, line: int | None) -> str:
    """``path`` against the config file's directory; never a file outside it (a repository's config
    must not make the tool read, and print in an error, what lies outside the repository)."""
    base = os.path.realpath(os.path.dirname(os.path.abspath(source)))
    real = os.path.realpath(os.path.join(base, path))
    if os.path.commonpath([base, real]) != base:
        raise InvalidInput(source, line, f"vendor-files: {path[:64]!r} is outside {base}: not read")
    return os.path.join(os.path.dirname(source), path)


def _from_yaml(text: str, source: str) -> Config:
    from yaml.nodes import MappingNode, ScalarNode

    from migrator.text.documents import MERGE_TAG, parse, to_python

    roots = [d.root for d in parse(text, source) if d.root is not None]
    if not roots:
        return Config(source)
    if len(roots) > 1:
        raise InvalidInput(source, roots[1].start_mark.line + 1, "expected one YAML document")
    root = roots[0]
    if not isinstance(root, MappingNode):
        raise InvalidInput(source, root.start_mark.line + 1, "expected a mapping of settings")
    entries = []
    for k, v in root.value:
        line = k.start_mark.line + 1
        if k.tag == MERGE_TAG:
            raise InvalidInput(source, line, "merge keys (<<) are not supported here")
        plain = v.value if isinstance(v, ScalarNode) and not v.style else None  # '' (libyaml) or None: plain
        entries.append((str(k.value), to_python(v), plain, line))
    return _build(entries, source, toml=False)


_TABLE = re.compile(r'^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*(?:"dra-migrate"|\'dra-migrate\'|dra-migrate)[ \t]*\]', re.M)


def _toml_line(text: str, key: str) -> int | None:
    """The line of ``key`` in the ``[tool.dra-migrate]`` table, when written the usual way."""
    m = _TABLE.search(text)
    if m is None:
        return None
    start = text.count("\n", 0, m.start()) + 1
    lines = text[m.end():].split("\n")[1:]
    pat = re.compile(rf'^[ \t]*(?:{re.escape(key)}|"{re.escape(key)}"|\'{re.escape(key)}\')[ \t]*=')
    for i, line in enumerate(lines):
        if re.match(r"^[ \t]*\[", line):
            return None
        if pat.match(line):
            return start + 1 + i
    return None


def _from_toml(table: Any, text: str, source: str) -> Config:
    if not isinstance(table, dict):
        m = re.search(r"^[ \t]*(?:tool[ \t]*\.[ \t]*)?[\"']?dra-migrate[\"']?[ \t]*=", text, re.M)
        line = text.count("\n", 0, m.start()) + 1 if m else None
        raise InvalidInput(source, line, "[tool.dra-migrate] must be a table")
    entries: list[tuple[str, Any, str | None, int | None]] = [(str(k), v, None, _toml_line(text, str(k)))
                                                              for k, v in table.items()]
    return _build(entries, source, toml=True)


def _read(path: Path, project: Path) -> str | None:
    """The text of a config file (None: not there); a symlink out of the project is not read.

    Read like an input (regular files only, bounded): a FIFO would hang every command, and a
    link to a file outside the repository could print its contents in a CI log.
    """
    from migrator.text.sources import decode, read_bytes

    p = str(path)
    if not os.path.lexists(p):
        return None
    if os.path.islink(p):
        real = os.path.realpath(p)
        root = str(project.resolve())
        if os.path.commonpath([root, real]) != root:
            raise InvalidInput(p, None, f"symlink to {real}, outside the project ({root}): not read")
    data, _ = read_bytes(p)
    if path.name == "pyproject.toml" and b"dra-migrate" not in data:
        return None  # cheap: no table of ours, no decoding or TOML parse on every commit
    return decode(data, p)[0]


def load_config(start: Path | None = None) -> Config:
    here = (start or Path.cwd()).resolve()
    chain = [here, *here.parents]
    top = next((d for d in chain if (d / ".git").exists()), None)
    for d in chain:
        project = top if top is not None and d.is_relative_to(top) else d
        yml = d / CONFIG_FILE
        text = _read(yml, project)
        if text is not None:
            return _from_yaml(text, str(yml))
        py = d / "pyproject.toml"
        text = _read(py, project)
        if text is not None:
            import tomllib

            try:
                tool = tomllib.loads(text).get("tool")
            except tomllib.TOMLDecodeError as exc:
                at = re.search(r"at line (\d+)", str(exc))
                raise InvalidInput(str(py), int(at.group(1)) if at else None, f"invalid TOML: {exc}") from None
            if isinstance(tool, dict) and "dra-migrate" in tool:
                return _from_toml(tool["dra-migrate"], text, str(py))
        if d == top:
            break
    return Config()


def default_map(config: Config) -> dict[str, dict[str, Any]]:
    """Click's default_map: the config's flag defaults for every command that has the flag."""
    values = {k.replace("-", "_"): v for k, v in config.flags.items()}
    commands = ("rewrite", "scan", "verify", "plan", "preview", "post-render")
    return {c: dict(values) for c in commands}
