"""scan as a CI gate: --fail-on, --select/--ignore, --exit-zero, --statistics, the JSON schema of
its findings and the GitHub annotations format."""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paths import CASES, CORPUS
from helpers import cli
from migrator.mode import WriteBack
from migrator.model import FileResult, Finding, ObjectRef, Status
from migrator.output import github_annotations, github_command
from migrator.report import Report, RuleFilter
from migrator.transforms import BY_CODE

SCHEMA = Path(__file__).resolve().parent.parent / "migrator" / "scan.schema.json"


def run_cli(args: list[str]) -> tuple[int, str, str]:
    return cli(*args)


# ---- oracles, written independently of migrator.report ------------------------------------------

def oracle_keeps(code: str, select: list[str], ignore: list[str]) -> bool:
    """ruff's resolution, walked from the most specific prefix of ``code`` to the least."""
    norm = lambda xs: {"" if x.upper() == "ALL" else x.upper() for v in xs for x in v.split(",")}  # noqa: E731
    sel, ign = norm(select) if select else {""}, norm(ignore)
    for n in range(len(code), -1, -1):
        if code[:n] in ign:
            return False
        if code[:n] in sel:
            return True
    return False


THRESHOLD = {"manual": {"manual"}, "skipped": {"manual", "skipped"},
             "any": {"manual", "skipped", "converted", "info"}}


def oracle_exit(statuses: list[tuple[str, str]], error: bool, fail_on: str, select: list[str],
                ignore: list[str], exit_zero: bool) -> int:
    """README "Exit codes" for scan: 2 on unprocessable input, else 1 when a kept finding is at or
    above --fail-on (unless --exit-zero), else 0."""
    if error:
        return 2
    if exit_zero:
        return 0
    return int(any(oracle_keeps(code, select, ignore) and status in THRESHOLD[fail_on]
                   for code, status in statuses))


# One code per status, as the real files below produce them.
CODE_OF = {"converted": "GPU000", "skipped": "GPU109", "manual": "GPU103", "info": "GPU107"}
SELECTIONS = [([], []), (["ALL"], []), (["GPU1"], []), (["GPU0"], []), (["GPU10"], ["GPU103"]),
              (["GPU103"], ["GPU1"]), ([], ["GPU1"]), (["gpu1", "GPU000"], ["GPU10"]),
              (["GPU1"], ["GPU1"]), (["GPU000,GPU109"], []), ([], ["ALL"]), (["GPU107"], ["GPU"])]


@pytest.mark.parametrize("fail_on", sorted(THRESHOLD))
@pytest.mark.parametrize("exit_zero", [False, True])
@pytest.mark.parametrize("select,ignore", SELECTIONS)
def test_gate_table(fail_on: str, exit_zero: bool, select: list[str], ignore: list[str]) -> None:
    """Every combination of statuses present (and an unprocessable file or not) gives the
    documented exit code."""
    rules = RuleFilter.parse(select, ignore, BY_CODE)
    for k in range(len(CODE_OF) + 1):
        for present in itertools.combinations(sorted(CODE_OF), k):
            for error in (False, True):
                findings = tuple(Finding(CODE_OF[s], Status(s), "m", "f.yaml", 1) for s in present)
                report = Report(WriteBack.DIFF, [FileResult("f.yaml", "", "", findings)])
                if error:
                    report.add(FileResult("bad.yaml", None, None, (), "bad.yaml:1: invalid YAML"))
                want = oracle_exit([(CODE_OF[s], s) for s in present], error, fail_on, select, ignore, exit_zero)
                assert report.filtered(rules).scan_code(fail_on, exit_zero) == want, (present, error)


CODES = sorted(BY_CODE)
PREFIXES = sorted({c[:n] for c in CODES for n in range(3, len(c) + 1)} | {"ALL"})


@given(st.lists(st.sampled_from(PREFIXES), max_size=4), st.lists(st.sampled_from(PREFIXES), max_size=4))
def test_rule_filter_matches_ruff_resolution(select: list[str], ignore: list[str]) -> None:
    rules = RuleFilter.parse(select, ignore, BY_CODE)
    for code in CODES:
        assert rules.keeps(code) == oracle_keeps(code, select, ignore), code


@pytest.mark.parametrize("args", [["--select", "GPU8"], ["--ignore", "XYZ"], ["--select", "GPU1,GPU77"],
                                  ["--fail-on", "warning"], ["--format", "github", "--statistics"],
                                  ["--format", "sarif", "--statistics"], ["--format", "yaml"]])
def test_bad_gate_flags_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "a.yaml").write_text(FILES["manual"])
    code, out, err = run_cli(["scan", *args, str(tmp_path)])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# ---- the real command over real files -----------------------------------------------------------

