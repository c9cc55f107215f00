"""Surgical text edits on composed YAML.

Edits are collected as operations on nodes (delete a key, add keys, append items, insert a
document) and turned into non-overlapping splices of the original text. Block collections are
edited line by line in the file's own layout; a flow collection (``{...}``/``[...]``) that needs
a change is re-rendered as one flow node, reusing the source text of every child it keeps.
Every byte outside the spliced spans is left as it was. Anything the splicer is not sure
about raises CannotEdit, and the caller reports the pod instead of guessing.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrator.text.documents import Layout, detect_layout
from migrator.errors import CannotEdit

_RESOLVER = yaml.resolver.Resolver()
_PLAIN = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./-]*$")


def scalar(value: Any, quote: bool = False) -> str:
    """A YAML scalar that reads back as ``value`` (plain when safe, else double-quoted)."""
    if isinstance(value, str):
        return _scalar_str(value, quote)
    return _scalar(value, quote)


@functools.lru_cache(maxsize=4096)
def _scalar_str(value: str, quote: bool) -> str:
    return _scalar(value, quote)


def _scalar(value: Any, quote: bool = False) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if not quote and _PLAIN.match(text) and _RESOLVER.resolve(ScalarNode, text, (True, False)) == \
            "tag:yaml.org,2002:str":
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any, quote: bool = False) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k, quote)}: {flow(v, quote)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v, quote) for v in value) + "]"
    return scalar(value, quote)


def block_entries(mapping: dict[str, Any], col: int, layout: Layout) -> list[str]:
    lines: list[str] = []
    pad = " " * col
    q = layout.quote_all
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{scalar(key, q)}:")
            lines.extend(block_entries(value, col + layout.indent, layout))
        elif isinstance(value, list) and value:
            lines.append(f"{pad}{scalar(key, q)}:")
            lines.extend(block_items(value, col + (layout.indent if layout.seq_indented else 0),
                                     layout))
        else:
            lines.append(f"{pad}{scalar(key, q)}: {flow(value, q)}")
    return lines


def block_items(values: list[Any], col: int, layout: Layout, offset: int = 2) -> list[str]:
    lines: list[str] = []
    dash = " " * col + "-" + " " * (offset - 1)
    for value in values:
        if isinstance(value, dict) and value:
            sub = block_entries(value, col + offset, layout)
            sub[0] = dash + sub[0][col + offset:]
            lines.extend(sub)
        elif isinstance(value, list) and value:
            sub = block_items(value, col + offset, layout)
            sub[0] = dash + sub[0][col + offset:]
            lines.extend(sub)
        else:
            lines.append(dash + flow(value, layout.quote_all))
    return lines


def with_comment(lines: list[str], comments: list[str]) -> list[str]:
    """Attach carried comments: the first on the first line, the rest on lines above it."""
    if not comments:
        return lines
    first = lines[0]
    col = len(first) - len(first.lstrip(" "))
    above = [" " * col + c for c in comments[1:]]
    return above + [f"{first}  {comments[0]}"] + lines[1:]


def comment_of(line: str) -> str | None:
    """The ``# comment`` that ends a YAML line, or None (quotes are honoured)."""
    quote: str | None = None
    prev = " "
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"" and prev in " \t:[{,-":
            quote = ch
        elif ch == "#" and prev in " \t":
            return line[i:].rstrip("\r\n").rstrip()
        prev = ch
    return None


