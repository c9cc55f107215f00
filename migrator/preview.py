"""``dra-migrate preview``: a pull-request comment (or JSON) describing what the migration changes.

One section per workload: the semantic diff (deepdiff paths: GPU requests removed, claims and
tolerations added, node labels moved) and the unified diff hunks of that workload in a
collapsible block. The comment always fits GitHub's 65,536-character limit: when it must cut,
it says so in words, how many workloads were left out, and where the full report is. Lines of
Secret objects are never printed.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode

from migrator.documents import parse, str_at, to_python
from migrator.engine import migrate_text
from migrator.errors import InvalidInput
from migrator.mode import Mode
from migrator.model import Finding, Status

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- dra-migrate-preview -->"
SECRET_KINDS = {"Secret", "SealedSecret", "ExternalSecret"}


@dataclass
class WorkloadPreview:
    file: str
    workload: str
    changes: list[str]
    diff: str
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Preview:
    workloads: list[WorkloadPreview]
    templates: int
    manual: list[Finding]
    errors: list[str]
    risks: list[str] = field(default_factory=list)


def _doc_ranges(text: str, path: str) -> list[tuple[int, int, str, bool]]:
    """(first line, last line (exclusive), label, is_secret) of every object, 0-based lines."""
    docs = parse(text, path)
    out: list[tuple[int, int, str, bool]] = []
    for d in docs:
        if not isinstance(d.root, MappingNode):
            continue
        kind = str_at(d.root, "kind") or ""
        ns = str_at(d.root, "metadata", "namespace")
        name = str_at(d.root, "metadata", "name") or str_at(d.root, "metadata", "generateName") or "<unnamed>"
        label = f"{kind} {ns + '/' if ns else ''}{name}"
        out.append((d.root.start_mark.line, d.root.end_mark.line + 1, label, kind in SECRET_KINDS))
    return out


def _hunks(before: str, after: str) -> list[tuple[int, list[str]]]:
    """Unified-diff hunks as (first original line, lines), 3 lines of context."""
    a, b = before.splitlines(), after.splitlines()
    out: list[tuple[int, list[str]]] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        lines = [f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@"]
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                lines += [" " + line for line in a[x1:x2]]
            if tag in ("replace", "delete"):
                lines += ["-" + line for line in a[x1:x2]]
            if tag in ("replace", "insert"):
                lines += ["+" + line for line in b[y1:y2]]
        out.append((i1, lines))
    return out


def _redact(lines: list[str], first: int, secrets: list[tuple[int, int]]) -> list[str]:
    """Context lines inside Secret objects become a placeholder (changed lines never are Secrets)."""
    out, line_no = [], first
    for line in lines:
        if line.startswith("@@"):
            out.append(line)
            continue
        if line[:1] in (" ", "-") and any(s <= line_no < e for s, e in secrets):
            if not out or out[-1] != "  # (Secret content not shown)":
                out.append("  # (Secret content not shown)")
        else:
            out.append(line)
        if line[:1] in (" ", "-"):
            line_no += 1
    return out


def _semantic(before: Any, after: Any) -> list[str]:
    from deepdiff import DeepDiff  # heavy: only here

    diff = DeepDiff(before, after, ignore_order=False, verbose_level=2)
    changes: list[str] = []
    for kind, label in (("dictionary_item_removed", "removed"), ("dictionary_item_added", "added"),
                        ("iterable_item_removed", "removed"), ("iterable_item_added", "added"),
                        ("values_changed", "changed")):
        items = diff.get(kind) or {}
        for path, value in sorted(items.items()):
            if kind == "values_changed":
                shown = f"{json.dumps(value['old_value'], default=str)} -> {json.dumps(value['new_value'], default=str)}"
            else:
                shown = json.dumps(value, default=str)
            if len(shown) > 300:
                shown = shown[:297] + "..."
            changes.append(f"{label} `{path.replace('root', '', 1)}`: {shown}")
    return changes


def build_preview(files: list[tuple[str, str]], mode: Mode) -> Preview:
    from migrator.equivalence import _label

    workloads: list[WorkloadPreview] = []
    manual: list[Finding] = []
    errors: list[str] = []
    templates = 0
    for path, text in files:
        try:
            result = migrate_text(text, path, mode)
        except InvalidInput as exc:
            errors.append(str(exc))
            continue
        manual += [f for f in result.findings if f.status in (Status.MANUAL, Status.SKIPPED)]
        if result.text == text:
            continue
        ranges = _doc_ranges(text, path)
        secrets = [(s, e) for s, e, _, secret in ranges if secret]
        before_objs = {label: to_python(d.root) for (s, e, label, _), d in
                       zip(ranges, [d for d in parse(text, path) if isinstance(d.root, MappingNode)])}
        after_objs: dict[str, Any] = {}
        for d in parse(result.text, path):
            if isinstance(d.root, MappingNode):
                obj = to_python(d.root)
                after_objs[_label(obj)] = obj  # as _doc_ranges labels it (metadata of any shape)
        kinds_before = sum(1 for label in before_objs if label.startswith("ResourceClaimTemplate "))
        kinds_after = sum(1 for label in after_objs if label.startswith("ResourceClaimTemplate "))
        templates += kinds_after - kinds_before + len(result.templates)
        by_label: dict[str, list[str]] = {}
        for first, lines in _hunks(text, result.text):
            changed = first + next((i for i, line in enumerate(lines[1:]) if line[:1] in "+-"), 0)
            # the object the first changed line belongs to (inserted templates follow their workload)
            owner = next((label for s, e, label, _ in reversed(ranges) if s <= changed), None)
            owner = owner or (ranges[0][2] if ranges else path)
            by_label.setdefault(owner, []).extend(_redact(lines, first, secrets))
        converted = {f.workload for f in result.findings if f.status is Status.CONVERTED}
        for label in sorted(set(by_label) | converted, key=lambda x: (x not in converted, x)):
            changes = _semantic(before_objs.get(label), after_objs.get(label)) if label in before_objs else []
            findings = [f for f in result.findings if f.workload == label]
            workloads.append(WorkloadPreview(path, label, changes, "\n".join(by_label.get(label, [])), findings))
    return Preview(workloads, templates, manual, errors)


def _section(w: WorkloadPreview) -> str:
    out = [f"### `{w.workload}` ({w.file})", ""]
    for f in w.findings:
        if f.status is not Status.CONVERTED:
            out.append(f"- {f.status.value} **{f.code}**: {f.message}")
    if w.changes:
        out += ["", "<details><summary>semantic changes</summary>", ""]
        out += [f"- {c}" for c in w.changes] + ["", "</details>"]
    if w.diff:
        out += ["", "<details><summary>unified diff</summary>", "", "```diff", w.diff, "```", "", "</details>"]
    return "\n".join(out) + "\n"


def to_markdown(p: Preview, limit: int = GITHUB_COMMENT_LIMIT, full_report: str | None = None) -> str:
    migrated = len({(w.file, w.workload) for w in p.workloads})
    head = [MARKER, "## dra-migrate: device plugin → DRA", "",
            f"- **{migrated}** workload(s) migrated, **{p.templates}** ResourceClaimTemplate(s) created",
            f"- **{len(p.manual)}** item(s) need manual action or were skipped"]
    if p.errors:
        head.append(f"- **{len(p.errors)}** file(s) could not be processed")
    if p.risks:
        head += ["- rollout risks (from the cluster snapshot):"] + [f"  - {r}" for r in p.risks]
    head.append("")
    if p.manual:
        head += ["<details><summary>needs manual action / skipped</summary>", ""]
        head += [f"- `{f.location()}` {f.workload}: **{f.code}** {f.message}" for f in p.manual[:200]]
        if len(p.manual) > 200:
            head.append(f"- ... and {len(p.manual) - 200} more")
        head += ["", "</details>", ""]
    for e in p.errors[:50]:
        head.append(f"- error: `{e}`")
    text = "\n".join(head) + "\n"
    sections = [_section(w) for w in p.workloads]
    where = full_report or "the job's step summary"
    note_room = 400
    body: list[str] = []
    used = len(text)
    shown = 0
    for s in sections:
        if used + len(s) + note_room > limit:
            break
        body.append(s)
        used += len(s)
        shown += 1
    out = text + "\n".join(body)
    if shown < len(sections):
        out += (f"\n**Truncated:** this comment shows {shown} of {len(sections)} workloads to stay within "
                f"GitHub's {limit:,}-character limit; {len(sections) - shown} workload(s) were left out. "
                f"The full report is in {where}.\n")
    return out[:limit]


def to_json(p: Preview) -> dict[str, Any]:
    return {
        "summary": {"workloads": len(p.workloads), "templates": p.templates, "manual": len(p.manual),
                    "errors": len(p.errors), "risks": p.risks},
        "workloads": [{"file": w.file, "workload": w.workload, "changes": w.changes, "diff": w.diff,
                       "findings": [{"code": f.code, "status": f.status.value, "message": f.message}
                                    for f in w.findings]} for w in p.workloads],
        "manual": [{"file": f.path, "line": f.line, "workload": f.workload, "code": f.code,
                    "status": f.status.value, "message": f.message} for f in p.manual],
        "errors": p.errors,
    }

