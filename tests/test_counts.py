"""GPU counts are read as the API server reads them (issue 11 item 6).

Oracle: the quantity grammar of k8s.io/apimachinery pkg/api/resource quantity.go, evaluated
here from the generated parts (not by scanning the string), with ParseQuantity's round-up of
anything finer than 1n; then pkg/apis/core/validation: an extended resource must be a
non-negative integer, needs a limit, and a request equal to it.
"""

from __future__ import annotations

import math
import textwrap
from fractions import Fraction

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.text.documents import parse, to_python
from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status
from migrator.k8s.quantity import extended_count, parse_quantity

#: AllocationResultsMaxSize: devices one claim can be allocated (dra-api.md §1)
MAX_DEVICES = 32
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}


@st.composite
def quantities(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A string of the grammar and its exact value."""
    sign = draw(st.sampled_from(["", "+", "-"]))
    whole = draw(st.text("0123456789", min_size=0, max_size=6))
    dot = draw(st.booleans())
    frac = draw(st.text("0123456789", min_size=0, max_size=6)) if dot else ""
    if not whole and not frac:
        whole = draw(st.text("0123456789", min_size=1, max_size=3))
    kind = draw(st.sampled_from(["dec", "bin", "exp"]))
    if kind == "dec":
        suffix = draw(st.sampled_from(sorted(DECIMAL)))
        mult = Fraction(10) ** DECIMAL[suffix]
    elif kind == "bin":
        suffix = draw(st.sampled_from(sorted(BINARY)))
        mult = Fraction(2) ** BINARY[suffix]
    else:
        e = draw(st.integers(-12, 12))
        esign = draw(st.sampled_from(["", "+"])) if e >= 0 else ""
        suffix = draw(st.sampled_from("eE")) + esign + str(e)
        mult = Fraction(10) ** e
    text = sign + whole + ("." if dot else "") + frac + suffix
    value = Fraction(int((whole or "0") + frac), 10 ** len(frac)) * mult
    nano = Fraction(1, 10**9)
    if value and (value / nano).denominator != 1:
        value = math.ceil(value / nano) * nano  # ParseQuantity rounds up to 1n
    if kind == "bin":
        value = min(value, Fraction(2**63 - 1))  # "The max is just a simple cap" (BinarySI)
    return text, -value if sign == "-" else value


NOT_SUFFIXES = ["K", "x", "ki", "KiB", "e", "mm", "Mi5", "G+", "..", "e1.5", " k", "%"]


@st.composite
def invalid_quantities(draw: st.DrawFn) -> str:
    text, _ = draw(quantities())
    how = draw(st.sampled_from(["suffix", "prefix", "twice", "inner"]))
    if how == "suffix":
        return text + draw(st.sampled_from(NOT_SUFFIXES))
    if how == "prefix":
        return draw(st.sampled_from(["x", "--", "+-", "a", "0x"])) + text.lstrip("+-")
    if how == "twice":
        return text + ".."
    return text[:1] + "_" + text[1:] if text[1:] else "_" + text


def _pod(count: str, where: str = "limits") -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: p}}
        spec:
          containers:
          - name: main
            image: x
            resources:
              {where}:
                nvidia.com/gpu: {count}
        """)


def _run(text: str):  # type: ignore[no-untyped-def]
    result = migrate_text(text, "p.yaml", Mode())
    docs = [to_python(d.root) for d in parse(result.text, "p.yaml")]
    counts = [r["exactly"]["count"] for d in docs
              if isinstance(d, dict) and d.get("kind") == "ResourceClaimTemplate"
              for r in d["spec"]["spec"]["devices"]["requests"]]
    return result, counts


