"""Rendering results: unified diffs, text and JSON listings."""

from __future__ import annotations

import json
from typing import Any

from migrator.model import FileResult, Finding, Status
from migrator.report import Report


def unified_diff(before: str, after: str, path: str) -> str:
    a = before.splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    name = path.lstrip("/")
    from migrator.linediff import unified

    lines = list(unified(a, b, f"a/{name}", f"b/{name}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def finding_line(f: Finding) -> str:
    who = f" {f.workload}" if f.workload else ""
    return f"{f.location()}: {f.status.value} {f.code}{who}: {f.message}"


def text_listing(report: Report, verbose: bool = True) -> str:
    out: list[str] = []
    for r in report.results:
        if r.error:
            out.append(r.error)
        for f in r.findings:
            if verbose or f.status in (Status.SKIPPED, Status.MANUAL):
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
