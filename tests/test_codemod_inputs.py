"""The codemod on hostile and awkward input: deep nesting, templates files it did not write,
failed writes, symlinks; and the shortcuts that make it fast give libcst's own answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.integrations.codemod import (SIDE_MARKER, _run, lines_of, might_matter, nesting,
                              parse_guarded, run_codemod, templates_path, walk)
from migrator.errors import InvalidInput

EXE = Path(sys.executable).parent / "dra-migrate"
HERE = Path(__file__).resolve().parent
GOOD = (HERE / "codemod" / "dict-pods" / "input.py").read_text()
REPO = HERE.parent


def codemod(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "codemod", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


# ---- nesting -------------------------------------------------------------------------------------

#: Each shape nests ``n`` levels deep; the GPU name keeps the file past the pre-filter.
SHAPES = {
    "list": lambda n: "x = " + "[" * n + "]" * n,
    "call": lambda n: "x = " + "f(" * n + ")" * n,
    "dict": lambda n: "x = " + "{'a': " * n + "1" + "}" * n,
    "subscript": lambda n: "x = " + "a[" * n + "0" + "]" * n,
    "fstring": lambda n: "x = " + "f'{" * n + "1" + "}'" * n,
    "lambda": lambda n: "x = " + "lambda: " * n + "1",
    "unary": lambda n: "x = " + "-" * n + "1",
    "not": lambda n: "x = " + "not " * n + "1",
    "power": lambda n: "x = " + "**".join(["2"] * n),
    "sum": lambda n: "x = " + " + ".join(["1"] * n),
    "boolean": lambda n: "x = " + " and ".join(["a"] * n),
    "ternary": lambda n: "x = " + "1 if a else " * n + "1",
    "attribute": lambda n: "x = a" + ".b" * n,
    "callchain": lambda n: "x = a" + "()" * n,
    "strings": lambda n: "x = (" + " ".join(["'a'"] * n) + ")",
    "blocks": lambda n: "".join(" " * i + "if x:\n" for i in range(min(n, 99))) + " " * min(n, 99) + "pass",
    # an elif is nested in the if before it; 12,000 branches crashed libcst's parser (SIGSEGV)
    "elif": lambda n: "if a:\n    x = 1\n" + "".join(f"elif a:\n    x = {i}\n" for i in range(2 * n)),
}
#: Around the limits, and where libcst itself dies (SIGSEGV from ~1,100 nested f-strings or
#: ~1,200 brackets, RecursionError from a tree ~245 deep).
SIZES = [60, 150, 300, 1300, 6000]


def deep_source(shape: str, n: int) -> str:
    return f'GPU = {{"nvidia.com/gpu": 1}}\n{SHAPES[shape](n)}\n'


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_deep_nesting_is_one_error_and_the_batch_goes_on(tmp_path: Path, shape: str) -> None:
    """Every shape at every size: in a batch with good files before and after, through the console
    script (a SIGSEGV would be a negative return code): exit 2 with a one-line error naming the
    file, or processed; never a crash; the good files are rewritten all the same."""
    (tmp_path / "a_good.py").write_text(GOOD)
    (tmp_path / "z_good.py").write_text(GOOD)
    for n in SIZES:
        (tmp_path / f"m_{n:05d}.py").write_text(deep_source(shape, n))
    before = {p.name: p.read_bytes() for p in tmp_path.glob("m_*.py")}
    proc = codemod("--write", str(tmp_path))
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "nested too deeply" in line or "deeper than" in line]
    assert errors == [line for line in proc.stderr.splitlines() if line.startswith(str(tmp_path / "m_"))
                      and "GPU110" not in line]
    assert all(Path(e.split(":", 1)[0]).name in before for e in errors)
    assert (proc.returncode == 2) == bool(errors)
    assert any(str(n) in e for e in errors for n in (1300, 6000)) or shape == "blocks"  # these must be refused
    for name, data in before.items():  # nothing converts in them: each is untouched
        assert (tmp_path / name).read_bytes() == data
    for good in ("a_good.py", "z_good.py"):
        assert (tmp_path / good).read_text() != GOOD
        assert (tmp_path / templates_path(good)).is_file()


WRAPPERS = ["[{}]", "f({})", "{{'k': {}}}", "a[{}]", "-{}", "not {}", "({} + 1)", "{} + 1", "lambda: {}",
            "({}).b", "{}()", "'s' {}", "f'{{{}}}'", "1 if {} else 2", "({},)"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(WRAPPERS), min_size=1, max_size=500))
def test_any_nesting_parses_or_is_refused(wrappers: list[str]) -> None:
    """Random compositions of nesting constructs, up to 500 deep: a result or InvalidInput,
    never RecursionError (in-process: the guard, not luck, must keep libcst's recursion low)."""
    expr = '"nvidia.com/gpu"'
    for w in wrappers:
        expr = w.format(expr)
    try:
        run_codemod(f"x = {expr}\n", "deep.py")
    except InvalidInput as exc:
        assert exc.path == "deep.py" and "\n" not in str(exc)


def test_the_estimate_bounds_the_tree() -> None:
    """What the guard relies on: the lexical estimate is never below libcst's tree depth."""
    import libcst as cst

    for shape in SHAPES:
        for n in (5, 40, 120, 300):
            depth = walk(cst.parse_module(deep_source(shape, n))).depth
            assert nesting(deep_source(shape, n))[0] >= depth - 8, (shape, n, depth)


# ---- the templates file ----------------------------------------------------------------------------

def _prepare(tmp: Path, state: str) -> tuple[Path, Path, bytes | None]:
    py = tmp / "pods.py"
    py.write_text(GOOD)
    side = Path(templates_path(str(py)))
    outside = tmp.parent / f"{tmp.name}-outside.yaml"
    if state == "ours, another template":
        side.write_text(f"{SIDE_MARKER} from pods.py: the ResourceClaimTemplates it names.\n---\n"
                        "apiVersion: resource.k8s.io/v1\nkind: ResourceClaimTemplate\nmetadata: {name: older}\n"
                        "spec: {spec: {devices: {requests: []}}}  # a comment of the user's\n")
    elif state == "ours, no newline at the end":
        side.write_text(f"{SIDE_MARKER} from pods.py: the ResourceClaimTemplates it names.")
    elif state == "someone else's":
        side.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n")
    elif state == "empty":
        side.write_text("")
    elif state == "ours but invalid YAML":
        side.write_text(f"{SIDE_MARKER}\nkey: [unclosed\n")
    elif state == "symlink out of the root":
        outside.write_text(f"{SIDE_MARKER} outside\n")
        side.symlink_to(outside)
    elif state == "dangling symlink":
        side.symlink_to(tmp / "nowhere.yaml")
    elif state == "directory":
        side.mkdir()
    elif state == "fifo":
        os.mkfifo(side)
    return py, side, side.read_bytes() if side.is_file() and not side.is_symlink() else None


SIDE_STATES = {  # state -> written?
    "absent": True, "ours, another template": True, "ours, no newline at the end": True,
    "someone else's": False, "empty": False, "ours but invalid YAML": False, "symlink out of the root": False,
    "dangling symlink": False, "directory": False, "fifo": False,
}


@pytest.mark.parametrize("state", SIDE_STATES)
def test_templates_file_is_ours_or_nothing_is_written(tmp_path: Path, state: str) -> None:
    py, side, side_before = _prepare(tmp_path, state)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside_before = outside.read_bytes() if outside.exists() else None
    for mode in ("--check", "--diff", "--write"):
        proc = codemod(mode, str(tmp_path))
        assert "Traceback" not in proc.stderr
        if not SIDE_STATES[state]:
            assert proc.returncode == 2 and f"{side}:" in proc.stderr and "not rewritten" in proc.stderr
    if SIDE_STATES[state]:
        assert proc.returncode == 0, proc.stderr
        assert py.read_text() != GOOD
        text = side.read_text()
        assert text.startswith(SIDE_MARKER) and "kind: ResourceClaimTemplate" in text
        if side_before is not None:
            assert text.encode().startswith(side_before)  # appended, every byte of it kept
        again = codemod("--write", str(tmp_path))  # a second run changes nothing
        assert again.returncode == 0 and side.read_text() == text and "would rewrite" not in again.stderr
    else:
        assert py.read_text() == GOOD
        if side_before is not None:
            assert side.read_bytes() == side_before
        assert side.is_symlink() or side.is_dir() or side.is_fifo() or side_before is not None
    if outside_before is not None:
        assert outside.read_bytes() == outside_before


@pytest.mark.parametrize("state", ["absent", "ours, another template"])
def test_second_write_failing_takes_the_first_back(tmp_path: Path, state: str) -> None:
    py, side, side_before = _prepare(tmp_path, state)
    py.chmod(0o444)  # write_atomic refuses a read-only file, even as root
    proc = codemod("--write", str(py))
    assert proc.returncode == 2 and "read-only" in proc.stderr and "nothing written" in proc.stderr
    assert py.read_text() == GOOD
    assert (side.read_bytes() if side.exists() else None) == side_before
    assert not list(tmp_path.glob(".dra-migrate-*"))


def test_inputs_follow_the_yaml_rules(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    outside = tmp_path / "outside.py"
    outside.write_text(GOOD)
    (root / "pkg" / "link.py").symlink_to(outside)
    (root / "pkg" / "pods.py").write_text(GOOD)
    (root / "pkg" / "notes.txt").write_text(GOOD)
    proc = codemod("--write", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "link.py: symlink to" in proc.stderr and "not followed" in proc.stderr
    assert outside.read_text() == GOOD and not (tmp_path / "outside-claim-templates.yaml").exists()
    assert (root / "pkg" / "pods.py").read_text() != GOOD and (root / "pkg" / "notes.txt").read_text() == GOOD
    missing = codemod(str(root / "nope.py"))
    assert missing.returncode == 2 and "nope.py: no such file" in missing.stderr


# ---- the fast paths give libcst's answers ---------------------------------------------------------

def _python_files() -> list[Path]:
    files = sorted((REPO / "migrator").rglob("*.py")) + sorted((REPO / "tests").rglob("*.py"))
    corpus = REPO.parent / "shared" / "corpus"
    return files + (sorted(corpus.rglob("*.py")) if corpus.is_dir() else [])


SNIPPETS = """
@deco(f("nvidia.com/gpu"))
class C(Base(g()), metaclass=M(h())):
    @prop(k())
    def m(self, a=d1(), /, b=d2(), *c, e=d3(), **kw) -> r(): return {"a": x() if y() else z()}
try:
    t()
except E(u()) as err:
    v()
match q():
    case [P(w())] if guard():
        body()
lam = lambda a=l1(): l2()
s = ("a" "b" f"{c()}" 'd')
"""


def test_walk_and_lines_match_libcst_providers() -> None:
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    kinds = (cst.Call, cst.Dict, cst.SimpleString, cst.Assign, cst.Name)
    for source in [SNIPPETS] + [p.read_text(encoding="utf-8") for p in _python_files()]:
        module = cst.parse_module(source)
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        tree = walk(module)
        assert [id(n) for n in tree.nodes if isinstance(n, kinds)] == [id(n) for n in positions if isinstance(n, kinds)]
        wanted = [n for n in tree.nodes if isinstance(n, (cst.Call, cst.Dict, cst.SimpleString))]
        lines = lines_of(module, wanted)
        assert [lines[id(n)] for n in wanted] == [positions[n].start.line for n in wanted]


ESCAPES = ['"nvidia\\x2ecom/gpu"', '"\\u006evidia.com/gpu"', '"nvidia.com\\N{SOLIDUS}gpu"', '"nvidia.com/\\147pu"',
           "'nvi\\\ndia.com/gpu'"]


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: p.name)
def test_prefilter_only_skips_files_with_nothing_to_say(path: Path) -> None:
    """The pre-filter against the full analysis, on real files and on copies whose GPU names are
    spelt with escapes: a file it skips has no finding and no change."""
    source = path.read_text(encoding="utf-8")
    variants = [source] + [source.replace('"nvidia.com/gpu"', e) for e in ESCAPES if '"nvidia.com/gpu"' in source]
    for text in variants:
        try:
            module, tree = parse_guarded(text, str(path))
        except InvalidInput:
            continue
        full = _run(text, str(path), module, tree)
        if not might_matter(text):
            assert full.findings == [] and full.after == text
        else:
            assert run_codemod(text, str(path)).findings == full.findings
