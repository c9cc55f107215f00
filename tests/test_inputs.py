"""What the tool reads and writes besides well-formed manifests: special files in every position,
bounded reads (stdin too), the config file, the --templates side file, and writes that fail."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.text import sources
from migrator.cli import main
from migrator.errors import InvalidInput
from migrator.mode import Mode
from migrator.runner import _write, process_one

EXE = Path(sys.executable).parent / "dra-migrate"
SNAPSHOT = Path(__file__).parent / "snapshots" / "fleet.yaml"
TIMEOUT = 60  # a hang fails the test instead of the suite

GPU = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: NAME
    spec:
      template:
        spec:
          containers:
          - name: c
            image: x
            resources:
              limits:
                nvidia.com/gpu: 1
    """)


def gpu(name: str) -> str:
    return GPU.replace("NAME", name)


def cli(args: list[str], cwd: Path, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], cwd=cwd, stdin=stdin, capture_output=True, text=True,
                          timeout=TIMEOUT)


def one_line_errors(stderr: str) -> None:
    assert "Traceback" not in stderr
    for line in stderr.splitlines():
        assert len(line) < 400, line


# ---- special files in every position -------------------------------------------------------------

def make_special(path: Path, kind: str) -> str:
    """Create a special file at ``path``; returns the word the error must use."""
    if kind == "fifo":
        os.mkfifo(path)
        return "a FIFO"
    if kind == "socket":
        here = os.getcwd()
        os.chdir(path.parent)  # AF_UNIX paths are limited to ~107 bytes
        try:
            s = socket.socket(socket.AF_UNIX)
            s.bind(path.name)
            s.close()
        finally:
            os.chdir(here)
        return "a socket"
    if kind == "devzero":
        path.symlink_to("/dev/zero")
        return "a character device"
    if kind == "dir":
        path.mkdir()
        return "a directory"
    raise AssertionError(kind)


KINDS = ["fifo", "socket", "devzero", "dir"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["in-dir", "by-name", "config", "templates"])
def test_special_files_never_hang_and_never_stop_the_batch(tmp_path: Path, kind: str, where: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()
    (repo / "a.yaml").write_text(gpu("a"))
    (repo / "z.yaml").write_text(gpu("z"))
    (repo / "m.yaml").write_text(gpu("m"))
    args = ["rewrite", "--write"]
    special = {"in-dir": repo / "s.yaml", "by-name": repo / "s.yaml", "config": repo / ".dra-migrate.yaml",
               "templates": repo / "m-claim-templates.yaml"}[where]
    word = make_special(special, kind)
    if where == "in-dir":
        args += ["--follow-symlinks", "."]  # /dev/zero is outside the root: follow it to reach it
    elif where == "by-name":
        args += ["a.yaml", "s.yaml", "m.yaml", "z.yaml"]
    elif where == "config":
        args += ["."]
    else:
        args += ["--templates", "file", "."]
    proc = cli(args, repo)
    one_line_errors(proc.stderr)
    if kind == "dir" and where in ("in-dir", "by-name"):
        # a directory named *.yaml is searched like any directory: there is nothing wrong with it
        assert proc.returncode == 0, proc.stderr
        assert all("resourceClaimTemplateName" in (repo / f"{n}.yaml").read_text() for n in "amz")
        return
    assert proc.returncode == 2, proc.stderr
    if kind == "devzero" and where in ("config", "templates"):  # a link out of the root: not even looked at
        assert "symlink to /dev/zero, outside the" in proc.stderr
    else:
        assert f"{word}, not a regular file" in proc.stderr
    assert str(special.name) in proc.stderr
    if where == "config":  # a broken config stops every command that reads it, before any write
        assert all((repo / f"{n}.yaml").read_text() == gpu(n) for n in "amz")
        listed = cli(["rules", "list"], repo)
        assert listed.returncode == 0 and "GPU001" in listed.stdout
        return
    if where == "templates":  # m.yaml cannot have its templates file: neither is written
        assert (repo / "m.yaml").read_text() == gpu("m")
        assert "m.yaml not rewritten" in proc.stderr
        assert all("resourceClaimTemplateName" in (repo / f"{n}.yaml").read_text() for n in "az")
        assert all((repo / f"{n}-claim-templates.yaml").is_file() for n in "az")
        return
    assert all("resourceClaimTemplateName" in (repo / f"{n}.yaml").read_text() for n in "amz")


def test_a_path_swapped_for_a_fifo_after_the_check_does_not_hang(tmp_path: Path, monkeypatch) -> None:
    """The belt: a FIFO that passes the stat check (a race) is opened non-blocking and refused."""
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    regular = os.stat(__file__)
    real_stat = os.stat
    monkeypatch.setattr(sources.os, "stat", lambda p, *a, **k: regular if str(p) == str(fifo) else real_stat(p, *a, **k))
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("open() blocked on a FIFO"))
    signal.alarm(10)
    try:
        with pytest.raises(InvalidInput, match="a FIFO, not a regular file"):
            sources.read_bytes(str(fifo))
    finally:
        signal.alarm(0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 4096), delta=st.integers(-3, 3), lie=st.booleans())
