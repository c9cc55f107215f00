"""Line diffs whose cost grows with the size of the texts, not its square.

``difflib.SequenceMatcher`` looks for the longest match again inside every gap it leaves, which
is quadratic on files made of many near-identical documents (4,000 Deployments in one file took
31 s to diff). Here lines that occur exactly once on both sides and in the same order anchor the
match (the patience idea); only the small gaps between anchors go to ``SequenceMatcher``, and a
gap without anchors too big for it becomes one replaced block (still a correct diff).
"""

from __future__ import annotations

import bisect
import difflib
from typing import Any, Iterator, Sequence

#: Largest gap (lines before x lines after) handed to SequenceMatcher.
_GAP_LIMIT = 250_000

Block = tuple[int, int, int]  # a[i:i+n] == b[j:j+n]


def _unique_anchors(a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int,
                    bhi: int) -> list[tuple[int, int]]:
    """(i, j) of lines unique on both sides, longest run in the same order (patience LIS)."""
    count: dict[str, int] = {}
    where_a: dict[str, int] = {}
    for i in range(alo, ahi):
        line = a[i]
        count[line] = count.get(line, 0) + 1
        where_a[line] = i
    seen_b: dict[str, int] = {}
    where_b: dict[str, int] = {}
    for j in range(blo, bhi):
        line = b[j]
        if count.get(line) == 1:
            seen_b[line] = seen_b.get(line, 0) + 1
            where_b[line] = j
    pairs = sorted((where_a[line], where_b[line]) for line, n in seen_b.items() if n == 1)
    if not pairs:
        return []
    # longest increasing subsequence of the j's (O(n log n))
    tails: list[int] = []
    tail_at: list[int] = []
    back: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_at.append(k)
        else:
            tails[pos] = j
            tail_at[pos] = k
        back[k] = tail_at[pos - 1] if pos else -1
    out: list[tuple[int, int]] = []
    k = tail_at[-1]
    while k != -1:
        out.append(pairs[k])
        k = back[k]
    out.reverse()
    return out


def matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[Block]:
    """Non-overlapping equal runs in increasing order, ending with ``(len(a), len(b), 0)``."""
    found: list[Block] = []
    stack = [(0, len(a), 0, len(b))]
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        i, j = alo, blo
        while i < ahi and j < bhi and a[i] == b[j]:
            i += 1
            j += 1
        if i > alo:
            found.append((alo, blo, i - alo))
        i2, j2 = ahi, bhi
        while i2 > i and j2 > j and a[i2 - 1] == b[j2 - 1]:
            i2 -= 1
            j2 -= 1
        if i2 < ahi:
            found.append((i2, j2, ahi - i2))
        if i == i2 or j == j2:
            continue
        anchors = _unique_anchors(a, b, i, i2, j, j2)
        if anchors:
            pi, pj = i, j
            for ai, bj in anchors:
                stack.append((pi, ai, pj, bj))
                found.append((ai, bj, 1))
                pi, pj = ai + 1, bj + 1
            stack.append((pi, i2, pj, j2))
        elif (i2 - i) * (j2 - j) <= _GAP_LIMIT:
            sm = difflib.SequenceMatcher(None, a[i:i2], b[j:j2], autojunk=False)
            found.extend((i + x, j + y, n) for x, y, n in sm.get_matching_blocks() if n)
    found.sort()
    merged: list[Block] = []
    for i, j, n in found:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            pi, pj, pn = merged[-1]
            merged[-1] = (pi, pj, pn + n)
        else:
            merged.append((i, j, n))
    merged.append((len(a), len(b), 0))
    return merged


def grouped_opcodes(a: Sequence[str], b: Sequence[str], context: int = 3
                    ) -> Iterator[list[tuple[str, int, int, int, int]]]:
    """``SequenceMatcher.get_grouped_opcodes`` over :func:`matching_blocks`."""
    sm: Any = difflib.SequenceMatcher(None, (), (), autojunk=False)  # its internals are set below
    sm.a, sm.b = a, b
    sm.matching_blocks = matching_blocks(a, b)
    sm.opcodes = None
    return sm.get_grouped_opcodes(context)


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1
    if length == 1:
        return f"{first}"
    if not length:
        first -= 1
    return f"{first},{length}"


def unified(a: Sequence[str], b: Sequence[str], fromfile: str, tofile: str,
            context: int = 3) -> Iterator[str]:
    """Unified diff lines (as ``difflib.unified_diff`` with empty dates and ``lineterm='\\n'``)."""
    started = False
    for group in grouped_opcodes(a, b, context):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b[j1:j2])