FILES = {
    "converted": """\
        apiVersion: v1
        kind: Pod
        metadata: {name: conv}
        spec:
          containers:
          - {name: c, image: x, resources: {limits: {nvidia.com/gpu: 1}}}
        """,
    "skipped": """\
        apiVersion: v1
        kind: Pod
        metadata: {name: skip, annotations: {dra-migrate/skip: "true"}}
        spec:
          containers:
          - {name: c, image: x, resources: {limits: {nvidia.com/gpu: 1}}}
        """,
    "manual": """\
        apiVersion: v1
        kind: Pod
        metadata: {name: manual}
        spec:
          containers:
          - {name: c, image: x, resources: {limits: {nvidia.com/gpu.shared: 1}}}
        """,
    "info": """\
        apiVersion: karpenter.sh/v1
        kind: NodePool
        metadata: {name: gpu}
        spec:
          limits: {nvidia.com/gpu: 4}
        """,
}
FILES = {k: textwrap.dedent(v) for k, v in FILES.items()}
BAD = "a: [\n# nvidia.com/gpu\n"


@pytest.fixture(scope="module")
def gate_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gate")
    for status, text in FILES.items():
        (root / f"{status}.yaml").write_text(text)
    (root / "bad.yaml").write_text(BAD)
    return root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(present=st.sets(st.sampled_from(sorted(FILES))), error=st.booleans(),
       fail_on=st.sampled_from(sorted(THRESHOLD)), selection=st.sampled_from(SELECTIONS),
       exit_zero=st.booleans(), fmt=st.sampled_from(["text", "json", "github"]))
def test_gate_cli(gate_tree: Path, present: set[str], error: bool, fail_on: str,
                  selection: tuple[list[str], list[str]], exit_zero: bool, fmt: str) -> None:
    select, ignore = selection
    paths = [str(gate_tree / f"{s}.yaml") for s in sorted(present)] + ([str(gate_tree / "bad.yaml")] * error)
    if not paths:
        return
    args = ["scan", "-q", "--format", fmt, "--fail-on", fail_on, *(["--exit-zero"] * exit_zero)]
    args += [a for s in select for a in ("--select", s)] + [a for i in ignore for a in ("--ignore", i)]
    code, out, _ = run_cli(args + paths)
    want = oracle_exit([(CODE_OF[s], s) for s in present], error, fail_on, select, ignore, exit_zero)
    assert code == want
    kept = {CODE_OF[s] for s in present if oracle_keeps(CODE_OF[s], select, ignore)}
    if fmt == "json":
        data = json.loads(out)
        assert data["exitCode"] == code
        assert {f["rule"] for file in data["files"] for f in file["findings"]} == kept
    elif fmt == "github":
        lines = out.splitlines()
        assert {re.search(r"title=(GPU\d{3})", x).group(1) for x in lines if "title=GPU" in x} == kept
        errors = [x for x in lines if x.startswith("::error ") and "title=GPU" in x]
        failing = 0 if exit_zero else len([s for s in present if CODE_OF[s] in kept and s in THRESHOLD[fail_on]])
        assert len(errors) == failing
    else:
        assert {m.group(1) for m in re.finditer(r" (GPU\d{3}) ", out)} == kept


def test_default_gate_fails_on_manual_only(gate_tree: Path) -> None:
    assert run_cli(["scan", str(gate_tree / "converted.yaml"), str(gate_tree / "skipped.yaml"),
                    str(gate_tree / "info.yaml")])[0] == 0
    code, _, err = run_cli(["scan", str(gate_tree / "manual.yaml")])
    assert code == 1 and "1 finding(s) fail --fail-on manual" in err


# ---- --statistics ------------------------------------------------------------------------------

def test_statistics_count_every_code() -> None:
    code, out, _ = run_cli(["scan", "-q", "--format", "json", "--exit-zero", str(CASES)])
    assert code == 0
    findings = [f for file in json.loads(out)["files"] for f in file["findings"]]
    want = Counter(f["rule"] for f in findings)
    _, stats_out, _ = run_cli(["scan", "-q", "--format", "json", "--statistics", str(CASES)])
    stats = json.loads(stats_out)
    assert {s["code"]: s["count"] for s in stats} == want
    assert [s["count"] for s in stats] == sorted(want.values(), reverse=True)
    for s in stats:
        assert s["statuses"] == dict(Counter(f["status"] for f in findings if f["rule"] == s["code"]))
        assert s["name"] == BY_CODE[s["code"]].NAME
    _, text, _ = run_cli(["scan", "-q", "--statistics", str(CASES)])
    rows = [line.split("\t") for line in text.splitlines()]
    assert [(int(r[0]), r[1], r[2].strip()) for r in rows] == [(s["count"], s["code"], s["name"]) for s in stats]
    _, text, _ = run_cli(["scan", "-q", "--statistics", "--select", "GPU1", "--ignore", "GPU107", str(CASES)])
    assert {line.split("\t")[1] for line in text.splitlines()} == \
        {c for c in want if c.startswith("GPU1") and c != "GPU107"}