def test_every_read_is_bounded(tmp_path_factory, monkeypatch, limit: int, delta: int, lie: bool) -> None:
    """Files and stdin: up to the limit is read, one byte more is refused, whatever the size says."""
    monkeypatch.setattr(sources, "MAX_BYTES", limit)
    size = max(0, limit + delta)
    path = tmp_path_factory.mktemp("b") / "f.yaml"
    path.write_bytes(b"a" * size)
    if lie:  # /proc files and growing files report a size that is not what read() returns
        real = os.stat

        def stat(p: Any, *a: Any, **k: Any) -> os.stat_result:
            st_ = real(p, *a, **k)
            return os.stat_result((*st_[:6], 0, *st_[7:10])) if str(p) == str(path) else st_

        monkeypatch.setattr(sources.os, "stat", stat)
    import io

    if size <= limit:
        assert sources.read_bytes(str(path))[0] == b"a" * size
        assert sources.read_stdin(io.BytesIO(b"a" * size)) == b"a" * size
    else:
        with pytest.raises(InvalidInput, match="larger than"):
            sources.read_bytes(str(path))
        with pytest.raises(InvalidInput, match="<stdin>: input is larger than"):
            sources.read_stdin(io.BytesIO(b"a" * size))
    monkeypatch.undo()


@pytest.mark.parametrize("args", [["rewrite", "-"], ["scan", "-"], ["preview", "-"], ["krm"], ["post-render"],
                                  ["verify", "-", "--cluster", str(SNAPSHOT)],
                                  ["plan", "-", "--cluster", str(SNAPSHOT)]])
def test_an_endless_stdin_is_refused_at_the_cap(tmp_path: Path, args: list[str]) -> None:
    with open("/dev/zero", "rb") as zero:
        proc = cli(args, tmp_path, stdin=zero)
    one_line_errors(proc.stderr)
    # krm: a ResourceList with an error result and exit 1, as the KRM functions spec asks
    assert proc.returncode == (1 if args == ["krm"] else 2)
    assert "<stdin>: input is larger than 32 MiB" in proc.stderr + proc.stdout  # preview: in the comment


