"""CEL for DRA device selectors: a real CEL engine plus the Kubernetes extensions DRA uses.

Engine: ``common-expression-language`` (Rust ``cel`` crate via PyO3; chosen over cel-python,
which is ~50x slower, and cel-expr-python, whose 0.1.3 leaks every value passed to a Python
function). Its string library (``lowerAscii``, ``replace``, ...) is the cel-go strings extension
that the Kubernetes base environment includes. The Kubernetes ``quantity()`` and ``semver()``
libraries (k8s.io/apiserver pkg/cel/library quantity.go, semverlib.go; dra-api.md §1.7) are
implemented here: values travel through the engine as tagged maps, and ``x.f(y)`` is ``f(x, y)``.

The DRA environment gives a selector one variable, ``device``, with ``driver``, ``attributes``
(domain -> name -> value; version attributes are semvers) and ``capacity`` (domain -> name ->
quantity). An unknown attribute is an evaluation error, as in the scheduler, where it aborts
allocation. Imported only by ``verify`` and the validators: the engine costs ~0.1 s to import.
"""

from __future__ import annotations

import functools
import logging
import re
from fractions import Fraction
from typing import Any

from migrator.k8s.quantity import parse_quantity

MAX_LENGTH = 10 * 1024  # CELSelectorExpressionMaxLength
MAX_COST = 1_000_000  # CELSelectorExpressionMaxCost (dra-api.md §1.7)
#: A device attribute string holds at most 64 characters (dra-api.md, ResourceSlice limits).
_MAX_ATTR_STRING = 64
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.\[\](),]")
_UNBOUNDED = re.compile(r"\.\s*(all|exists|exists_one|map|filter)\s*\(|\bmatches\s*\(")

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def parse_semver(text: str) -> tuple[int, int, int, tuple[Any, ...]]:
    m = _SEMVER.match(str(text).strip())
    if not m:
        raise ValueError(f"invalid semver {text!r}")
    pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in m.group(4).split(".")) if m.group(4) else ()
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), pre


def _is_quantity(text: Any) -> bool:
    try:
        parse_quantity(str(text))
    except ValueError:
        return False
    return True


def _semver_key(v: tuple[int, int, int, tuple[Any, ...]]) -> tuple[Any, ...]:
    # a release sorts after its pre-releases (semver 2.0 precedence)
    return (v[0], v[1], v[2], not v[3], v[3])


def quantity(text: str) -> dict[str, str]:
    return {"__k8s": "quantity", "v": str(parse_quantity(text))}


def semver(text: str) -> dict[str, str]:
    parse_semver(text)
    return {"__k8s": "semver", "v": str(text).split("+")[0]}


def _unwrap(x: Any) -> tuple[str, Any]:
    if isinstance(x, dict) and x.get("__k8s") == "quantity":
        return "quantity", Fraction(x["v"])
    if isinstance(x, dict) and x.get("__k8s") == "semver":
        return "semver", _semver_key(parse_semver(x["v"]))
    raise TypeError(f"no such overload for {x!r}")


def _compare(a: Any, b: Any) -> int:
    ka, va = _unwrap(a)
    kb, vb = _unwrap(b)
    if ka != kb:
        raise TypeError(f"no such overload: {ka}.compareTo({kb})")
    return (va > vb) - (va < vb)


def _part(index: int) -> Any:
    def get(x: Any) -> Any:  # a version part: an int, or the pre-release tuple
        kind, _ = _unwrap(x)
        if kind != "semver":
            raise TypeError("no such overload")
        return parse_semver(x["v"])[index]
    return get


def _as_integer(x: Any) -> int:
    kind, v = _unwrap(x)
    if kind != "quantity" or v.denominator != 1:
        raise ValueError("cannot convert quantity to int64 exactly")
    return int(v)


