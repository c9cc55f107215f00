"""Text -> YAML documents with exact source positions.

We compose (never construct) with libyaml through PyYAML's ``CSafeLoader``: composing builds
nodes that carry ``start_mark``/``end_mark`` character offsets, which is what lets the engine
splice edits into the original text instead of re-emitting whole files. Nothing is executed:
only the safe resolver is used, and tags never construct Python objects.

Also here: the checks that the composer does not do by itself (duplicate keys, alias
expansion budget) and the detection of each file's own layout (newline, indentation,
sequence-indent style) so that inserted text looks like the text around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrator.errors import InvalidInput

try:  # pragma: no cover - exercised implicitly; the C loader ships in PyYAML's wheels
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader

#: implicit tag of a plain scalar, by its text: with no path resolvers (the safe loader has none)
#: the tag depends on the text alone, and manifests repeat the same keys and values all the time
_TAGS: dict[str, str] = {}
_TAGS_MAX = 65_536
_TAG_TEXT_MAX = 64  # long texts rarely repeat; caching them would only grow the table


class _Loader(_Base):
    """The safe loader with PyYAML's pure-Python resolver memoised (it was a third of the parse).

    Same tags as ``SafeLoader``: ``BaseResolver.resolve`` is asked once per distinct text, and the
    path-resolver hooks are no-ops as they are there when no path resolver is registered."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            tag = _TAGS.get(value)
            if tag is None:
                tag = _Base.resolve(self, kind, value, implicit)
                if len(value) <= _TAG_TEXT_MAX and len(_TAGS) < _TAGS_MAX:
                    _TAGS[value] = tag
            return tag
        return _Base.resolve(self, kind, value, implicit)


assert not _Base.yaml_path_resolvers, "the memo above assumes no path resolvers"

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"

#: An expanded document may be this many times larger than its composed node graph before
#: we call it an alias bomb (plus a floor for ordinary anchors in big files).
ALIAS_EXPANSION_FACTOR = 10
ALIAS_EXPANSION_FLOOR = 200_000


