"""The linear line diff: every diff it prints is a correct patch, for any pair of texts."""

from __future__ import annotations

import difflib
import re

from hypothesis import given, settings, strategies as st

from migrator.text.linediff import matching_blocks, unified
from migrator.output import unified_diff

# few distinct lines, so that repeats (the hard case for anchoring) are common
LINES = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "- name: x\n", "  gpu: 1\n", "\n", "---\n"]), max_size=60)


def apply_unified(a: list[str], diff: list[str]) -> list[str]:
    """Apply a unified diff (as `patch` would, strictly: context must match)."""
    out: list[str] = []
    pos = 0
    hunks = [i for i, line in enumerate(diff) if line.startswith("@@")]
    for k, h in enumerate(hunks):
        m = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", diff[h])
        assert m
        start, length = int(m.group(1)), int(m.group(2) or 1)
        start = start - 1 if length else start
        out.extend(a[pos:start])
        pos = start
        for line in diff[h + 1: hunks[k + 1] if k + 1 < len(hunks) else len(diff)]:
            tag, body = line[0], line[1:]
            if tag in " -":
                assert a[pos] == body, (pos, a[pos], body)
                pos += 1
            if tag in " +":
                out.append(body)
    out.extend(a[pos:])
    return out


@settings(max_examples=400, deadline=None)
@given(LINES, LINES)
def test_diff_is_a_correct_patch(a: list[str], b: list[str]) -> None:
    blocks = matching_blocks(a, b)
    for i, j, n in blocks:
        assert a[i:i + n] == b[j:j + n]
    assert blocks[-1] == (len(a), len(b), 0)
    diff = list(unified(a, b, "a/x", "b/x"))
    if a == b:
        assert diff == []
    else:
        assert apply_unified(a, diff[2:]) == b


@settings(max_examples=200, deadline=None)
@given(LINES, LINES)
def test_as_small_as_difflib_when_lines_are_unique(a: list[str], b: list[str]) -> None:
    """With every line unique, anchoring finds the same common lines as difflib."""
    a = [f"{k}:{x}" for k, x in enumerate(a)]
    b = [f"{k}:{x}" for k, x in enumerate(b)]
    ours = sum(n for _, _, n in matching_blocks(a, b))
    theirs = sum(n for _, _, n in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    assert ours == theirs


def test_many_similar_documents_diff_only_what_changed() -> None:
    """4,000 near-identical documents (the quadratic case for difflib): one hunk per edit."""
    doc = "kind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  gpu: 2\n  cpu: 8\n  a: 1\n  b: 2\n  c: 3\n"
    before = "---\n".join(doc.format(i=i) for i in range(4000))
    after = before.replace("  gpu: 2\n", "  claims: [gpu]\n")
    diff = unified_diff(before, after, "x.yaml")
    assert diff.count("@@ -") == 4000
    assert apply_unified(before.splitlines(True), diff.splitlines(True)[2:]) == after.splitlines(True)
