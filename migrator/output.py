"""Rendering results: unified diffs, text and JSON listings."""

from __future__ import annotations

import difflib
import json
import os
import posixpath
from typing import Any, Callable

from migrator.model import FileResult, Finding, Status
from migrator.report import Report


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
    lines = list(difflib.unified_diff(a, b, "/dev/null" if before is None else f"a/{name}", f"b/{name}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


#: status label -> colour (term.Painter styles)
LABEL_STYLE = {"manual": "yellow", "warning": "yellow", "skipped": "dim", "info": "cyan", "converted": "green"}


def shown_by_default(f: Finding) -> bool:
    """Printed without --verbose: what needs a person, what was left alone, and behaviour changes."""
    return f.warn or f.status in (Status.SKIPPED, Status.MANUAL)


def finding_line(f: Finding, paint: Callable[[str, str], str] | None = None) -> str:
    who = f" {f.workload}" if f.workload else ""
    label = "warning" if f.warn else f.status.value
    if paint is not None:
        label = paint(label, LABEL_STYLE[label])
    return f"{f.location()}: {label} {f.code}{who}: {f.message}"


def text_listing(report: Report, verbose: bool = True) -> str:
    out: list[str] = []
    for r in report.results:
        if r.error:
            out.append(r.error)
        for f in r.findings:
            if verbose or shown_by_default(f):
                out.append(finding_line(f))
    return "\n".join(out) + ("\n" if out else "")


def _finding_json(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "status": f.status.value, "message": f.message, "file": f.path,
            "line": f.line, "workload": f.workload, "podSpec": f.where}


def json_report(report: Report) -> str:
    files: list[dict[str, Any]] = []
    for r in report.results:
        files.append({"file": r.path, "changed": r.changed, "error": r.error,
                      "findings": [_finding_json(f) for f in r.findings]})
    c = report.counts()
    data = {
        "files": files,
        "summary": {
            "files": len(report.results),
            "filesChanged": len(report.changed),
            "filesFailed": len(report.failures),
            **{s.value: c[s.value] for s in Status},
        },
        "exitCode": report.return_code,
    }
    return json.dumps(data, indent=2) + "\n"


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
                            "properties": {"status": f.status.value, "podSpec": f.where}})
    rules.append({"id": "GPU000", "name": "converted", "shortDescription": {"text":
                  "A pod template converted to DRA claims"}})
    sarif = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
             "runs": [{"tool": {"driver": {"name": "dra-migrate", "version": __version__,
                                           "informationUri": "https://github.com/dra-migrate/dra-migrate",
                                           "rules": rules}},
                       "results": results}]}
    return json.dumps(sarif, indent=2) + "\n"


def _location(path: str, line: int | None) -> dict[str, Any]:
    loc: dict[str, Any] = {"artifactLocation": {"uri": path.lstrip("./") if path.startswith("./") else path}}
    if line:
        loc["region"] = {"startLine": line}
    return {"physicalLocation": loc}