@dataclass(frozen=True, slots=True)
class Layout:
    """How a file writes YAML, so inserted text matches it."""

    newline: str  #: "\n" or "\r\n"
    indent: int  #: spaces per mapping level
    seq_indented: bool  #: True for "key:\n  - item", False for "key:\n- item"
    quote_all: bool = False  #: every key and string double-quoted (jsonnet/JSON-style output)


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a file: its root node (None for an empty or comment-only one)."""

    index: int
    root: Node | None


_SCALAR = yaml.constructor.SafeConstructor()


def scalar_value(node: Node) -> Any:
    """The Python value of a scalar node under the YAML 1.1 safe schema (timestamps stay str)."""
    if not isinstance(node, ScalarNode):
        raise TypeError("not a scalar")
    tag = node.tag
    if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
               "tag:yaml.org,2002:null"):
        return _SCALAR.yaml_constructors[tag](_SCALAR, node)
    return node.value


def parse(text: str, path: str, checked: bool = True) -> list[Document]:
    """Compose every document of ``text``; raise InvalidInput (with a line) on bad YAML.

    ``checked=False`` skips the duplicate-key and alias-bomb checks (for text we produced from
    text that passed them).
    """
    docs: list[Document] = []
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            root = loader.get_node()
            docs.append(Document(index, root))
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        hint = ""
        if "{{" in text or "{%" in text:
            hint = " (looks like a Helm/Go/Jinja template: run on rendered output, e.g. as a Helm post-renderer)"
        raise InvalidInput(path, line, f"invalid YAML: {problem}{hint}") from None
    except yaml.YAMLError as exc:  # reader errors (control characters) carry no mark
        raise InvalidInput(path, None, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()
    if checked:
        # without a "*" in the text there is no alias: each node is one node, no bomb to count
        check = check_document if "*" in text else check_keys
        for doc in docs:
            if doc.root is not None:
                check(doc.root, path)
    return docs


def _key_problem(k: Node, path: str) -> InvalidInput:
    hint = " (an unquoted {{ placeholder }}?)"
    return InvalidInput(path, k.start_mark.line + 1, "a mapping key that is itself a mapping or list is not valid "
                        f"Kubernetes YAML{hint if getattr(k, 'flow_style', False) else ''}")


def check_keys(root: Node, path: str) -> None:
    """``check_document`` for a tree without aliases: the same key checks in the same order."""
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            seen: set[tuple[str, Any]] = set()
            for k, v in node.value:
                if not isinstance(k, ScalarNode):
                    raise _key_problem(k, path)
                if k.tag != MERGE_TAG:
                    value = scalar_value(k)
                    hashable = (type(value).__name__, value)
                    if hashable in seen:
                        raise InvalidInput(path, k.start_mark.line + 1, f"duplicate key {k.value!r}")
                    seen.add(hashable)
                stack.append(v)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)  # popped last first, as check_document visits them


def check_document(root: Node, path: str) -> None:
    """Reject duplicate keys and alias bombs before anything walks the tree."""
    sizes: dict[int, int] = {}
    distinct = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            total = 1
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    total += sizes[id(k)] + sizes[id(v)]
            elif isinstance(node, SequenceNode):
                for item in node.value:
                    total += sizes[id(item)]
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if isinstance(node, ScalarNode):
            sizes[key] = 1
            distinct += 1
            continue
        sizes[key] = 0  # in progress; a recursive alias reads 0 here and stays bounded
        distinct += 1
        stack.append((node, True))
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for k, v in node.value:
                if not isinstance(k, ScalarNode):
                    raise _key_problem(k, path)
                if k.tag != MERGE_TAG:
                    value = scalar_value(k)
                    try:
                        hashable = (type(value).__name__, value)
                        if hashable in seen:
                            raise InvalidInput(path, k.start_mark.line + 1,
                                               f"duplicate key {k.value!r}")
                        seen[hashable] = k
                    except TypeError:  # pragma: no cover - scalars are hashable
                        pass
                stack.append((v, False))
                stack.append((k, False))
        else:
            for item in node.value:
                stack.append((item, False))
    limit = max(ALIAS_EXPANSION_FLOOR, ALIAS_EXPANSION_FACTOR * distinct)
    if sizes[id(root)] > limit:
        raise InvalidInput(path, None,
                           f"aliases expand to {sizes[id(root)]} nodes (limit {limit}): "
                           "refusing a possible alias bomb")


_TYPED = frozenset(("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                    "tag:yaml.org,2002:null"))


def to_python(node: Node | None) -> Any:
    """Plain Python data for a node (aliases shared, merge keys applied)."""
    if node is None:
        return None
    # module-level recursion with the memo passed along: a recursive closure refers to itself,
    # and each call left that cycle (with everything built) for the cyclic collector, which the
    # CLI's raised thresholds run rarely: a serial run's memory grew with the repository
    return _build(node, {})  # memo: collections only (a scalar's value is the same object either way)


#: the slot of ``_build``'s memo that says a mapping lost an entry (no object's id is 0)
_REPEATED = 0


def to_python_keys(node: Node, path: str) -> Any:
    """``to_python`` of a tree without aliases, with ``check_keys``' verdict at almost no extra cost:
    the full check runs (and raises its error) only when some mapping came out with fewer keys
    than it was written with."""
    memo: dict[int, Any] = {}
    data = _build(node, memo)
    if memo.get(_REPEATED):
        check_keys(node, path)
    return data


def _scalar(n: Node) -> Any:  # scalar_value, inlined: most nodes are scalars
    tag = n.tag
    return _SCALAR.yaml_constructors[tag](_SCALAR, n) if tag in _TYPED else n.value


def _build(n: Node, memo: dict[int, Any]) -> Any:
    if n.__class__ is ScalarNode:
        return _scalar(n)
    key = id(n)
    done = memo.get(key)
    if done is not None:
        return done
    if isinstance(n, SequenceNode):
        seq: list[Any] = []
        memo[key] = seq
        for i in n.value:
            seq.append(_scalar(i) if i.__class__ is ScalarNode else _build(i, memo))
        return seq
    if isinstance(n, ScalarNode):  # a subclass
        return _scalar(n)
    mapping: dict[Any, Any] = {}
    memo[key] = mapping
    merged: dict[Any, Any] | None = None
    merges = 0
    for k, v in n.value:
        if k.tag == MERGE_TAG:
            merges += 1
            merged = merged if merged is not None else {}
            sources = v.value if isinstance(v, SequenceNode) else [v]
            for src in reversed(sources):
                built = _build(src, memo)
                if isinstance(built, dict):
                    merged.update(built)
            continue
        kv = _scalar(k) if k.__class__ is ScalarNode else _build(k, memo)
        vv = _scalar(v) if v.__class__ is ScalarNode else _build(v, memo)
        try:
            mapping[kv] = vv
        except TypeError:
            mapping[str(kv)] = vv
    if len(mapping) + merges != len(n.value):
        memo[_REPEATED] = True  # a key given twice (or two keys equal as Python data): see to_python_keys
    if merged:
        for k2, v2 in merged.items():
            mapping.setdefault(k2, v2)
    return mapping


# ---- navigation helpers over composed nodes -------------------------------------------------

def get(node: Node | None, key: str) -> Node | None:
    """The value node of ``key`` in a mapping node (None when absent or not a mapping)."""
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key and k.tag != MERGE_TAG:
            return v
    return None


def entry(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key and k.tag != MERGE_TAG:
            return k, v
    return None


def str_at(node: Node | None, *keys: str) -> str | None:
    cur = node
    for key in keys:
        cur = get(cur, key)
    if isinstance(cur, ScalarNode):
        value = scalar_value(cur)
        return value if isinstance(value, str) else str(value) if value is not None else None
    return None


def items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def pairs(node: Node | None) -> list[tuple[Node, Node]]:
    return list(node.value) if isinstance(node, MappingNode) else []


def has_merge(node: Node | None) -> bool:
    return isinstance(node, MappingNode) and any(k.tag == MERGE_TAG for k, _ in node.value)


def walk(root: Node, skip: set[int] | None = None) -> Iterator[tuple[tuple[Any, ...], Node]]:
    """Every node with its path (keys and indexes); each node object is entered once.

    Nodes whose id is in ``skip`` are neither yielded nor entered.
    """
    seen: set[int] = set(skip or ())
    stack: list[tuple[tuple[Any, ...], Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield path, node
        if isinstance(node, MappingNode):
            for k, v in reversed(node.value):
                if isinstance(k, ScalarNode):
                    stack.append((path + (k.value,), v))
        elif isinstance(node, SequenceNode):
            for i in range(len(node.value) - 1, -1, -1):
                stack.append((path + (i,), node.value[i]))


def shared_nodes(root: Node) -> set[int]:
    """Ids of collection nodes reached more than once (used through an alias)."""
    count: dict[int, int] = {}
    shared: set[int] = set()
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ScalarNode):
            continue
        n = count.get(id(node), 0) + 1
        count[id(node)] = n
        if n > 1:
            shared.add(id(node))
            continue
        if isinstance(node, MappingNode):
            for _k, v in node.value:
                stack.append(v)
        else:
            stack.extend(node.value)
    return shared


# ---- layout ---------------------------------------------------------------------------------

_SEQ_UNDER_KEY = re.compile(r"^( *)[^\s#-][^\n]*:[ \t]*\r?\n(?:[ \t]*(?:#[^\n]*)?\r?\n)*( *)- ", re.M)
_KEY_LINE = re.compile(r"^( *)[^\s#-][^:\n]*:[ \t]*\r?\n(?:[ \t]*(?:#[^\n]*)?\r?\n)*( *)[^\s#-][^:\n]*:", re.M)


_QUOTED_KEY = re.compile(r'^[ \t]*(?:- )?"[^"\n]*":', re.M)
_PLAIN_KEY = re.compile(r"^[ \t]*(?:- )?[A-Za-z_][^:\n\"'#]*:(?:[ \t]|\r?$)", re.M)


def detect_layout(text: str) -> Layout:
    """Newline, mapping indent and sequence style most used in ``text`` (defaults: LF, 2, indented)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    indents: dict[int, int] = {}
    for m in _KEY_LINE.finditer(text):
        step = len(m.group(2)) - len(m.group(1))
        if step > 0:
            indents[step] = indents.get(step, 0) + 1
    indent = max(indents, key=lambda k: (indents[k], -k)) if indents else 2
    compact = indented = 0
    for m in _SEQ_UNDER_KEY.finditer(text):
        if len(m.group(2)) > len(m.group(1)):
            indented += 1
        elif len(m.group(2)) == len(m.group(1)):
            compact += 1
    quoted = len(_QUOTED_KEY.findall(text))
    plain = len(_PLAIN_KEY.findall(text))
    return Layout(newline=newline, indent=indent, seq_indented=indented >= compact,
                  quote_all=quoted > 0 and plain == 0)