FUNCTIONS: dict[str, Any] = {
    "quantity": quantity,
    "isQuantity": _is_quantity,
    "semver": semver,
    "isSemver": lambda s: bool(_SEMVER.match(str(s).strip())),
    "compareTo": _compare,
    "isGreaterThan": lambda a, b: _compare(a, b) > 0,
    "isLessThan": lambda a, b: _compare(a, b) < 0,
    "asInteger": _as_integer,
    "major": _part(0),
    "minor": _part(1),
    "patch": _part(2),
}

#: Functions and macros of the CEL standard library and the strings extension that generated
#: or user selectors may call (for the static "known functions" check).
STANDARD = {
    "_&&_", "_||_", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "_+_", "_-_", "_*_", "_/_", "_%_",
    "!_", "-_", "_?_:_", "_[_]", "@in", "in", "has", "size", "matches", "startsWith", "endsWith",
    "contains", "lowerAscii", "upperAscii", "replace", "split", "join", "trim", "substring",
    "indexOf", "lastIndexOf", "charAt", "format", "all", "exists", "exists_one", "map", "filter",
    "int", "uint", "double", "string", "bool", "bytes", "type", "dyn", "bind", "cel.bind",
}


@functools.cache
def _engine() -> Any:
    import cel  # common-expression-language
    from cel.stdlib import add_stdlib_to_context

    logging.getLogger("cel").setLevel(logging.ERROR)
    return cel, add_stdlib_to_context


def compile_error(exc: BaseException) -> str:
    """The engine's compile error as one short line (its parser lists every expected token)."""
    text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^Failed to parse expression '.*?': (ERROR: <input>:)?", "", text)
    text = re.sub(r" expecting \{.*$", "", text)
    return text if len(text) <= 160 else text[:157] + "..."


def compile_expression(expr: str) -> Any:
    """Parse ``expr``; raises ValueError with the engine's message on a syntax error."""
    cel, _ = _engine()
    return cel.compile(expr)


def static_problems(expr: str) -> list[str]:
    """What the apiserver would reject before evaluating: length, syntax, unknown functions."""
    problems: list[str] = []
    if len(expr) > MAX_LENGTH:
        problems.append(f"longer than {MAX_LENGTH} characters")
    try:
        program = compile_expression(expr)
    except Exception as exc:  # the engine raises ValueError (and others) on syntax errors
        return problems + [f"does not compile: {compile_error(exc)}"]
    problems += cost_problems(expr)
    refs = program.references() if hasattr(program, "references") else None
    if refs is not None:
        functions = set(getattr(refs, "functions", None) or (refs.get("functions", []) if isinstance(refs, dict) else []))
        unknown = sorted(f for f in functions if f not in FUNCTIONS and f not in STANDARD and not f.startswith(("_", "@")))
        if unknown:
            problems.append(f"unknown function(s): {', '.join(unknown)}")
    return problems


def cost_bound(expr: str) -> int | None:
    """A conservative upper bound of the apiserver's estimated cost, or None if not bounded here.

    Without comprehension macros or regular expressions, evaluation visits each operation once, and
    no operation costs more than a comparison of two strings (string literals are at most as long as
    the expression, attribute strings at most 64 characters); so tokens × (1 + longest string) bounds
    the cost. Macros iterate over collections and ``matches`` runs a regex: their cost depends on sizes
    this tool does not model, so they are not bounded here.
    """
    literals = _STRING.findall(expr)
    bare = _STRING.sub("''", expr)
    if _UNBOUNDED.search(bare):
        return None
    longest = max([_MAX_ATTR_STRING] + [len(lit) for lit in literals])
    return len(_TOKEN.findall(bare)) * (1 + longest)


def cost_problems(expr: str) -> list[str]:
    bound = cost_bound(expr)
    if bound is None:
        return ["uses a macro or regex: its estimated cost is not bounded here; check it with "
                "kubectl apply --dry-run=server"]
    if bound > MAX_COST:
        return [f"cost bound {bound} exceeds the limit {MAX_COST}"]
    return []