def _quoted(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _assert_read(text_count: str, value: Fraction | None, reason: str | None) -> None:
    result, counts = _run(_pod(text_count))
    if value is not None and value.denominator == 1 and 0 < value <= MAX_DEVICES:
        assert counts == [int(value)], (text_count, value, result.findings)
        return
    assert counts == [], (text_count, counts)
    if value is not None and value.denominator == 1 and MAX_DEVICES < value < 2**63:
        # a whole number, more than one claim may hold: reported (GPU900), never a smaller count
        assert [f.code for f in result.findings] == ["GPU900"] and "32" in result.findings[0].message
        return
    if value == 0:
        assert [f.code for f in result.findings] == ["GPU003"]
        return
    skipped = [f for f in result.findings if f.code == "GPU102" and f.status is Status.SKIPPED]
    assert skipped, (text_count, result.findings)
    assert reason is not None and reason in skipped[0].message, (text_count, skipped[0].message)
    assert "render it" not in skipped[0].message
    assert result.text == _pod(text_count)


def _reason(value: Fraction) -> str:
    return "negative" if value < 0 else "not a whole number" if value.denominator != 1 else "larger than"


@settings(max_examples=300, deadline=None)
@given(quantities())
def test_parse_quantity_is_the_grammars_value(q: tuple[str, Fraction]) -> None:
    text, value = q
    assert parse_quantity(text) == value


@settings(max_examples=300, deadline=None)
@given(invalid_quantities())
def test_parse_quantity_rejects_what_the_grammar_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)
    assert extended_count(text).problem == "is not a Kubernetes quantity"


@settings(max_examples=150, deadline=None)
@given(quantities())
def test_quoted_counts_convert_to_the_exact_whole_number_else_report_why(q: tuple[str, Fraction]) -> None:
    text, value = q
    _assert_read(_quoted(text), value, _reason(value))


@settings(max_examples=100, deadline=None)
@given(quantities())
def test_plain_counts_read_as_yaml_then_as_a_quantity(q: tuple[str, Fraction]) -> None:
    text, _ = q
    plain = yaml.safe_load(f"v: {text}")["v"]
    # what the API server receives: YAML's number (float64 in sigs.k8s.io/yaml too) or the string
    if isinstance(plain, str):
        value = parse_quantity(plain)
    elif isinstance(plain, float):
        if not math.isfinite(plain):
            return
        value = Fraction(repr(plain))
    else:
        value = Fraction(plain)
    _assert_read(text, value, _reason(value))


@settings(max_examples=100, deadline=None)
@given(invalid_quantities())
def test_invalid_counts_are_reported_as_not_a_quantity(text: str) -> None:
    result, counts = _run(_pod(_quoted(text)))
    assert counts == []
    messages = [f.message for f in result.findings if f.code == "GPU102"]
    assert messages and "is not a Kubernetes quantity" in messages[0] and "render it" not in messages[0]


@pytest.mark.parametrize(("count", "expected"), [
    ("2", 2), ('"2"', 2), ("2.0", 2), ("2000m", 2), ("1e0", 1), ('"2e0"', 2), ("'32'", 32),
    ("' 3 '", 3), ("0.5e1", 5), ("'1.9999999999'", 2), ("+4", 4), ("!!str 2", 2), ("!!int 2", 2),
])
def test_whole_counts_convert(count: str, expected: int) -> None:
    assert _run(_pod(count))[1] == [expected]


@pytest.mark.parametrize(("count", "reason"), [
    ("1.5", "is 1.5, not a whole number"), ("500m", "is 0.5, not a whole number"),
    ("true", "is a boolean"), ("-1", "is negative"), ("'two'", "is not a Kubernetes quantity"),
    ("!custom 2", "carries the YAML tag !custom"), ("!gpus 1", "carries the YAML tag !gpus"),
    ("1:30", "is not a Kubernetes quantity"), ("~", "is null"), (".inf", "not a finite number"),
    ("1n", "not a whole number"), ("'1 Gi'", "is not a Kubernetes quantity"),
])
def test_counts_the_api_rejects_are_reported_with_the_reason(count: str, reason: str) -> None:
    text = _pod(count)
    result, counts = _run(text)
    assert counts == [] and result.text == text
    # GPU900 reports values of a type the API rejects (booleans, null) before GPU102 reads counts
    (f,) = [f for f in result.findings if f.code in ("GPU102", "GPU900")]
    assert reason in f.message and "render it" not in f.message, f.message


@pytest.mark.parametrize("count", ["$GPUS", "'${N}'", "'{{ .Values.gpus }}'"])
def test_placeholders_say_render_it(count: str) -> None:
    (f,) = [f for f in _run(_pod(count))[0].findings if f.code == "GPU102"]
    assert "placeholder; render it" in f.message