# ---- the JSON schema: typed fields on the fixtures and the corpus -------------------------------

def _check_scan_json(data: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(data)
    counts: Counter[str] = Counter()
    for file in data["files"]:
        for f in file["findings"]:
            counts[f["status"]] += 1
            assert f["file"] == file["file"] or file["file"] == "-"
            assert f["rule"] in BY_CODE and f["ruleName"] == BY_CODE[f["rule"]].NAME
            assert (f["code"], f["message"]) == (f["rule"], f["reason"])
            if f["kind"] is None:
                assert f["workload"] == "" and f["name"] is None and f["namespace"] is None
            else:
                ns = f"{f['namespace']}/" if f["namespace"] else ""
                assert f["workload"] == f"{f['kind']} {ns}{f['name'] or '<unnamed>'}"
                assert f["apiVersion"]
    for status in ("converted", "skipped", "manual", "info"):
        assert data["summary"][status] == counts[status]
    assert data["summary"]["filesFailed"] == sum(1 for f in data["files"] if f["error"])


@pytest.mark.parametrize("root", [CASES, CORPUS], ids=["cases", "corpus"])
def test_scan_json_schema(root: Path) -> None:
    if not root.is_dir():
        pytest.skip(f"{root} is not present")
    code, out, _ = run_cli(["scan", "-q", "--format", "json", "--fail-on", "any", str(root)])
    data = json.loads(out)
    assert data["exitCode"] == code
    assert sum(len(f["findings"]) for f in data["files"]) > 10
    _check_scan_json(data)


YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
NAMES = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(lambda s: s not in YAML_WORDS)
API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1", "Pod": "v1"}


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(API)), name=NAMES, namespace=st.none() | NAMES,
       containers=st.lists(NAMES, min_size=1, max_size=4, unique=True), data=st.data())
def test_findings_carry_object_and_container(kind: str, name: str, namespace: str | None,
                                             containers: list[str], data) -> None:
    """The object and container of a finding come from the manifest, not from a parsed label."""
    from migrator.engine import migrate_text
    from migrator.mode import Mode
    from migrator.output import finding_json

    bad = data.draw(st.sampled_from(containers))
    pad = "  " if kind == "Pod" else "      "
    ctrs = "".join(f"{pad}- name: {c}\n{pad}  image: x\n{pad}  resources: {{limits: {{nvidia.com/gpu: "
                   f"{'$N' if c == bad else 1}}}}}\n" for c in containers)
    meta = f"metadata:\n  name: {name}\n" + (f"  namespace: {namespace}\n" if namespace else "")
    spec = "spec:\n  containers:\n" if kind == "Pod" else "spec:\n  template:\n    spec:\n      containers:\n"
    text = f"apiVersion: {API[kind]}\nkind: {kind}\n{meta}{spec}{ctrs}"
    (f,) = [f for f in migrate_text(text, "x.yaml", Mode()).findings if f.code == "GPU102"]
    j = finding_json(f)
    assert (j["kind"], j["name"], j["namespace"], j["apiVersion"], j["container"], j["line"]) == \
        (kind, name, namespace, API[kind], bad, text[:text.index(spec)].count("\n") + spec.count("\n"))
    _check_scan_json({"schemaVersion": 2, "exitCode": 0, "files": [
        {"file": "x.yaml", "changed": False, "error": None, "findings": [j]}],
        "summary": {"files": 1, "filesChanged": 0, "filesFailed": 0, "converted": 0, "skipped": 1,
                    "manual": 0, "info": 0}})


# ---- --format github: escaping round-trips through the runner's parser -------------------------

def cs_split2(s: str, sep: str) -> list[str]:
    """C# ``s.Split(sep, 2, StringSplitOptions.RemoveEmptyEntries)`` (.NET Core: empty entries
    are skipped before the first piece and before the rest)."""
    i = 0
    while s.startswith(sep, i):
        i += 1
    end = s.find(sep, i)
    if end < 0:
        return [s[i:]] if s[i:] else []
    rest = s[end + 1:].lstrip(sep)
    return [s[i:end], rest] if rest else [s[i:end]]