def device_value(driver: str, attributes: dict[str, dict[str, Any]],
                 capacity: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The ``device`` variable: version attributes become semvers, capacities quantities."""
    attrs: dict[str, dict[str, Any]] = {}
    for domain, values in attributes.items():
        out: dict[str, Any] = {}
        for k, v in values.items():
            if isinstance(v, tuple) and v and v[0] == "version":
                out[k] = semver(v[1])
            else:
                out[k] = v
        attrs[domain] = out
    caps = {d: {k: quantity(str(v)) for k, v in vals.items()} for d, vals in capacity.items()}
    return {"driver": driver, "attributes": attrs, "capacity": caps}


#: Comprehension macros nested deeper than this are not evaluated: each level multiplies the work by
#: the size of a list (nine nested ``.all()`` over ten elements are 10^9 steps: a hang), and this
#: tool does not estimate the cost the way the apiserver does (it refuses more than MAX_COST).
MAX_MACRO_DEPTH = 2
_MACRO = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(")


def macro_depth(expr: str) -> int:
    """How deeply comprehension macros nest in ``expr`` (string literals ignored)."""
    bare = _STRING.sub("''", expr)
    stack: list[bool] = []  #: open parentheses: True for a macro's
    depth = best = 0
    i = 0
    while i < len(bare):
        m = _MACRO.match(bare, i)
        if m:
            stack.append(True)
            depth += 1
            best = max(best, depth)
            i = m.end()
            continue
        c = bare[i]
        if c == "(":
            stack.append(False)
        elif c == ")" and stack:
            depth -= stack.pop()
        i += 1
    return best


class Evaluator:
    """Evaluates selectors against devices; compiled programs are cached."""

    def __init__(self) -> None:
        self._programs: dict[str, Any] = {}

    def evaluate(self, expr: str, device: dict[str, Any]) -> bool:
        """True/False; raises RuntimeError when evaluation fails (the scheduler aborts then)."""
        cel, add_stdlib = _engine()
        program = self._programs.get(expr)
        if program is None:
            if macro_depth(expr) > MAX_MACRO_DEPTH:
                raise RuntimeError(f"not evaluated: comprehension macros nested {macro_depth(expr)} deep (more "
                                   f"than {MAX_MACRO_DEPTH}); their cost is not bounded here (the apiserver "
                                   f"refuses an estimated cost over {MAX_COST:,}: check it with kubectl apply "
                                   "--dry-run=server)")
            try:
                program = cel.compile(expr)
            except Exception as exc:  # a selector that does not compile fails allocation too
                raise RuntimeError(f"does not compile: {compile_error(exc)}") from None
            self._programs[expr] = program
        ctx = cel.Context()
        add_stdlib(ctx)
        for name, fn in FUNCTIONS.items():
            ctx.add_function(name, fn)
        # attributes missing for a domain read as an empty map (dra-api.md §1.7)
        attrs = _DefaultMaps(device["attributes"])
        caps = _DefaultMaps(device["capacity"])
        ctx.add_variable("device", {"driver": device["driver"], "attributes": attrs.full(expr),
                                    "capacity": caps.full(expr)})
        try:
            result = program.execute(ctx)
        except Exception as exc:
            raise RuntimeError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        if not isinstance(result, bool):
            raise RuntimeError(f"selector returned {type(result).__name__}, not bool")
        return result


class _DefaultMaps:
    """Unknown domains are empty maps: add every domain the expression names."""

    _DOMAIN = re.compile(r"\[\s*['\"]([^'\"]+)['\"]\s*\]")

    def __init__(self, maps: dict[str, dict[str, Any]]) -> None:
        self.maps = maps

    def full(self, expr: str) -> dict[str, dict[str, Any]]:
        out = dict(self.maps)
        for domain in self._DOMAIN.findall(expr):
            out.setdefault(domain, {})
        return out