@pytest.mark.parametrize("section", ["containers", "initContainers"])
@pytest.mark.parametrize("resource", ["nvidia.com/gpu", "nvidia.com/mig-1g.5gb"])
@pytest.mark.parametrize("count", ["1", "'2'", "2000m"])
def test_requests_only_is_reported(section: str, resource: str, count: str) -> None:
    text = textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: p}}
        spec:
          {section}:
          - name: c
            image: x
            resources: {{requests: {{{resource}: {count}, cpu: 1}}}}
        """)
    if section != "containers":
        text += "  containers: [{name: app, image: x}]\n"
    result, counts = _run(text)
    assert counts == [] and result.text == text
    assert any(f.code == "GPU102" and "only in requests" in f.message for f in result.findings)


@pytest.mark.parametrize(("limit", "req", "converts"), [
    ("1", "1", True), ("1", "'1000m'", True), ("2", "'2e0'", True), ("2", "1", False), ("1", "1.5", False),
])
def test_requests_equal_to_limits_as_quantities(limit: str, req: str, converts: bool) -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: main\n"
            f"    resources: {{limits: {{nvidia.com/gpu: {limit}}}, requests: {{nvidia.com/gpu: {req}}}}}\n")
    result, counts = _run(text)
    assert bool(counts) == converts, result.findings


SECTIONS = ["initContainers", "containers", "ephemeralContainers"]


@pytest.mark.parametrize("first", SECTIONS)
@pytest.mark.parametrize("second", SECTIONS)
def test_duplicate_container_names_across_sections_are_reported(first: str, second: str) -> None:
    lists = {s: [] for s in SECTIONS}
    lists["containers"].append("{name: gpu, image: x, resources: {limits: {nvidia.com/gpu: 1}}}")
    lists[first].append("{name: twin, image: x}")
    lists[second].append("{name: twin, image: y}")
    body = "".join(f"  {s}: [{', '.join(v)}]\n" for s, v in lists.items() if v)
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + body
    result, counts = _run(text)
    assert counts == [] and result.text == text
    assert any(f.code == "GPU112" and "'twin'" in f.message for f in result.findings), result.findings


@pytest.mark.parametrize("where", ["limits", "requests"])
@pytest.mark.parametrize("resource", ["nvidia.com/gpu", "nvidia.com/mig-2g.10gb"])
@pytest.mark.parametrize("app_gpus", [True, False])
def test_gpus_in_ephemeral_containers_are_reported(where: str, resource: str, app_gpus: bool) -> None:
    app = "{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}" if app_gpus else "{name: a, image: x}"
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
            f"  containers: [{app}]\n"
            f"  ephemeralContainers: [{{name: dbg, image: x, resources: {{{where}: {{{resource}: 1}}}}}}]\n")
    result, counts = _run(text)
    assert counts == [] and result.text == text
    assert any(f.code == "GPU112" and "ephemeral container 'dbg'" in f.message for f in result.findings)


def test_unique_names_and_no_ephemeral_gpus_still_convert() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
            "  initContainers: [{name: init, image: x}]\n"
            "  containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]\n"
            "  ephemeralContainers: [{name: dbg, image: x}]\n")
    assert _run(text)[1] == [1]


N = Fraction(1, 10**9)


@pytest.mark.parametrize(("text", "value"), [  # from apimachinery quantity_test.go TestQuantityParse
    ("3.001n", 4 * N), ("1.1E-9", 2 * N), ("0.0000000001", N), ("0.00000012345", 124 * N),
    ("9Ei", Fraction(2**63 - 1)), ("9223372036854775807Ki", Fraction(2**63 - 1)), ("12E", Fraction(12 * 10**18)),
    ("100.035Ki", Fraction(10243584, 100)), ("0.000000000001Ki", 2 * N), (".001", Fraction(1, 1000)),
    ("1.", Fraction(1)), ("1.G", Fraction(10**9)), ("1.3E+6", Fraction(1300000)), ("0.5e-2", Fraction(5, 1000)),
    (".", Fraction(0)), ("-.", Fraction(0)), ("1E-3", Fraction(1, 1000)),
])
def test_parse_quantity_matches_the_upstream_table(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-",
                                  "1e4294967297", " 1", "1 ", ""])
def test_parse_quantity_rejects_the_upstream_invalid_table(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)