def _copy(value: Any) -> Any:
    """A copy of plain data (dicts, lists, scalars): much cheaper than deepcopy."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if hasattr(value, "__deepcopy__"):
        return copy.deepcopy(value)
    return value


@dataclass
class _Ops:
    deletes: set[str] = field(default_factory=set)
    adds: list[tuple[str, Any, list[str]]] = field(default_factory=list)
    appends: list[tuple[Any, list[str]]] = field(default_factory=list)
    removes: set[int] = field(default_factory=set)  #: sequence item indexes to drop
    scalar: Any = None  #: new value for a scalar node (``replace``)
    replaced: bool = False


@dataclass(frozen=True, slots=True)
class Splice:
    start: int
    end: int
    text: str
    depth: int = 0  #: for insertions at one point: deeper nodes' text comes first


class Patch:
    """Operations on the nodes of one file, rendered into the file's text on demand."""

    def __init__(self, text: str, layout: Layout | None = None) -> None:
        self.text = text
        self._layout = layout
        self._ops: dict[int, _Ops] = {}
        self._nodes: dict[int, Node] = {}
        self._docs: list[tuple[Node, Any]] = []
        self._list_inserts: list[tuple[SequenceNode, int, Any]] = []
        self._parents: dict[int, Node] = {}
        self._paths: dict[int, tuple[int, tuple[Any, ...]]] = {}
        self._journal: dict[int, _Ops | None] | None = None
        self._kept: dict[tuple[int, int | str], list[str]] = {}  #: (id of the node, item index or key)

    @property
    def layout(self) -> Layout:
        """The file's layout, detected on first use: most files the engine parses get no edit."""
        if self._layout is None:
            self._layout = detect_layout(self.text)
        return self._layout

    # -- recording -------------------------------------------------------------------------

    def register_tree(self, root: Node, doc: int) -> None:
        """Record parents and paths under ``root`` (document ``doc``)."""
        if id(root) in self._paths:
            return
        self._paths[id(root)] = (doc, ())
        stack: list[tuple[Node, tuple[Any, ...]]] = [(root, ())]
        seen: set[int] = set()
        while stack:
            node, path = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            children: list[tuple[Node, Any]] = []
            if isinstance(node, MappingNode):
                children = [(v, k.value) for k, v in node.value if isinstance(k, ScalarNode)]
            elif isinstance(node, SequenceNode):
                children = [(v, i) for i, v in enumerate(node.value)]
            for child, step in children:
                self._parents.setdefault(id(child), node)
                self._paths.setdefault(id(child), (doc, path + (step,)))
                stack.append((child, path + (step,)))

    def snapshot(self) -> tuple[Any, ...]:
        """Start a transaction: later changes can be undone by ``restore`` (cost: what changes)."""
        self._journal = {}
        return (len(self._docs), len(self._list_inserts), set(self._kept))

    def restore(self, snap: tuple[Any, ...]) -> None:
        for nid, before in (self._journal or {}).items():
            if before is None:
                self._ops.pop(nid, None)
            else:
                self._ops[nid] = before
        del self._docs[snap[0]:]
        del self._list_inserts[snap[1]:]
        for key in set(self._kept) - snap[2]:
            del self._kept[key]
        self._journal = None

    def touched_documents(self) -> set[int]:
        """Indexes of the documents an operation edits (inserted documents are new ones)."""
        docs = {self._paths[nid][0] for nid in self._ops if nid in self._paths}
        docs |= {self._paths[id(seq)][0] for seq, _, _ in self._list_inserts if id(seq) in self._paths}
        return docs

    def touched(self) -> set[int]:
        """Node ids changed since ``snapshot`` (for checking one transaction's geometry)."""
        return set(self._journal or {})

    @property
    def empty(self) -> bool:
        return not (self._ops or self._docs or self._list_inserts)

    def apply_data(self, docs: list[Any]) -> list[Any]:
        """The same operations applied to plain data: what the rendered text must parse to."""
        out = [_copy(d) for d in docs]
        for nid, ops in self._ops.items():
            doc, path = self._paths[nid]
            target = out[doc]
            for step in path:
                target = target[step]
            if ops.replaced:
                parent_path, last = path[:-1], path[-1]
                holder = out[doc]
                for step in parent_path:
                    holder = holder[step]
                holder[last] = _copy(ops.scalar)
                continue
            if isinstance(target, dict):
                for key in ops.deletes:
                    target.pop(key, None)
                for key, value, _ in ops.adds:
                    target[key] = _copy(value)
            else:
                for index in sorted(ops.removes, reverse=True):
                    del target[index]
                target.extend(_copy(v) for v, _ in ops.appends)
        inserts: dict[int, list[Any]] = {}
        for seq, index, value in self._list_inserts:
            inserts.setdefault(id(seq), []).append((seq, index, value))
        for group in inserts.values():
            seq = group[0][0]
            doc, path = self._paths[id(seq)]
            target = out[doc]
            for step in path:
                target = target[step]
            by_index: dict[int, list[Any]] = {}
            for _, index, value in group:
                by_index.setdefault(index, []).append(_copy(value))
            for index in sorted(by_index, reverse=True):
                target[index + 1:index + 1] = by_index[index]
        by_doc: dict[int, list[Any]] = {}
        for root, (value, _) in self._docs:
            by_doc.setdefault(self._paths[id(root)][0], []).append(_copy(value))
        for doc in sorted(by_doc, reverse=True):
            out[doc + 1:doc + 1] = by_doc[doc]
        return out

    def _op(self, node: Node) -> _Ops:
        self._nodes[id(node)] = node
        if self._journal is not None and id(node) not in self._journal:
            existing = self._ops.get(id(node))
            self._journal[id(node)] = copy.deepcopy(existing) if existing is not None else None
        return self._ops.setdefault(id(node), _Ops())

    def delete(self, mapping: MappingNode, key: str, keep_comments: bool = False) -> list[str]:
        """Remove ``key`` from ``mapping``; returns the comments that sat on its lines.

        With ``keep_comments`` the comments stay where the entry was, as own-line comments.
        """
        self._op(mapping).deletes.add(key)
        if mapping.flow_style:
            return []
        for k, v in mapping.value:
            if isinstance(k, ScalarNode) and k.value == key:
                start, end = self._line_span(k, v)
                comments = [c for line in self.text[start:end].splitlines()
                            if (c := comment_of(line)) is not None]
                if keep_comments and comments:
                    self._kept[(id(mapping), key)] = comments
                    return []
                return comments
        return []

    def remove_item(self, seq: SequenceNode, index: int, keep_comments: bool = False) -> list[str]:
        """Drop item ``index`` of ``seq``; returns the comments on its lines (or keeps them there)."""
        self._op(seq).removes.add(index)
        if seq.flow_style:
            return []
        start, end = self._item_span(seq.value[index])
        comments = [c for line in self.text[start:end].splitlines() if (c := comment_of(line)) is not None]
        if keep_comments and comments:
            self._kept[(id(seq), index)] = comments
            return []
        return comments

    def replace(self, node: ScalarNode, value: Any) -> None:
        """Give a scalar node a new value (written plain when safe, else double-quoted)."""
        ops = self._op(node)
        ops.scalar, ops.replaced = value, True

    def add(self, mapping: MappingNode, key: str, value: Any, comments: list[str] | None = None) -> None:
        self._op(mapping).adds.append((key, value, list(comments or [])))

    def append(self, seq: SequenceNode, value: Any, comments: list[str] | None = None) -> None:
        self._op(seq).appends.append((value, list(comments or [])))

    def add_document(self, after_root: Node, value: Any, header: str | None = None) -> None:
        """A new document right after the one whose root is ``after_root``."""
        self._docs.append((after_root, (value, header)))

    def insert_item_after(self, seq: SequenceNode, index: int, value: Any) -> None:
        self._list_inserts.append((seq, index, value))

    # -- geometry --------------------------------------------------------------------------

    def _line_start(self, pos: int) -> int:
        return self.text.rfind("\n", 0, pos) + 1

    def _line_end(self, pos: int) -> int:
        nl = self.text.find("\n", pos)
        return len(self.text) if nl < 0 else nl + 1

    def _leaf_end(self, node: Node) -> int:
        if isinstance(node, MappingNode) and not node.flow_style and node.value:
            k, v = node.value[-1]
            if isinstance(v, ScalarNode) and v.start_mark.index == v.end_mark.index:
                return k.end_mark.index
            return max(self._leaf_end(v), k.end_mark.index)
        if isinstance(node, SequenceNode) and not node.flow_style and node.value:
            return self._leaf_end(node.value[-1])
        return int(node.end_mark.index)

    def _after(self, node: Node) -> int:
        """Start of the line after the last line that ``node`` occupies."""
        pos = self._leaf_end(node)
        if pos > 0 and self.text[pos - 1] == "\n":
            return pos
        return self._line_end(pos)

    def _item_span(self, item: Node) -> tuple[int, int]:
        start = self._line_start(item.start_mark.index)
        if not re.fullmatch(r" *- +", self.text[start:item.start_mark.index]):
            raise CannotEdit(f"line {item.start_mark.line + 1}: unusual sequence item layout")
        return start, self._after(item)

    def _line_span(self, key: Node, value: Node) -> tuple[int, int]:
        start = self._line_start(key.start_mark.index)
        if self.text[start:key.start_mark.index].strip(" "):
            raise CannotEdit(f"line {key.start_mark.line + 1}: key {key.value!r} does not start its line")
        return start, self._after(value)

    def _nl(self, lines: list[str]) -> str:
        return "".join(line + self.layout.newline for line in lines)

    # -- rendering -------------------------------------------------------------------------

    def _flow_root(self, node: Node) -> Node | None:
        top: Node | None = node if getattr(node, "flow_style", False) else None
        cur = self._parents.get(id(node))
        while cur is not None:
            if getattr(cur, "flow_style", False):
                top = cur
            cur = self._parents.get(id(cur))
        return top

    def _src(self, node: Node) -> str:
        return self.text[node.start_mark.index:node.end_mark.index]

    def _render_flow(self, node: Node) -> str:
        ops = self._ops.get(id(node))
        if isinstance(node, MappingNode):
            parts = []
            for k, v in node.value:
                if ops and k.value in ops.deletes:
                    continue
                parts.append(f"{self._src(k)}: {self._render_child(v)}")
            for key, value, _ in (ops.adds if ops else []):
                parts.append(f"{scalar(key, self.layout.quote_all)}: {flow(value, self.layout.quote_all)}")
            return "{" + ", ".join(parts) + "}"
        if isinstance(node, SequenceNode):
            parts = [self._render_child(i) for n, i in enumerate(node.value)
                     if not (ops and n in ops.removes)]
            parts += [flow(v, self.layout.quote_all) for v, _ in (ops.appends if ops else [])]
            return "[" + ", ".join(parts) + "]"
        if ops and ops.replaced:
            return scalar(ops.scalar, self.layout.quote_all)
        return self._src(node)

    def _touched(self, node: Node) -> bool:
        if id(node) in self._ops:
            return True
        if isinstance(node, MappingNode):
            return any(self._touched(v) for _, v in node.value)
        if isinstance(node, SequenceNode):
            return any(self._touched(i) for i in node.value)
        return False

    def _render_child(self, node: Node) -> str:
        return self._render_flow(node) if self._touched(node) else self._src(node)

    def _depth(self, node: Node) -> int:
        depth = 0
        cur = self._parents.get(id(node))
        while cur is not None:
            depth += 1
            cur = self._parents.get(id(cur))
        return depth

    def splices(self, only: set[int] | None = None, since: tuple[Any, ...] | None = None,
                text: bool = True) -> list[Splice]:
        """All splices, or (``only``/``since``) those of one transaction: enough to find a layout
        the splicer refuses without re-rendering the whole file for every pod."""
        out: list[Splice] = []
        flow_roots: dict[int, Node] = {}
        # one transaction's ids, not every op of the file: the per-pod check stays O(its edits)
        items = (self._ops.items() if only is None
                 else [(nid, self._ops[nid]) for nid in only if nid in self._ops])
        for nid, ops in items:
            node = self._nodes[nid]
            root = self._flow_root(node)
            if root is not None:
                flow_roots[id(root)] = root
                continue
            out.extend(self._block_splices(node, ops, text))
        for root in flow_roots.values():
            span = self._src(root)
            if re.search(r"(^|[\s,\[{])[&*!][^\s,\]}]", span) or "#" in span:
                raise CannotEdit(f"line {root.start_mark.line + 1}: flow collection with anchors, "
                                 "tags or comments")
            out.append(Splice(root.start_mark.index, root.end_mark.index, self._render_flow(root)))
        start_docs, start_items = (since[0], since[1]) if since is not None else (0, 0)
        for seq, index, value in self._list_inserts[start_items:]:
            if seq.flow_style:
                raise CannotEdit("flow-style List items")
            out.append(self._item_splice(seq, [(value, [])], after=seq.value[index]))
        for root, (value, header) in self._docs[start_docs:]:
            out.append(self._doc_splice(root, value if text else {}, header))
        return out

    def _block_splices(self, node: Node, ops: _Ops, text: bool = True) -> list[Splice]:
        out: list[Splice] = []
        depth = self._depth(node)
        if isinstance(node, MappingNode):
            remaining = [k for k, _ in node.value if k.value not in ops.deletes]
            for k, v in node.value:
                if k.value in ops.deletes:
                    start, end = self._line_span(k, v)
                    kept = self._kept.get((id(node), k.value), [])
                    pad = " " * k.start_mark.column
                    out.append(Splice(start, end, self._nl([pad + c for c in kept])))
            if ops.adds:
                if not node.value:
                    raise CannotEdit("empty block mapping")
                col = node.value[0][0].start_mark.column
                if not remaining and node.value[0][0].start_mark.index != self._line_start(
                        node.value[0][0].start_mark.index) + col:
                    raise CannotEdit("mapping emptied on a sequence-item line")
                lines: list[str] = []
                for key, value, comments in ops.adds if text else ():
                    lines.extend(with_comment(block_entries({key: value}, col, self.layout), comments))
                pos = self._after(node)
                out.append(Splice(pos, pos, self._nl(lines), depth))
        elif isinstance(node, SequenceNode):
            for index in sorted(ops.removes):
                start, end = self._item_span(node.value[index])
                kept = self._kept.get((id(node), index), [])
                pad = " " * (len(self.text[start:node.value[index].start_mark.index]) - 2)
                out.append(Splice(start, end, self._nl([pad + c for c in kept])))
            if ops.appends:
                if len(ops.removes) == len(node.value):
                    raise CannotEdit("sequence emptied and appended to")
                out.append(self._item_splice(node, ops.appends if text else [], depth=depth))
        elif isinstance(node, ScalarNode) and ops.replaced:
            if node.style in ("|", ">"):
                raise CannotEdit("block scalar")
            quote = self.layout.quote_all or node.style == '"'
            out.append(Splice(node.start_mark.index, node.end_mark.index, scalar(ops.scalar, quote)))
        return out

    def _item_splice(self, seq: SequenceNode, values: list[tuple[Any, list[str]]],
                     after: Node | None = None, depth: int = 0) -> Splice:
        if not seq.value:
            raise CannotEdit("empty block sequence")
        if seq.flow_style:
            raise CannotEdit("flow sequence")
        first = seq.value[0]
        line_start = self._line_start(first.start_mark.index)
        head = self.text[line_start:first.start_mark.index]
        m = re.fullmatch(r"( *)-( +)", head)
        if not m:
            raise CannotEdit(f"line {first.start_mark.line + 1}: unusual sequence item layout")
        col, offset = len(m.group(1)), 1 + len(m.group(2))
        lines: list[str] = []
        for value, comments in values:
            lines.extend(with_comment(block_items([value], col, self.layout, offset), comments))
        pos = self._after(after if after is not None else seq)
        return Splice(pos, pos, self._nl(lines), depth)

    def _doc_splice(self, root: Node, value: Any, header: str | None) -> Splice:
        pos = self._after(root)
        scan = pos
        insert_at = pos
        while scan < len(self.text):
            end = self._line_end(scan)
            line = self.text[scan:end].strip()
            if not line or line.startswith("#"):
                scan = end
                continue
            if line.startswith("..."):
                insert_at = end
            else:
                insert_at = scan
            break
        lines = ["---"] + ([f"# {header}"] if header else []) + block_entries(value, 0, self.layout)
        return Splice(insert_at, insert_at, self._nl(lines), -1)

    def render(self) -> str:
        splices = sorted(self.splices(), key=lambda s: (s.start, s.end, -s.depth))
        out: list[str] = []
        cursor = 0
        for s in splices:
            if s.start < cursor:
                raise CannotEdit("overlapping edits")
            out.append(self.text[cursor:s.start])
            if s.text and s.start == len(self.text):
                # inserting at the end of a file whose last line has no newline
                tail = next((chunk for chunk in reversed(out) if chunk), "")
                if tail and not tail.endswith("\n"):
                    out.append(self.layout.newline)
            out.append(s.text)
            cursor = s.end
        out.append(self.text[cursor:])
        return "".join(out)