def test_stdin_with_templates_file_is_refused_not_lost(tmp_path: Path) -> None:
    proc = subprocess.run([str(EXE), "rewrite", "--templates", "file", "-"], input=gpu("a"), capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert proc.returncode == 2 and "use --templates inline" in proc.stderr
    assert "resourceClaimTemplateName" not in proc.stdout  # never a workload naming a lost template


# ---- the config file ------------------------------------------------------------------------------

VALID: dict[str, list[Any]] = {
    "include": ["*.yaml", ["*.yaml", "*.yml"], []],
    "exclude": ["vendor/*", ["a/*"]],
    "namespaces": ["prod", ["prod", "default"]],
    "kube-version": ["1.35", "1.32", "1.38"],
    "templates": ["inline", "file"],
    "keep-node-labels": [True, False],
    "sharing": ["timeslicing", "mps"],
    "convert-unknown": [True, False],
    "gitops": ["argocd", "helm", "flux"],
}
WRONG: dict[str, Any] = {"string": "bogus", "int": 7, "float": 1.5, "bool": True, "list": [1, 2],
                         "mapping": {"a": 1}, "date": "DATE"}
# the kinds of WRONG each key accepts; YAML timestamps stay strings (documents.scalar_value)
ACCEPTS = {"include": {"string"}, "exclude": {"string"}, "namespaces": {"string"}, "kube-version": set(),
           "templates": set(), "keep-node-labels": {"bool"}, "sharing": set(), "convert-unknown": {"bool"},
           "gitops": set()}
YAML_ACCEPTS = {"include": {"date"}, "exclude": {"date"}, "namespaces": {"date"}}


def yaml_value(v: Any) -> str:
    if v == "DATE":
        return "2024-01-01"
    import json

    return json.dumps(v)  # JSON is YAML: every value above keeps its type


def toml_value(v: Any) -> str:
    if v == "DATE":
        return "2024-01-01"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    import json

    return json.dumps(v)


def write_config(repo: Path, fmt: str, body: dict[str, Any], pad: int = 0) -> Path:
    """The settings in ``body`` after ``pad`` lines of comments; returns the file."""
    if fmt == "yaml":
        path = repo / ".dra-migrate.yaml"
        path.write_text("# c\n" * pad + "".join(f"{k}: {yaml_value(v)}\n" for k, v in body.items()))
    else:
        path = repo / "pyproject.toml"
        path.write_text("[project]\nname = 'x'\n" + "# c\n" * pad + "[tool.dra-migrate]\n"
                        + "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items()))
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.yaml").write_text(gpu("a"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


CASES = [(fmt, key, kind) for fmt in ("yaml", "toml") for key in VALID for kind in WRONG
         if kind not in ACCEPTS[key] and not (fmt == "yaml" and kind in YAML_ACCEPTS.get(key, ()))]


@pytest.mark.parametrize("fmt,key,kind", CASES)
def test_every_wrong_type_for_every_key_is_one_line_naming_file_line_and_key(repo: Path, capsys, fmt: str,
                                                                             key: str, kind: str) -> None:
    path = write_config(repo, fmt, {"include": "*", key: WRONG[kind]}, pad=3)
    for command in (["rewrite", "."], ["scan", "."], ["preview", "."]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        line = 5 if fmt == "yaml" else 8  # after the padding and the include line
        if key == "include":
            line -= 1
        assert err.startswith(f"dra-migrate: {path}:{line}: {key}: "), err
    assert (repo / "a.yaml").read_text() == gpu("a")
    assert main(["rules", "list"]) == 0 and "GPU001" in capsys.readouterr().out
    assert main(["--version"]) == 0


@pytest.mark.parametrize("fmt", ["yaml", "toml"])
@pytest.mark.parametrize("key", list(VALID))
def test_every_valid_value_is_accepted(repo: Path, capsys, fmt: str, key: str) -> None:
    for value in VALID[key]:
        write_config(repo, fmt, {key: value})
        assert main(["rewrite", "--check", "."]) in (0, 1), capsys.readouterr().err
        capsys.readouterr()


def test_config_values_reach_the_commands(repo: Path, capsys) -> None:
    (repo / ".dra-migrate.yaml").write_text("kube-version: 1.33\ngitops: argocd\nkeep-node-labels: null\n")
    assert main(["rewrite", "."]) == 0
    out = capsys.readouterr().out
    assert "resource.k8s.io/v1beta2" in out and "argocd.argoproj.io/sync-wave" in out
    # unquoted 1.40 is the text 1.40 (not a choice yet), never the float 1.4 (refused as too old)
    (repo / ".dra-migrate.yaml").write_text("kube-version: 1.40\n")
    assert main(["rewrite", "."]) == 2
    err = capsys.readouterr().err
    assert "1.40: expected one of 1.32" in err and "1.4:" not in err and "too old" not in err
    (repo / ".dra-migrate.yaml").unlink()
    (repo / "pyproject.toml").write_text("[tool.dra-migrate]\nkube-version = 1.40\n")
    assert main(["rewrite", "."]) == 2
    assert 'quote it: kube-version = "1.35"' in capsys.readouterr().err


@pytest.mark.parametrize("where", ["config", "flag"])
def test_gitops_flux_is_accepted_where_documented(repo: Path, capsys, where: str) -> None:
    flags = ["--gitops", "flux"] if where == "flag" else []
    if where == "config":
        (repo / ".dra-migrate.yaml").write_text("gitops: flux\n")
    assert main(["rewrite", *flags, "--templates", "file", "--write", "."]) == 0, capsys.readouterr().err
    side = (repo / "a-claim-templates.yaml").read_text()
    assert "kind: ResourceClaimTemplate" in side and "annotations" not in side  # flux: no annotations
    assert main(["plan", *flags, ".", "--cluster", str(SNAPSHOT), "--format", "json"]) in (0, 1)
    assert "Flux" in capsys.readouterr().out
    assert main(["rewrite", "--gitops", "spinnaker", "."]) == 2


BOMB = "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
BROKEN_YAML = {
    "not-utf8": (b"include: '*.yaml'\n# \xff\xfe\n", ":2: not UTF-8 text"),
    "alias-bomb": (b"a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + BOMB.encode(), "alias bomb"),
    "invalid": (b"include: [\n", "invalid YAML"),
    "two-documents": (b"include: x\n---\nexclude: y\n", ":3: expected one YAML document"),
    "not-a-mapping": (b"- include\n", ":1: expected a mapping of settings"),
    "unknown-key": (b"include: x\nbogus: 1\n", ":2: unknown setting 'bogus'"),
    "duplicate-key": (b"include: x\ninclude: y\n", ":2: duplicate key 'include'"),
    "merge-key": (b"b: &b {include: x}\n<<: *b\n", ":2: merge keys (<<) are not supported"),
    "binary": (b"include: x\x00\n", "binary file"),
    "huge": (b"# " + b"x" * (33 * 1024 * 1024) + b"\n", "larger than 32 MiB"),
    "bad-namespace": (b"namespaces: [Prod_1]\n", ":1: namespaces: 'Prod_1' is not a namespace name"),
    "old-version": (b"kube-version: '1.31'\n", ":1: kube-version: 1.31: structured DRA needs"),
}
BROKEN_TOML = {
    "not-utf8": (b"[tool.dra-migrate]\ninclude = 'x'\n# \xff\n", ":3: not UTF-8 text"),
    "invalid": (b"[tool.dra-migrate]\ninclude = [\n", "invalid TOML"),
    "not-a-table": (b"[tool]\ndra-migrate = 3\n", ":2: [tool.dra-migrate] must be a table"),
    "unknown-key": (b"[tool.dra-migrate]\nbogus = 1\n", ":2: unknown setting 'bogus'"),
}


@pytest.mark.parametrize("name,content,message",
                         [(f"yaml-{k}", *v) for k, v in BROKEN_YAML.items()]
                         + [(f"toml-{k}", *v) for k, v in BROKEN_TOML.items()])
def test_broken_config_fails_config_commands_cleanly_and_leaves_the_others(tmp_path: Path, monkeypatch, capsys,
                                                                         name: str, content: bytes,
                                                                         message: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.yaml").write_text(gpu("a"))
    config = tmp_path / (".dra-migrate.yaml" if name.startswith("yaml") else "pyproject.toml")
    config.write_bytes(content)
    proc = cli(["rewrite", "--write", "."], tmp_path)  # the console script, as users run it
    one_line_errors(proc.stderr)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert str(config) in proc.stderr and message in proc.stderr, proc.stderr
    monkeypatch.chdir(tmp_path)
    for args in (["scan", "."], ["preview", "."], ["verify", ".", "--cluster", str(SNAPSHOT)],
                 ["plan", ".", "--cluster", str(SNAPSHOT)], ["post-render"]):
        monkeypatch.setattr(sys, "stdin", open(os.devnull))
        assert main(args) == 2, args
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and str(config) in err and message in err and not out, (args, err)
    assert (tmp_path / "a.yaml").read_text() == gpu("a")
    for args in (["rules", "list"], ["rules", "explain", "GPU001"], ["--version"], ["rewrite", "--help"]):
        assert main(args) == 0, args
        out, err = capsys.readouterr()
        assert out and not err, (args, err)
    (tmp_path / "m.py").write_text("x = 1\n")
    assert main(["codemod", "m.py"]) == 0  # takes no settings from it
    assert str(config) not in capsys.readouterr().err


def test_a_config_symlink_out_of_the_project_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("password-of-the-ci: hunter2\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "a.yaml").write_text(gpu("a"))
    (repo / ".dra-migrate.yaml").symlink_to(secret)
    proc = cli(["scan", "."], repo)
    assert proc.returncode == 2 and "outside the project" in proc.stderr and "hunter2" not in proc.stderr
    (repo / "shared.yaml").write_text("include: ['*.yaml']\n")  # a link inside the project is fine
    (repo / ".dra-migrate.yaml").unlink()
    (repo / ".dra-migrate.yaml").symlink_to(repo / "shared.yaml")
    assert cli(["scan", "."], repo).returncode == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(list(VALID)),
       value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                          | st.text(max_size=12) | st.sampled_from([v for vs in VALID.values() for v in vs
                                                                    if isinstance(v, str)]),
                          lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=2),
                          max_leaves=6))
def test_any_value_is_accepted_exactly_when_it_has_the_documented_type(tmp_path_factory, key: str,
                                                                       value: Any) -> None:
    import yaml

    from migrator.config import load_config

    d = tmp_path_factory.mktemp("cfg")
    (d / ".git").mkdir()
    (d / ".dra-migrate.yaml").write_text(yaml.safe_dump({key: value}))
    ok = value is None or _oracle(key, value)
    try:
        cfg = load_config(d)
    except InvalidInput as exc:
        assert not ok, exc
        assert "\n" not in str(exc) and f":1: {key}: " in str(exc)
        return
    assert ok, value
    if value is not None:
        got = getattr(cfg, key) if key in ("include", "exclude", "namespaces") else cfg.flags[key]
        assert got == (tuple([value] if isinstance(value, str) else value)
                       if key in ("include", "exclude", "namespaces") else value)


def _oracle(key: str, v: Any) -> bool:
    """The documented types, written independently of migrator/config.py."""
    import re

    if key in ("include", "exclude"):
        return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
    if key == "namespaces":
        items = [v] if isinstance(v, str) else v
        return isinstance(items, list) and all(isinstance(x, str) and re.fullmatch(
            r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", x) for x in items)
    if key in ("keep-node-labels", "convert-unknown"):
        return isinstance(v, bool)
    if key == "kube-version":
        m = isinstance(v, str) and re.fullmatch(r"\s*v?1\.(\d+)(\.\d+)?\s*", v)
        return bool(m) and int(m.group(1)) >= 32
    return v in {"templates": ("inline", "file"), "sharing": ("timeslicing", "mps"),
                 "gitops": ("argocd", "helm", "flux")}[key]


# ---- the --templates side file -------------------------------------------------------------------

def side_setup(tmp_path: Path, target: str) -> tuple[Path, Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret-claim-templates.yaml"
    secret.write_text("# SECRET-CONTENT\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "sub").mkdir()
    (repo / "a.yaml").write_text(gpu("a"))
    (repo / "b.yaml").write_text(gpu("b"))
    link = repo / "a-claim-templates.yaml"
    if target == "outside-file":
        link.symlink_to(secret)
    elif target == "outside-dir":
        link.symlink_to(outside)
    elif target == "outside-fifo":
        os.mkfifo(outside / "fifo")
        link.symlink_to(outside / "fifo")
    elif target == "dangling":
        link.symlink_to(outside / "missing.yaml")
    elif target == "self-loop":
        link.symlink_to(link.name)
    elif target == "fifo":
        os.mkfifo(link)
    elif target == "inside":
        (repo / "sub" / "shared.yaml").write_text("# inside\n")
        link.symlink_to(repo / "sub" / "shared.yaml")
    return repo, link, secret


@pytest.mark.parametrize("target", ["outside-file", "outside-dir", "outside-fifo", "dangling", "self-loop", "fifo",
                                    "inside"])
@pytest.mark.parametrize("how", ["--write", "--diff", "--check"])
@pytest.mark.parametrize("given", ["dir", "name"])
def test_the_templates_file_obeys_the_root_and_symlink_rules(tmp_path: Path, target: str, how: str,
                                                             given: str) -> None:
    repo, link, secret = side_setup(tmp_path, target)
    paths = [str(repo)] if given == "dir" else [str(repo / "a.yaml"), str(repo / "b.yaml")]
    proc = cli(["rewrite", how, "--templates", "file", *paths], tmp_path)
    one_line_errors(proc.stderr)
    assert "SECRET-CONTENT" not in proc.stdout + proc.stderr
    assert secret.read_text() == "# SECRET-CONTENT\n"
    assert link.is_symlink() or target == "fifo"  # never replaced by a copy
    for d, _, names in os.walk(repo):  # nothing of it was copied into the repository
        for n in names:
            p = Path(d) / n
            assert p.is_symlink() or not p.is_file() or "SECRET" not in p.read_text()
    if how == "--write":
        assert "resourceClaimTemplateName" in (repo / "b.yaml").read_text()
        assert "kind: ResourceClaimTemplate" in (repo / "b-claim-templates.yaml").read_text()
    if target == "inside":  # followed: written at its target, the link stays a link
        assert proc.returncode == (1 if how == "--check" else 0), proc.stderr
        if how == "--write":
            assert (repo / "sub" / "shared.yaml").read_text().startswith("# inside\n---\n")
            assert "resourceClaimTemplateName" in (repo / "a.yaml").read_text()
        return
    assert proc.returncode == 2, proc.stderr
    assert "a-claim-templates.yaml" in proc.stderr and "a.yaml not rewritten" in proc.stderr
    # one line says it (the walk found the link too: not a second report of the same thing)
    assert sum("a-claim-templates.yaml" in line for line in proc.stderr.splitlines()) == 1, proc.stderr
    assert "pod templates: 1 converted" in proc.stderr  # b's; a's pod was not converted
    assert (repo / "a.yaml").read_text() == gpu("a")
    assert "a.yaml" not in proc.stdout  # no diff for the input whose templates cannot be written
    if target == "outside-file":
        assert "outside the given directory: not followed" in proc.stderr
        again = cli(["rewrite", "--write", "--follow-symlinks", "--templates", "file", *paths], tmp_path)
        assert again.returncode == 0 and "kind: ResourceClaimTemplate" in secret.read_text()


def _fail_input(kind: str, path: Path, monkeypatch) -> str:
    """Make writing the input ``path`` fail in one way; returns the words of its error."""
    if kind == "read-only":
        path.chmod(0o444)
        return "read-only file"
    if kind == "changed":
        time.sleep(0.01)
        path.write_text(path.read_text() + "# edited\n")
        return "changed on disk"
    if kind == "deleted":
        path.unlink()
        return "deleted since it was read; not recreated"
    if kind == "hard-linked":
        os.link(path, path.with_name("other-link"))
        return "has 2 hard links"
    if kind == "rename-fails":  # the last step, after the templates file is already in place
        real = os.replace

        def replace(src: Any, dst: Any) -> None:
            if str(dst) == str(path):
                raise OSError(errno.EIO, "Input/output error")
            real(src, dst)

        monkeypatch.setattr(sources.os, "replace", replace)
        return "cannot write: Input/output error"
    raise AssertionError(kind)


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("kind", ["read-only", "changed", "deleted", "hard-linked", "rename-fails"])
def test_a_templates_file_is_written_only_with_its_input(tmp_path: Path, monkeypatch, kind: str,
                                                         existing: bool) -> None:
    inp = tmp_path / "a.yaml"
    inp.write_text(gpu("a"))
    side = tmp_path / "a-claim-templates.yaml"
    if existing:
        side.write_text("# kept\n")
    result = process_one(str(inp), Mode(placement="file"))
    assert result.changed and result.extra_files
    words = _fail_input(kind, inp, monkeypatch)
    written = _write(result)
    assert written.error and words in written.error and "\n" not in written.error
    assert side.read_text() == "# kept\n" if existing else not side.exists()
    if kind != "deleted":
        assert "resourceClaimTemplateName" not in inp.read_text()
    else:
        assert not inp.exists()
    assert not list(tmp_path.glob(".dra-migrate-*"))


# ---- writes that fail -------------------------------------------------------------------------

ERRNOS = [errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EMFILE, errno.EIO, errno.ENOTDIR]


def _raise(code: int) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise OSError(code, os.strerror(code))
    return fail


def _in(bad: Path, path: Any) -> bool:
    return str(path).startswith(str(bad))


def _fd_in(bad: Path, fd: int) -> bool:
    return os.readlink(f"/proc/self/fd/{fd}").startswith(str(bad))


@pytest.mark.parametrize("code", ERRNOS, ids=[errno.errorcode[c] for c in ERRNOS])
@pytest.mark.parametrize("step", ["mkstemp", "write", "fchmod", "replace", "link"])
def test_a_write_that_fails_is_one_line_per_file_and_the_batch_goes_on(tmp_path: Path, monkeypatch, capsys,
                                                                       step: str, code: int) -> None:
    """Read-only directory or filesystem, no space, no inodes...: root ignores chmod, so the
    failures are injected where the OS would report them, for the files of one directory."""
    for n in "abc":
        (tmp_path / n).mkdir()
        (tmp_path / n / f"{n}.yaml").write_text(gpu(n))
    bad = tmp_path / "b"
    args = ["rewrite", "--write", "-j", "1", "--templates", "file", str(tmp_path)]

    def fail() -> None:
        raise OSError(code, os.strerror(code))

    if step == "mkstemp":
        import tempfile  # sources imports it where it writes (start-up): the module's attribute is patched

        real_mkstemp = tempfile.mkstemp
        monkeypatch.setattr(tempfile, "mkstemp",
                            lambda **k: fail() if _in(bad, k["dir"]) else real_mkstemp(**k))
    elif step == "write":  # the data does not fit
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, fd: int, mode: str) -> None:
                self.fh = real_fdopen(fd, mode)
                self.bad = _fd_in(bad, fd)

            def __enter__(self) -> Full:
                return self

            def __exit__(self, *a: Any) -> None:
                self.fh.close()

            def fileno(self) -> int:
                return self.fh.fileno()

            def write(self, data: bytes) -> int:
                if self.bad:
                    fail()
                return self.fh.write(data)

        monkeypatch.setattr(sources.os, "fdopen", Full)
    elif step == "fchmod":
        real_fchmod = os.fchmod
        monkeypatch.setattr(sources.os, "fchmod", lambda fd, m: fail() if _fd_in(bad, fd) else real_fchmod(fd, m))
    elif step == "replace":
        real_replace = os.replace
        monkeypatch.setattr(sources.os, "replace", lambda a, b: fail() if _in(bad, b) else real_replace(a, b))
    else:  # the new templates file is created with link(): a name that appeared meanwhile is kept
        real_link = os.link
        monkeypatch.setattr(sources.os, "link", lambda a, b: (_ for _ in ()).throw(FileExistsError(
            errno.EEXIST, "exists")) if _in(bad, b) else real_link(a, b))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if str(tmp_path) in line]
    assert len(errors) == 1 and str(bad / "b") in errors[0], err  # one line, for b only
    assert (bad / "b.yaml").read_text() == gpu("b")  # untouched, and no templates file without it
    assert not (bad / "b-claim-templates.yaml").exists()
    for n in "ac":  # the batch went on
        assert "resourceClaimTemplateName" in (tmp_path / n / f"{n}.yaml").read_text()
        assert (tmp_path / n / f"{n}-claim-templates.yaml").is_file()
    assert not list(tmp_path.rglob(".dra-migrate-*"))


def test_a_directory_replaced_by_a_file_between_read_and_write(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.yaml").write_text(gpu("a"))
    result = process_one(str(d / "a.yaml"), Mode())
    (d / "a.yaml").unlink()
    d.rmdir()
    d.write_text("now a file\n")
    written = _write(result)
    assert written.error and "\n" not in written.error and str(d / "a.yaml") in written.error
    assert d.read_text() == "now a file\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to other users")
@pytest.mark.parametrize("uid,gid", [(1234, 5678), (0, 4321), (65534, 0), (4242, 4242)])
def test_owner_and_group_are_kept(tmp_path: Path, uid: int, gid: int) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(gpu("a"))
    os.chown(p, uid, gid)
    p.chmod(0o640)
    assert main(["rewrite", "--write", "-q", str(p)]) == 0
    st_ = p.stat()
    assert "resourceClaimTemplateName" in p.read_text()
    assert (st_.st_uid, st_.st_gid, st_.st_mode & 0o777) == (uid, gid, 0o640)


def test_an_owner_that_cannot_be_kept_is_reported(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(gpu("a"))
    real = os.stat
    monkeypatch.setattr(sources.os, "stat", lambda q, *a, **k: os.stat_result(
        (*real(q)[:4], 4242, *real(q)[5:])) if str(q) == str(p) else real(q, *a, **k))
    monkeypatch.setattr(sources.os, "fchown", _raise(errno.EPERM))
    with pytest.raises(InvalidInput, match="owned by 4242:.*cannot keep"):
        sources.write_atomic(str(p), b"x", None)
    assert p.read_text() == gpu("a") and not list(tmp_path.glob(".dra-migrate-*"))


@pytest.mark.parametrize("links", [2, 3])
@pytest.mark.parametrize("side", [False, True])
def test_a_file_with_hard_links_is_reported_not_split(tmp_path: Path, capsys, links: int, side: bool) -> None:
    target = tmp_path / ("a-claim-templates.yaml" if side else "a.yaml")
    (tmp_path / "a.yaml").write_text(gpu("a"))
    if side:
        target.write_text("# existing\n")
    others = tmp_path / "others"
    others.mkdir()
    for i in range(links - 1):
        os.link(target, others / f"l{i}")
    before = target.read_text()
    assert main(["rewrite", "--write", "--templates", "file", str(tmp_path / "a.yaml")]) == 2
    assert f"has {links} hard links" in capsys.readouterr().err
    assert target.read_text() == before and target.stat().st_nlink == links
    assert (tmp_path / "a.yaml").read_text() == gpu("a")


def test_new_files_get_the_umask_mode_not_mkstemps_0600(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(gpu("a"))
    old = os.umask(0o027)
    try:
        sources._umask = None
        assert main(["rewrite", "--write", "--templates", "file", str(tmp_path)]) == 0
    finally:
        os.umask(old)
        sources._umask = None
    assert (tmp_path / "a-claim-templates.yaml").stat().st_mode & 0o777 == 0o640


# ---- temp files left by a killed run -----------------------------------------------------------

def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("name,kind,pid,age,removed", [
    (".dra-migrate-{pid}-abcd1234.tmp", "file", "dead", 100, True),
    (".dra-migrate-{pid}-a_c9z0x1.tmp", "file", "dead", 100, True),
    (".dra-migrate-{pid}-abcd1234.tmp", "file", "alive", 100, False),  # a live run's temp file
    (".dra-migrate-{pid}-abcd1234.tmp", "file", "dead", -100, False),  # younger than this run
    (".dra-migrate-{pid}-abcd1234.tmp", "symlink", "dead", 100, False),
    (".dra-migrate-{pid}-abcd1234.tmp", "dir", "dead", 100, False),
    (".dra-migrate-{pid}-abcd123.tmp", "file", "dead", 100, False),  # not our exact pattern
    (".dra-migrate-{pid}-ABCD1234.tmp", "file", "dead", 100, False),
    ("x.dra-migrate-{pid}-abcd1234.tmp", "file", "dead", 100, False),
    (".dra-migrate-{pid}-abcd1234.tmp.bak", "file", "dead", 100, False),
    (".dra-migrate-abcd1234.tmp", "file", "dead", 100, False),
])
def test_temp_files_of_killed_runs_are_swept_and_nothing_else(tmp_path: Path, name: str, kind: str, pid: str,
                                                              age: int, removed: bool) -> None:
    (tmp_path / "a.yaml").write_text(gpu("a"))
    p = tmp_path / name.format(pid=_dead_pid() if pid == "dead" else os.getpid())
    if kind == "file":
        p.write_text("half\n")
    elif kind == "dir":
        p.mkdir()
    else:
        p.symlink_to(tmp_path / "a.yaml")
    t = sources._STARTED - age
    os.utime(p, (t, t), follow_symlinks=False)
    sources._swept.discard(str(tmp_path))
    assert main(["rewrite", "--write", "-q", str(tmp_path)]) == 0
    assert os.path.lexists(p) != removed
    assert "resourceClaimTemplateName" in (tmp_path / "a.yaml").read_text()


def test_the_run_after_a_sigkill_removes_its_temp_files(tmp_path: Path) -> None:
    texts = {}
    for i in range(300):
        p = tmp_path / f"f{i:03d}.yaml"
        p.write_text(gpu(f"w{i}") + "x: " + "y" * 50_000 + "\n")
        texts[p] = p.read_text()
    proc = subprocess.Popen([str(EXE), "rewrite", "--write", "-j", "1", "-q", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = list(texts)[:20]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and all(p.read_text() == texts[p] for p in first):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # what a SIGKILL between mkstemp and the rename leaves (the real one may or may not be there)
    leftover = tmp_path / f".dra-migrate-{proc.pid}-zzzzzzzz.tmp"
    leftover.write_text("half a file\n")
    assert any(p.read_text() == t for p, t in texts.items())  # killed with work left to do
    done = cli(["rewrite", "--write", "-q", str(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob(".dra-migrate-*"))
    assert all("resourceClaimTemplateName" in p.read_text() for p in texts)