def runner_parse(line: str) -> tuple[str, dict[str, str], str] | None:
    """actions/runner src/Runner.Common/ActionCommand.cs TryParseV2 and its unescaping, in Python."""
    data_map = [("%0D", "\r"), ("%0A", "\n"), ("%25", "%")]
    prop_map = [("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")]

    def unescape(s: str, mapping: list[tuple[str, str]]) -> str:
        for rep, tok in mapping:
            s = s.replace(rep, tok)
        return s

    line = line.lstrip()
    if not line.startswith("::"):
        return None
    end = line.find("::", 2)
    if end < 0:
        return None
    info = line[2:end]
    space = info.find(" ")
    command = info if space < 0 else info[:space]
    props: dict[str, str] = {}
    if space > 0:
        for prop in (p for p in info[space + 1:].strip().split(",") if p):
            pair = cs_split2(prop, "=")
            if len(pair) == 2:
                props[pair[0].lower()] = unescape(pair[1], prop_map)
    return command, props, unescape(line[end + 2:], data_map)


PIECES = ["%", ":", "::", ",", "=", "\r", "\n", "\r\n", " ", "\t", "%0A", "%25", "%3A", "%2C", "%0D"]
TEXT = st.lists(st.characters(codec="utf-8") | st.sampled_from(PIECES), max_size=20).map("".join)


def representable(value: str) -> bool:
    return bool(value) and not value.startswith("=") and value.strip() == value


@given(message=TEXT, file=TEXT, title=TEXT, line=st.none() | st.integers(1, 10**6),
       level=st.sampled_from(["error", "warning", "notice"]))
def test_github_command_round_trips(message: str, file: str, title: str, line: int | None, level: str) -> None:
    cmd = github_command(level, message, file, line, title)
    assert "\n" not in cmd and "\r" not in cmd  # one workflow command, one line
    parsed = runner_parse(cmd)
    assert parsed is not None
    command, props, data = parsed
    assert command == level
    assert props.get("title") == (title if representable(title) else None)
    if representable(file):
        assert props["file"] == file and data == message
        assert props.get("line") == (str(line) if line else None)
    else:
        assert "file" not in props and "line" not in props
        assert data.endswith(message) and (not file or data.startswith(file))


@given(kind=TEXT.filter(bool), name=TEXT, namespace=st.none() | TEXT, message=TEXT, path=TEXT.filter(bool))
def test_github_annotations_of_hostile_names(kind: str, name: str, namespace: str | None, message: str,
                                             path: str) -> None:
    """Names, messages and paths come from scanned repositories: none may start a second command
    or leak into another property."""
    f = Finding("GPU103", Status.MANUAL, message, path, 3, ObjectRef(kind, name or None, namespace or None, "v1"))
    report = Report(WriteBack.DIFF, [FileResult(path, "", "", (f,))])
    out = github_annotations(report, frozenset({Status.MANUAL}))
    assert out.endswith("\n") and out.count("\n") == 1
    command, props, data = runner_parse(out[:-1])
    assert command == "error" and props["title"] == "GPU103 (sharing)"
    assert data == f"manual: {f.workload}: {message}" or data.endswith(f"manual: {f.workload}: {message}")


def test_sarif_results_carry_the_object(gate_tree: Path) -> None:
    code, out, _ = run_cli(["scan", "--format", "sarif", *(str(gate_tree / f"{s}.yaml") for s in sorted(FILES))])
    assert code == 1
    run = json.loads(out)["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == set(BY_CODE) and all(r["help"]["text"] for r in rules.values())
    props = {r["ruleId"]: r["properties"] for r in run["results"]}
    assert props["GPU103"] == {"status": "manual", "podSpec": "/spec", "apiVersion": "v1", "kind": "Pod",
                               "name": "manual", "namespace": None, "container": "c"}
    assert props["GPU107"]["kind"] == "NodePool" and "container" not in props["GPU107"]


@pytest.mark.parametrize("given,want", [("./a/x.yaml", "a/x.yaml"), ("././x.yaml", "x.yaml"),
                                        ("../x.yaml", "../x.yaml"), (".hidden/x.yaml", ".hidden/x.yaml"),
                                        ("a/./x.yaml", "a/./x.yaml"), ("-", ""), ("<stdin>", ""),
                                        ("/nowhere/x.yaml", "/nowhere/x.yaml")])
def test_artifact_paths(given: str, want: str, monkeypatch, tmp_path: Path) -> None:
    from migrator.output import artifact_path

    monkeypatch.chdir(tmp_path)
    assert artifact_path(given) == want
    assert artifact_path(str(tmp_path / "d" / "x.yaml")) == "d/x.yaml"


@pytest.mark.parametrize("value", ["", ",", " , ", ",,"])
def test_an_empty_select_is_a_usage_error_not_select_nothing(value: str) -> None:
    from migrator.errors import MigratorError
    from migrator.report import RuleFilter
    from migrator.transforms import BY_CODE

    with pytest.raises(MigratorError, match="no rule code given"):
        RuleFilter.parse([value], None, BY_CODE)
    assert RuleFilter.parse(None, [value], BY_CODE) is not None  # an empty --ignore ignores nothing
