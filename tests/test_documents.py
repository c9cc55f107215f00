"""migrator.text.documents against PyYAML's own safe loader: same tags, same data.

The parse memoises the resolver's implicit tags by scalar text and ``to_python`` inlines the
scalar constructors (issue 13: a third of the parse and of the data conversion); both must give
exactly what ``yaml.safe_load_all`` gives, for any scalar text, in any order, cache warm or cold.
"""

from __future__ import annotations

import json
import re

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.text import documents
from migrator.text.documents import parse, to_python

# texts the YAML 1.1 resolvers tell apart: bools, nulls, ints of every base, floats, timestamps,
# merge keys, and plain words; drawn again and again so that the memo answers most of them
_WORDS = st.sampled_from([
    "yes", "No", "on", "OFF", "true", "False", "~", "null", "Null", "", "0", "-1", "+7", "0x1F", "0o17", "017",
    "0b101", "1_000", "1:30", "1.5", "-.inf", ".NaN", "1e3", "6.8523015e+5", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "nvidia.com/gpu", "gpu", "1Gi", "500m", "=", "<<x", "a b", "0.", "._", "-", "1__2", "0x_1",
])
_SCALAR = st.one_of(_WORDS, st.text(alphabet="0123456789.:+-_eExXoObBtrufalsyn~ ", min_size=1, max_size=8))


_PLAIN = re.compile(r"[A-Za-z0-9~+.][A-Za-z0-9._+:/~-]*")


def _plain(text: str) -> str | None:
    """``text`` written as a plain (unquoted) YAML scalar where its characters allow, else None:
    plain scalars are the ones the resolver types (``017`` an int, ``on`` a bool)."""
    return text if _PLAIN.fullmatch(text) and not text.endswith(":") and "::" not in text else None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_SCALAR, _SCALAR), min_size=1, max_size=12), st.booleans())
def test_tags_and_data_match_pyyaml(entries: list[tuple[str, str]], cold: bool) -> None:
    if cold:
        documents._TAGS.clear()
    lines, seq = [], []
    for i, (k, v) in enumerate(entries):
        pk, pv = _plain(k), _plain(v)
        key = pk if pk is not None and pk not in ("<<", "") else json.dumps(f"k{i}{k}")
        val = pv if pv is not None else json.dumps(v)
        lines.append(f"{key}: {val}")
        seq.append(f"- {val}")
    text = "\n".join(lines) + "\nlist:\n" + "\n".join(seq) + "\n---\n" + "\n".join(seq) + "\n"
    try:
        want = list(yaml.load_all(text, Loader=_TextTimestamps))
    except yaml.YAMLError:
        return  # not valid YAML as drawn: not this test's subject
    ours = parse(text, "t.yaml", checked=False)
    composed = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    # tags: node by node, as the pure-Python safe loader resolves them
    for doc, ref in zip(ours, composed, strict=True):
        assert _tags(doc.root) == _tags(ref)
    # data: the same as PyYAML's
    assert [_norm(to_python(d.root)) for d in ours] == [_norm(x) for x in want]


class _TextTimestamps(yaml.SafeLoader):
    """PyYAML's safe loader, timestamps left as text (as scalar_value leaves them: the API server's
    JSON has no timestamp type)."""


_TextTimestamps.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: node.value)


def _tags(node: yaml.Node | None) -> list[str]:
    out: list[str] = []
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        out.append(n.tag)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack += [v, k]
        elif isinstance(n, yaml.SequenceNode):
            stack += list(reversed(n.value))
    return out


def _norm(x: object) -> object:
    import math

    if isinstance(x, dict):
        return {_norm(k): _norm(v) for k, v in x.items()}  # type: ignore[misc]
    if isinstance(x, list):
        return [_norm(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return x


def test_aliases_and_merge_keys_as_pyyaml() -> None:
    text = "base: &b {x: 1, y: [1, 2]}\nuse: *b\nmerged:\n  <<: *b\n  y: 3\nlist: &l [a, b]\nagain: *l\n"
    (doc,) = parse(text, "t.yaml")
    data = to_python(doc.root)
    assert data == yaml.safe_load(text)
    assert data["use"] is data["base"] and data["again"] is data["list"]  # shared, as the nodes are


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_SCALAR, _SCALAR), min_size=1, max_size=8), st.integers(0, 2))
def test_to_python_keys_agrees_with_check_keys(entries: list[tuple[str, str]], depth: int) -> None:
    """The rewrite's check builds the edited documents' data and finds repeated keys on the way
    (the full key check only where a mapping came out smaller than written): the same verdict,
    the same error, the same data as ``check_keys`` then ``to_python``, keys repeated or not."""
    from migrator.errors import InvalidInput
    from migrator.text.documents import check_keys, to_python_keys

    lines = [f"{json.dumps(k) if _plain(k) is None else k}: {json.dumps(v)}" for k, v in entries]
    body = "\n".join(lines)
    for level in range(depth):  # the mapping nested under keys and a list item
        body = f"k{level}:\n- " + body.replace("\n", "\n  ")
    try:
        [doc] = parse(body, "f.yaml", checked=False)
    except InvalidInput:
        return  # not valid YAML as drawn: not this test's subject
    assert doc.root is not None
    try:
        check_keys(doc.root, "f.yaml")
        want: object = to_python(doc.root)
    except InvalidInput as exc:
        want = ("error", str(exc))
    try:
        got: object = to_python_keys(doc.root, "f.yaml")
    except InvalidInput as exc:
        got = ("error", str(exc))
    assert got == want


def test_the_rewrites_check_refuses_a_repeated_key() -> None:
    """A rendered text whose data is what the patch intended but which writes a key twice (kubectl
    and the apiserver's strict decoding refuse it) fails the check before anything is written."""
    from migrator.text.edit import Patch
    from migrator.text.verify import Parsed, check_rendered

    text = "kind: Pod\nspec:\n  a: 1\n"
    docs = parse(text, "p.yaml")
    patch = Patch(text)
    spec = documents.get(docs[0].root, "spec")
    patch.register_tree(docs[0].root, 0)
    patch.add(spec, "b", 2)  # type: ignore[arg-type]
    assert check_rendered(patch.render(), docs, patch, "p.yaml", Parsed()) is None
    problem = check_rendered("kind: Pod\nspec:\n  a: 1\n  b: 3\n  b: 2\n", docs, patch, "p.yaml")
    assert problem == "internal check failed: the edited text is not valid (duplicate key 'b')"
