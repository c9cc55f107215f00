"""Rendering results: unified diffs, text and JSON listings."""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
from typing import Any, Callable

from migrator.model import FileResult, Finding, Status
from migrator.report import Report


_GIT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
                "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _git_quote(name: str) -> str:
    """A diff header name as git writes it (quote.c quote_c_style): names with control characters,
    a double quote or a backslash are C-quoted, other bytes octal-escaped; plain names as they are."""
    if not any(c in _GIT_ESCAPES or ord(c) < 0x20 or ord(c) == 0x7f for c in name):
        return name
    out = []
    for c in name:
        if c in _GIT_ESCAPES:
            out.append(_GIT_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7f:
            out.append(f"\\{ord(c):03o}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def diff_name(path: str) -> str:
    """The path as `git apply` reads it from a diff header: relative, normalised, "/"-separated.

    git apply rejects ``a/./x`` and ``a/x/../y``; an absolute path under the working directory is
    made relative to it (where git apply is run), any other loses its leading "/".
    """
    p = path.replace(os.sep, "/")
    if os.path.isabs(path):
        try:
            rel = os.path.relpath(path)
        except ValueError:  # another drive
            rel = ""
        if rel and not rel.startswith(".."):
            p = rel.replace(os.sep, "/")
    p = posixpath.normpath(p)
    return p.lstrip("/")


def unified_diff(before: str | None, after: str, path: str) -> str:
    """A unified diff `git apply` accepts; ``before`` None: the file is created (``--- /dev/null``)."""
    a = (before or "").splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    name = diff_name(path)
    from migrator.text.linediff import unified

    lines = list(unified(a, b, "/dev/null" if before is None else _git_quote(f"a/{name}"), _git_quote(f"b/{name}")))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


#: status label -> colour (term.Painter styles)
LABEL_STYLE = {"manual": "yellow", "warning": "yellow", "skipped": "dim", "info": "cyan", "converted": "green"}


def shown_by_default(f: Finding) -> bool:
    """Printed without --verbose: what needs a person, what was left alone, and behaviour changes."""
    return f.warn or f.status in (Status.SKIPPED, Status.MANUAL)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` on one line with no control characters (escaped as ``\\xNN``): names and paths come
    from the scanned repository, and a newline or ESC in them must not start a line of its own in a
    CI log (``::error ...`` is a GitHub workflow command) or drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def finding_line(f: Finding, paint: Callable[[str, str], str] | None = None) -> str:
    who = f" {f.workload}" if f.workload else ""
    label = "warning" if f.warn else f.status.value
    if paint is not None:
        label = paint(label, LABEL_STYLE[label])
    return printable(f"{f.location()}: ") + label + printable(f" {f.code}{who}: {f.message}")


def text_listing(report: Report, verbose: bool = True) -> str:
    out: list[str] = []
    for r in report.results:
        if r.error:
            out.append(r.error)
        for f in r.findings:
            if verbose or shown_by_default(f):
                out.append(finding_line(f))
                # scan's answer per converted pod: could it keep its manifest (KEP-5004)?
                if verbose and f.kep5004 is not None and f.status is Status.CONVERTED:
                    out.append(printable(f"  KEP-5004: {f.kep5004[1] if f.kep5004[0] else 'must be rewritten: ' + f.kep5004[1]}"))
    return "\n".join(out) + ("\n" if out else "")


#: Version of the ``scan --format json`` layout (migrator/scan.schema.json); bumped when a field
#: changes meaning or goes away, not when one is added.
JSON_SCHEMA_VERSION = 2


@functools.cache
def _rule_names() -> dict[str, str]:
    from migrator.transforms import BY_CODE

    return {code: rule.NAME for code, rule in BY_CODE.items()}


def finding_json(f: Finding, names: dict[str, str] | None = None) -> dict[str, Any]:
    """One finding as typed fields (README "scan --format json"); ``code``, ``message`` and
    ``workload`` repeat ``rule``, ``reason`` and the object for readers of schema version 1."""
    names = _rule_names() if names is None else names
    obj = f.obj
    return {"rule": f.code, "ruleName": names.get(f.code, ""), "status": f.status.value, "reason": f.message,
            "file": f.path, "line": f.line,
            "apiVersion": obj.api_version if obj else None, "kind": obj.kind if obj else None,
            "namespace": obj.namespace if obj else None, "name": obj.name if obj else None,
            "container": f.container, "podSpec": f.where,
            "code": f.code, "message": f.message, "workload": f.workload,
            **({"kep5004": {"eligible": f.kep5004[0], "reason": f.kep5004[1]}} if f.kep5004 is not None else {})}


def json_report(report: Report, exit_code: int | None = None, fail_on: str | None = None) -> str:
    names = _rule_names()
    files: list[dict[str, Any]] = []
    for r in report.results:
        files.append({"file": r.path, "changed": r.changed, "error": r.error,
                      "findings": [finding_json(f, names) for f in r.findings]})
    c = report.pod_counts()  # the same counts as the text summary line
    summary: dict[str, Any] = {
        "files": len(report.results) - report.links,
        "filesChanged": len(report.changed),
        "filesFailed": len(report.failures),
        **{s.value: c[s.value] for s in Status},
        "symlinksNotFollowed": report.links,
    }
    if fail_on is not None:
        summary["failOn"] = fail_on
        summary["failing"] = len(report.failing(fail_on))
    data = {
        "schemaVersion": JSON_SCHEMA_VERSION,
        "files": files,
        "summary": summary,
        "exitCode": report.return_code if exit_code is None else exit_code,
    }
    return json.dumps(data, indent=2) + "\n"


def _status_counts(counts: Any) -> str:
    return ", ".join(f"{status} {n}" if len(counts) > 1 else status for status, n in sorted(counts.items()))


def statistics_text(report: Report) -> str:
    """One line per code found, most frequent first: count, code, name, statuses (ruff --statistics)."""
    rows = report.statistics()
    if not rows:
        return ""
    names = _rule_names()
    width = len(str(rows[0][1]))
    name_width = max(len(names.get(code, "")) for code, _, _ in rows)
    return "".join(f"{n:>{width}}\t{code}\t{names.get(code, ''):<{name_width}}\t{_status_counts(c)}\n"
                   for code, n, c in rows)


def statistics_json(report: Report) -> str:
    from migrator.transforms import BY_CODE

    return json.dumps([{"code": code, "name": BY_CODE[code].NAME if code in BY_CODE else "", "count": n,
                        "statuses": dict(sorted(c.items())),
                        "fix": BY_CODE[code].FIX.value if code in BY_CODE else None}
                       for code, n, c in report.statistics()], indent=2) + "\n"


# ---- GitHub workflow commands ------------------------------------------------------------------
# Escaping as the runner unescapes (actions/runner src/Runner.Common/ActionCommand.cs,
# _escapeDataMappings and _escapePropertyMappings; the same as actions/toolkit
# packages/core/src/command.ts): data escapes %, CR and LF; property values also ':' and ','.
# '%' goes first so the escapes it introduces are not escaped again.

def github_escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_escape_property(text: str) -> str:
    return github_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(level: str, message: str, file: str = "", line: int | None = None, title: str = "") -> str:
    """``::level file=F,line=N,title=T::message`` on one line, or without properties it cannot carry.

    The runner splits the properties on ',' and each on its first '=' dropping empty pieces, and
    trims the whole properties string (TryParseV2), so a file name that starts with '=' or with or
    ends in white space (no escape exists for either) would be misread: such a file goes into the
    message instead, and such a title is left out.
    """
    props: list[str] = []
    if _representable(title):
        props.append(f"title={github_escape_property(title)}")
    if _representable(file):
        props.append(f"file={github_escape_property(file)}")
        if line:
            props.append(f"line={line}")
    elif file:
        message = f"{file}:{line}: {message}" if line else f"{file}: {message}"
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{github_escape_data(message)}"


def _representable(value: str) -> bool:
    return bool(value) and not value.startswith("=") and value.strip() == value


def github_annotations(report: Report, failing: frozenset[Status] = frozenset()) -> str:
    """One annotation per finding and per unprocessable file: error for what fails the gate (and
    for files), warning for the other pods needing manual action, notice for the rest."""
    out: list[str] = []
    for r in report.results:
        if r.error:
            out.append(github_command("error", r.error, artifact_path(r.path), title="dra-migrate"))
        for f in r.findings:
            level = "error" if f.status in failing else "warning" if f.status is Status.MANUAL else "notice"
            who = f"{f.workload}: " if f.workload else ""
            message = f"{f.status.value}: {who}{f.message}"
            out.append(github_command(level, message, artifact_path(f.path), f.line, _title(f.code)))
    return "".join(line + "\n" for line in out)


def _title(code: str) -> str:
    name = _rule_names().get(code)
    return f"{code} ({name})" if name else code


def artifact_path(path: str) -> str:
    """A path as code scanning and annotations want it: relative to the working directory (the
    checkout) when it is inside it, without a leading ``./``; stdin is no file."""
    import os

    if path in ("-", "<stdin>"):
        return ""
    if os.path.isabs(path):
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            path = rel
    while path.startswith("./"):
        path = path[2:]
    return path


def result_error_line(r: FileResult) -> str:
    return r.error or ""


SARIF_LEVEL = {Status.MANUAL: "warning", Status.SKIPPED: "note", Status.INFO: "note", Status.CONVERTED: "note"}


def sarif_report(report: Report) -> str:
    """SARIF 2.1.0 (OASIS): one run, the rules with their documentation, a result per finding."""
    from migrator import __version__
    from migrator.transforms import BY_CODE

    rules = []
    for code in sorted(BY_CODE):
        rule = BY_CODE[code]
        doc = (rule.__doc__ or "").strip()
        rules.append({"id": code, "name": rule.NAME, "shortDescription": {"text": rule.SUMMARY},
                      "fullDescription": {"text": doc.split("\n\n", 1)[0]},
                      "help": {"text": doc, "markdown": doc}})
    results: list[dict[str, Any]] = []
    for r in report.results:
        if r.error:
            results.append({"ruleId": "GPU900", "level": "error", "message": {"text": r.error},
                            "locations": [_location(r.path, None)]})
        for f in r.findings:
            results.append({"ruleId": f.code, "level": SARIF_LEVEL[f.status],
                            "message": {"text": f"{f.workload}: {f.message}" if f.workload else f.message},
                            "locations": [_location(f.path, f.line)],
                            "properties": {"status": f.status.value, "podSpec": f.where,
                                           **_object_properties(f)}})
    sarif = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
             "runs": [{"tool": {"driver": {"name": "dra-migrate", "version": __version__,
                                           "informationUri": "https://github.com/dra-migrate/dra-migrate",
                                           "rules": rules}},
                       "results": results}]}
    return json.dumps(sarif, indent=2) + "\n"


def _object_properties(f: Finding) -> dict[str, Any]:
    obj = f.obj
    props: dict[str, Any] = {}
    if obj is not None:
        props.update(apiVersion=obj.api_version, kind=obj.kind, name=obj.name, namespace=obj.namespace)
    if f.container:
        props["container"] = f.container
    return props


def _location(path: str, line: int | None) -> dict[str, Any]:
    # lstrip("./") would also eat the dots of "../x" and ".hidden/x"
    loc: dict[str, Any] = {"artifactLocation": {"uri": artifact_path(path) or path}}
    if line:
        loc["region"] = {"startLine": line}
    return {"physicalLocation": loc}
