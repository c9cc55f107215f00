"""``dra-migrate preview``: a pull-request comment (or JSON) describing what the migration changes.

One section per workload: the semantic diff (paths as helm-diff/dyff print them:
``spec.template.spec.containers[name=vllm].resources.limits``; GPU requests removed, claims and
tolerations added, node labels moved) and the unified diff hunks of that workload in a
collapsible block. The comment always fits its size limit (GitHub: 65,536 characters) and is
valid markdown at any size: it is assembled from whole blocks (a list item, a workload's
section), never cut inside one, and when blocks are left out a note says how many and where the
full report is. Lines of Secret objects are never printed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode

from migrator.text.documents import str_at, to_python
from migrator.errors import InvalidInput
from migrator.markdown import code, fenced, text
from migrator.mode import Mode
from migrator.model import Finding, Status

GITHUB_COMMENT_LIMIT = 65_536
#: The smallest comment size that always holds the summary and the truncation note.
MIN_CHARS = 1_000
MARKER = "<!-- dra-migrate-preview -->"
SECRET_KINDS = {"Secret", "SealedSecret", "ExternalSecret"}
#: Items of each list shown in a size-limited comment at most (the rest are counted in the note).
LIST_CAP = {"risks": 50, "errors": 50, "manual": 200}


@dataclass(frozen=True)
class WorkloadPreview:
    file: str
    workload: str
    changes: tuple[str, ...]
    diff: str
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Preview:
    workloads: tuple[WorkloadPreview, ...]
    templates: int
    manual: tuple[Finding, ...]
    errors: tuple[str, ...]
    risks: tuple[str, ...] = field(default=())


def _doc_ranges(docs: Any) -> list[tuple[int, int, str, bool]]:
    """(first line, last line (exclusive), label, is_secret) of every object, 0-based lines."""
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
    from migrator.text.linediff import grouped_opcodes

    for group in grouped_opcodes(a, b, 3):
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


# ---- semantic diff (dyff-style paths) ---------------------------------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
#: The fields dyff identifies list entries by (homeport/dyff pkg/dyff: name, key, id), in order.
_IDENTIFIERS = ("name", "key", "id")


def _key_path(path: str, key: Any) -> str:
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, default=str)}]"


def _identifier(a: list[Any], b: list[Any]) -> str | None:
    """The field that names every entry of both lists uniquely, if there is one."""
    for ident in _IDENTIFIERS:
        ok = True
        for items in (a, b):
            names = [x.get(ident) if isinstance(x, dict) else None for x in items]
            if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
                ok = False
                break
        if ok:
            return ident
    return None


def _entry_path(path: str, ident: str, name: str) -> str:
    shown = name if re.fullmatch(r"[^\]\[\s\"=]+", name) else json.dumps(name)
    return f"{path}[{ident}={shown}]"


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # YAML 1 and true are different values


def _walk(a: Any, b: Any, path: str, out: list[tuple[str, str, Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                out.append(("removed", _key_path(path, k), a[k], None))
            else:
                _walk(a[k], b[k], _key_path(path, k), out)
        for k in b:
            if k not in a:
                out.append(("added", _key_path(path, k), None, b[k]))
    elif isinstance(a, list) and isinstance(b, list):
        ident = _identifier(a, b)
        if ident is not None:  # named entries are matched by name, as kubectl and dyff do
            by_name = {x[ident]: x for x in b}
            old_names = {x[ident] for x in a}
            for x in a:
                p = _entry_path(path, ident, x[ident])
                if x[ident] in by_name:
                    _walk(x, by_name[x[ident]], p, out)
                else:
                    out.append(("removed", p, x, None))
            for x in b:
                if x[ident] not in old_names:
                    out.append(("added", _entry_path(path, ident, x[ident]), None, x))
            return
        for i in range(max(len(a), len(b))):
            p = f"{path}[{i}]"
            if i >= len(b):
                out.append(("removed", p, a[i], None))
            elif i >= len(a):
                out.append(("added", p, None, b[i]))
            else:
                _walk(a[i], b[i], p, out)
    elif not _same(a, b):
        out.append(("changed", path, a, b))


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def diff_paths(before: Any, after: Any) -> list[tuple[str, str, Any, Any]]:
    """(added|removed|changed, path, old value, new value) of every change, in document order."""
    found: list[tuple[str, str, Any, Any]] = []
    _walk(before, after, "", found)
    return found


def semantic_changes(before: Any, after: Any) -> list[str]:
    """One line per change: ``added `path`: `value` `` (markdown)."""
    lines = []
    for label, path, old, new in diff_paths(before, after):
        shown = f"{_shown(old)} -> {_shown(new)}" if label == "changed" else _shown(old if label == "removed" else new)
        lines.append(f"{label} {code(path or '(the whole object)')}: {code(shown)}")
    return lines


def build_preview(files: list[tuple[str, str]], mode: Mode) -> Preview:
    from migrator.k8s.pairing import key_of, migrate

    workloads: list[WorkloadPreview] = []
    manual: list[Finding] = []
    errors: list[str] = []
    templates = 0
    for path, text in files:  # noqa: F402  (markdown's text() is not used in this function)
        try:
            migrated = migrate(text, path, mode)
        except InvalidInput as exc:
            errors.append(str(exc))
            continue
        result = migrated.result
        manual += [f for f in result.findings if f.status in (Status.MANUAL, Status.SKIPPED)]
        if result.text == text:
            continue
        ranges = _doc_ranges(migrated.docs_before)
        secrets = [(s, e) for s, e, _, secret in ranges if secret]
        before_objs = {label: to_python(d.root) for (s, e, label, _), d in
                       zip(ranges, [d for d in migrated.docs_before if isinstance(d.root, MappingNode)])}
        after_objs: dict[str, Any] = {}
        for d in migrated.docs_after:
            if isinstance(d.root, MappingNode):
                obj = to_python(d.root)
                after_objs[key_of(obj).label] = obj  # as _doc_ranges labels it (metadata of any shape)
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
            changes = semantic_changes(before_objs.get(label), after_objs.get(label)) if label in before_objs else []
            findings = tuple(f for f in result.findings if f.workload == label)
            workloads.append(WorkloadPreview(path, label, tuple(changes), "\n".join(by_label.get(label, [])),
                                             findings))
    return Preview(tuple(workloads), templates, tuple(manual), tuple(errors))


# ---- markdown ---------------------------------------------------------------------------------

def _section(w: WorkloadPreview) -> str:
    blocks = [f"### {code(w.workload)} ({text(w.file)})"]
    notes = [f"- {f.status.value} **{text(f.code)}**: {text(f.message)}"
             for f in w.findings if f.status is not Status.CONVERTED]
    if notes:
        blocks.append("\n".join(notes))
    if w.changes:
        blocks.append("\n\n".join(["<details><summary>semantic changes</summary>",
                                    "\n".join(f"- {c}" for c in w.changes), "</details>"]))
    if w.diff:
        blocks.append("\n\n".join(["<details><summary>unified diff</summary>", fenced(w.diff, "diff"),
                                    "</details>"]))
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class _Group:
    """A run of blocks shown whole or left out one by one from the end: opening, items, closing."""

    name: str  #: how the note counts what was left out ("" for the workload sections)
    opening: str
    items: tuple[str, ...]
    closing: str
    cap: int | None = None


def _note(limit: int, groups: list[_Group], shown: dict[str, int] | None, where: str) -> str:
    """The truncation note; ``shown`` None gives the longest it can be (every count at its widest)."""
    parts = []
    for g in groups:
        total = len(g.items)
        left = total if shown is None else total - shown[g.name]
        if not left:
            continue
        if g.name:
            parts.append(f"{left} of {total} {g.name} were left out")
        else:
            parts.insert(0, f"this comment shows {total - left if shown else total} of {total} workloads; "
                            f"{left} workload(s) were left out")
    return (f"**Truncated:** to stay within the {limit:,}-character limit, {'; '.join(parts)}. "
            f"The full report is in {where}.\n")


def to_markdown(p: Preview, limit: int | None = GITHUB_COMMENT_LIMIT, full_report: str | None = None) -> str:
    """The comment, at most ``limit`` characters (None: everything). ``full_report`` is how the
    truncation note names the full report (markdown). Raises ValueError below MIN_CHARS."""
    if limit is not None and limit < MIN_CHARS:
        raise ValueError(f"a comment needs at least {MIN_CHARS:,} characters (got {limit:,})")
    migrated = len({(w.file, w.workload) for w in p.workloads})
    head = [MARKER, "## dra-migrate: device plugin → DRA", "",
            f"- **{migrated}** workload(s) migrated, **{p.templates}** ResourceClaimTemplate(s) created",
            f"- **{len(p.manual)}** item(s) need manual action or were skipped"]
    if p.errors:
        head.append(f"- **{len(p.errors)}** file(s) could not be processed")
    groups = [
        _Group("rollout risks", "- rollout risks (from the cluster snapshot):\n", tuple(f"  - {text(r)}\n" for r in p.risks),
               "", LIST_CAP["risks"]),
        _Group("items needing manual action", "\n<details><summary>needs manual action / skipped</summary>\n\n",
               tuple(f"- {code(f.location())} {text(f.workload)}: **{text(f.code)}** {text(f.message)}\n"
                     for f in p.manual), "\n</details>\n", LIST_CAP["manual"]),
        _Group("errors", "\n", tuple(f"- error: {code(e)}\n" for e in p.errors), "", LIST_CAP["errors"]),
        _Group("", "", tuple("\n" + _section(w) for w in p.workloads), ""),
    ]
    out = "\n".join(head) + "\n"
    full = out + "".join(g.opening + "".join(g.items) + g.closing for g in groups if g.items)
    if limit is None or len(full) <= limit:
        return full
    shown = {g.name: 0 for g in groups}
    where = full_report or "the job's step summary"
    reserve = len(_note(limit, groups, None, where)) + 1
    if len(out) + reserve > limit:
        where = "the full report"
        reserve = len(_note(limit, groups, None, where)) + 1
    for g in groups:
        for item in g.items[: g.cap]:
            room = limit - reserve - len(g.closing) - (0 if shown[g.name] else len(g.opening))
            if len(out) + len(item) > room:
                break
            out += (g.opening if not shown[g.name] else "") + item
            shown[g.name] += 1
        if shown[g.name]:
            out += g.closing
    if any(shown[g.name] < len(g.items) for g in groups):
        out += "\n" + _note(limit, groups, shown, where)
    assert len(out) <= limit, (len(out), limit)
    return out


def to_json(p: Preview) -> dict[str, Any]:
    return {
        "summary": {"workloads": len(p.workloads), "templates": p.templates, "manual": len(p.manual),
                    "errors": len(p.errors), "risks": list(p.risks)},
        "workloads": [{"file": w.file, "workload": w.workload, "changes": list(w.changes), "diff": w.diff,
                       "findings": [{"code": f.code, "status": f.status.value, "message": f.message}
                                    for f in w.findings]} for w in p.workloads],
        "manual": [{"file": f.path, "line": f.line, "workload": f.workload, "code": f.code,
                    "status": f.status.value, "message": f.message} for f in p.manual],
        "errors": list(p.errors),
    }
