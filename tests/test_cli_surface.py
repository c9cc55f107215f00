"""The command line as a user meets it: usage errors, help, completion, colour, diffs git applies,
the warnings shown by default."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import typer

from migrator.cli import app, main

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def _commands() -> dict[str, Any]:
    """Every leaf command by its path (``rules explain``), from the app itself: new commands are
    covered without touching this file."""
    out: dict[str, Any] = {}

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, path + [name])
        else:
            out[" ".join(path)] = cmd

    walk(typer.main.get_command(app), [])
    return out


COMMANDS = _commands()


def _choices(p: Any) -> tuple[str, ...]:
    """A parameter's choices (click keeps them on its type; typer 0.29 on its type_descriptor)."""
    found = getattr(getattr(p, "type", None), "choices", None) or \
        getattr(getattr(p, "type_descriptor", None), "choices", None) or ()
    return tuple(str(getattr(c, "value", c)) for c in found)


def _choice_options() -> list[tuple[str, str, tuple[str, ...]]]:
    return [(path, p.opts[0], _choices(p)) for path, cmd in COMMANDS.items() for p in cmd.params
            if p.param_type_name == "option" and _choices(p)]


CHOICES = _choice_options()


def _args_for(path: str) -> list[str]:
    """The smallest argument list the command accepts (its required arguments and options)."""
    cmd = COMMANDS[path]
    args: list[str] = []
    for p in cmd.params:
        if p.required and p.param_type_name == "option":
            args += [p.opts[0], str(EXAMPLES / "inference-vllm.yaml")]
        elif p.required:
            args.append(str(EXAMPLES / "inference-vllm.yaml"))
    return args


def _one_line_usage_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    cap = capsys.readouterr()
    assert code == 2, (argv, cap.err)
    lines = cap.err.splitlines()
    assert len(lines) == 1, (argv, cap.err)
    assert "Traceback" not in cap.err and "--help" in lines[0], (argv, cap.err)
    return lines[0]


def test_the_shared_options_reach_every_command_that_rewrites() -> None:
    def opts(path: str) -> set[str]:
        return {o for p in COMMANDS[path].params for o in p.opts}

    for path in ("rewrite", "scan", "verify", "plan", "preview", "codemod", "post-render"):
        assert "--kube-version" in opts(path), path
    for path in ("rewrite", "scan", "verify", "plan", "preview", "post-render"):  # codemod: no node selection
        assert {"--convert-unknown", "--keep-node-labels"} <= opts(path), path
    for path in ("rewrite", "codemod"):
        assert {"-v", "-q", "--color"} <= opts(path), path
    for path in ("rewrite", "scan"):
        assert {"-q", "-j"} <= opts(path), path
    for path in ("rewrite", "scan", "verify", "codemod"):  # the commands with a summary line
        assert "-q" in opts(path), path
    for path in ("rewrite", "scan", "verify", "plan", "preview", "codemod"):  # they walk directories
        assert "--follow-symlinks" in opts(path), path
    for path in ("rewrite", "scan", "verify", "plan", "preview", "post-render"):
        assert "--sharing" in opts(path), path
    for path in ("rewrite", "plan", "preview", "post-render"):
        assert "--gitops" in opts(path), path
    # one definition per concept: the same flags, help and choices wherever it appears
    by_name: dict[str, set[tuple[Any, ...]]] = {}
    for cmd in COMMANDS.values():
        for p in cmd.params:
            if p.name in ("kube_version", "templates", "sharing", "gitops", "convert_unknown",
                          "keep_node_labels", "verbose", "quiet", "jobs", "color", "follow_symlinks"):
                by_name.setdefault(p.name, set()).add(
                    (tuple(p.opts), tuple(p.secondary_opts), p.help, _choices(p)))
    assert all(len(v) == 1 for v in by_name.values()), {k: v for k, v in by_name.items() if len(v) > 1}


def _readme_synopsis() -> dict[str, set[str]]:
    """The options each command lists in the README's Commands block (continuation lines joined)."""
    text = (REPO / "README.md").read_text()
    block = text.split("## Commands", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    out: dict[str, set[str]] = {}
    current = None
    for line in block.splitlines():
        if line.startswith("dra-migrate "):
            words = line.split()[1:]
            name = " ".join(w for w in words[:2] if re.fullmatch(r"[a-z-]+", w))
            current = name if name in COMMANDS else words[0]
            out[current] = set()
        assert current is not None, line
        out[current] |= set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", line))
    return out


def test_the_readme_lists_every_option_of_every_command() -> None:
    """The synopsis is the complete option list: nothing missing, nothing a command does not take."""
    readme = _readme_synopsis()
    assert set(readme) == set(COMMANDS)
    for path, cmd in COMMANDS.items():
        real = {o for p in cmd.params if p.param_type_name == "option"
                for o in list(p.opts) + list(p.secondary_opts)}
        listed = readme[path]
        # a long option with a short alias may be listed by either name
        for p in cmd.params:
            if p.param_type_name == "option" and any(o in listed for o in p.opts):
                listed |= set(p.opts)
        assert listed == real, (path, sorted(real - listed), sorted(listed - real))


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_unknown_option_is_a_one_line_usage_error(path: str, capsys) -> None:
    line = _one_line_usage_error(capsys, [*path.split(), "--no-such-flag", *_args_for(path)])
    assert "--no-such-flag" in line and line.startswith(f"dra-migrate {path}:")


@pytest.mark.parametrize("path", sorted(p for p, c in COMMANDS.items() if any(x.required for x in c.params)))
def test_missing_argument_is_a_one_line_usage_error(path: str, capsys) -> None:
    line = _one_line_usage_error(capsys, path.split())
    assert "Missing" in line


@pytest.mark.parametrize("path,opt,choices", CHOICES, ids=[f"{p}{o}" for p, o, _ in CHOICES])
def test_a_bad_choice_is_a_usage_error_that_lists_the_choices(path: str, opt: str, choices, capsys) -> None:
    for bad in ("bogus", choices[0].upper() if choices[0].upper() != choices[0] else "9.99", choices[0] + "x"):
        line = _one_line_usage_error(capsys, [*path.split(), opt, bad, *_args_for(path)])
        assert opt in line and all(f"'{c}'" in line for c in choices), line


def test_every_declared_choice_is_accepted(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.yaml").write_text((EXAMPLES / "inference-vllm.yaml").read_text())
    (tmp_path / "a.py").write_text((REPO / "tests" / "codemod" / "client-objects" / "input.py").read_text())
    for path, opt, choices in CHOICES:
        if path not in ("rewrite", "scan", "codemod"):
            continue
        for c in choices:
            code = main([*path.split(), opt, c, str(tmp_path / ("a.py" if path == "codemod" else "a.yaml"))])
            assert code in (0, 1), (path, opt, c, capsys.readouterr().err)
    capsys.readouterr()


def test_unknown_command_and_no_arguments(capsys) -> None:
    for argv in (["frobnicate"], ["rules", "frobnicate"], ["rewritee", "x.yaml"]):
        line = _one_line_usage_error(capsys, argv)
        assert argv[-1] in line or argv[0] in line
    for argv in ([], ["rules"]):  # no arguments: the help, exit 2 (click's no_args_is_help)
        assert main(argv) == 2
        cap = capsys.readouterr()
        assert "Usage: dra-migrate" in cap.out + cap.err and "Traceback" not in cap.err


@pytest.mark.parametrize("path", ["rewrite", "scan", "verify", "preview", "plan"])
@pytest.mark.parametrize("paths", [["-", "x.yaml"], ["x.yaml", "-"], ["-", "-"], ["a/", "-", "b.yaml"]])
def test_stdin_mixed_with_paths_is_a_usage_error(path: str, paths: list[str], capsys) -> None:
    extra = ["--cluster", str(REPO / "tests" / "snapshots" / "fleet.yaml")] if path in ("verify", "plan") else []
    line = _one_line_usage_error(capsys, [path, *extra, *paths])
    assert "'-'" in line


def test_usage_errors_in_a_subprocess_leave_stdout_empty() -> None:
    for argv in (["rewrite", "--bogus", "x.yaml"], ["frobnicate"], ["rewrite"], ["rewrite", "--sharing", "x", "y"]):
        proc = subprocess.run([sys.executable, "-m", "migrator", *argv], capture_output=True, text=True,
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 2 and proc.stdout == "", (argv, proc)
        assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr, (argv, proc.stderr)


# ---- help ----------------------------------------------------------------------------------------

def _help(argv: list[str], columns: int) -> str:
    proc = subprocess.run([sys.executable, "-m", "migrator", *argv, "--help"], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": str(columns)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("path", ["", *sorted(COMMANDS)])
def test_help_reads_well(path: str, columns: int) -> None:
    text = _help(path.split(), columns)
    assert max(len(line) for line in text.splitlines()) <= columns
    usage = text.splitlines()[0]
    options = text[text.index("\nOptions:"):]
    # no type metavars after flags and options, no {name} arguments in the usage line
    assert not re.search(r"<(bool|str|int|list\[str\]|text)>|\bTEXT\b|\bINTEGER\b|\bBOOLEAN\b", options), options
    assert "{" not in usage and "<" not in usage, usage
    assert usage.startswith(f"Usage: dra-migrate {path}".rstrip()), usage
    cmd = COMMANDS.get(path)
    for p in cmd.params if cmd else ():
        if p.param_type_name == "argument":
            assert (p.metavar or p.name.upper()) in usage
        if getattr(p, "is_flag", False):  # a flag is shown bare: nothing between it and its help
            heads = [line.strip().split("  ")[0] for line in options.splitlines() if line.startswith("  -")]
            (head,) = [h for h in heads if p.opts[0] in re.split(r"[ ,/]+", h)]
            assert all(t.startswith("-") for t in re.split(r"[ ,/]+", head)), head
        if _choices(p) and p.metavar and p.metavar.startswith("["):
            assert p.metavar == "[" + "|".join(_choices(p)) + "]"
            assert p.metavar in text


@pytest.mark.parametrize("columns", [80, 120, 200])
def test_exit_codes_are_one_per_line(columns: int) -> None:
    text = _help([], columns)
    block = text[text.index("Exit codes:"):].split("\n\n")[0].splitlines()
    codes = [line.split()[0] for line in block[1:] if line.split()[0].isdigit()]
    assert codes == ["0", "1", "2"], block
    # a line that continues code 2's text is indented under it, not at the left margin
    assert all(line.startswith("     ") for line in block[1:] if not line.split()[0].isdigit()), block


def test_kube_version_choices_are_the_versions_api_version_for_maps() -> None:
    from migrator.errors import MigratorError
    from migrator.mode import api_version_for

    (kube,) = {tuple(c) for p, o, c in CHOICES if o == "--kube-version"}
    for v in kube:
        assert api_version_for(v).startswith("resource.k8s.io/")
    minors = [int(v.split(".")[1]) for v in kube]
    assert minors == list(range(min(minors), max(minors) + 1))  # no gaps
    with pytest.raises(MigratorError):
        api_version_for(f"1.{min(minors) - 1}")  # the oldest choice is the oldest with structured DRA


def test_completion_offers_the_choices() -> None:
    for path, opt, choices in CHOICES:
        words = ["dra-migrate", *path.split(), opt, ""]
        env = {**os.environ, "PYTHONPATH": str(REPO), "_DRA_MIGRATE_COMPLETE": "complete_bash",
               "COMP_WORDS": " ".join(words), "COMP_CWORD": str(len(words) - 1)}
        proc = subprocess.run([sys.executable, "-c", "import sys; from migrator.cli import main; sys.exit(main())"],
                              capture_output=True, text=True, env=env, cwd=REPO)
        assert proc.stdout.split() == list(choices), (path, opt, proc.stdout, proc.stderr)
        break  # one subprocess is enough for the mechanism; the choices themselves are checked above


# ---- colour ---------------------------------------------------------------------------------------

class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("flag", [None, True, False])
@pytest.mark.parametrize("no_color", [None, "", "1", "0", "false"])
@pytest.mark.parametrize("tty", [True, False])
def test_colour_decision(flag, no_color, tty, monkeypatch) -> None:
    from migrator.term import wants_colour

    monkeypatch.delenv("TERM", raising=False)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    # https://no-color.org: any non-empty NO_COLOR disables default colour; a flag overrides it
    expected = flag if flag is not None else (tty and not no_color)
    assert wants_colour(_Stream(tty), flag) is expected


def _run_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; returns (exit code, what it showed)."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "migrator", *argv], env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


def test_colour_on_a_terminal_only(tmp_path: Path) -> None:
    src = tmp_path / "a.yaml"
    src.write_text((EXAMPLES / "inference-vllm.yaml").read_text())
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    base.update(PYTHONPATH=str(REPO), TERM="xterm")
    esc = b"\x1b["
    code, shown = _run_on_a_terminal(["rewrite", str(src)], base)
    assert code == 0 and esc + b"32m+" in shown and esc + b"31m-" in shown
    code, shown = _run_on_a_terminal(["rewrite", str(src)], {**base, "NO_COLOR": "1"})
    assert code == 0 and esc not in shown and b"+kind: ResourceClaimTemplate" in shown
    code, shown = _run_on_a_terminal(["rewrite", "--no-color", str(src)], base)
    assert code == 0 and esc not in shown
    code, shown = _run_on_a_terminal(["rewrite", "--color", str(src)], {**base, "NO_COLOR": "1"})
    assert code == 0 and esc in shown  # the flag wins over the variable
    # piped: never, unless asked
    proc = subprocess.run([sys.executable, "-m", "migrator", "rewrite", str(src)], capture_output=True, env=base)
    assert proc.returncode == 0 and esc not in proc.stdout + proc.stderr
    proc = subprocess.run([sys.executable, "-m", "migrator", "rewrite", "--color", str(src)], capture_output=True,
                          env=base)
    assert esc in proc.stdout
    # colour changes nothing else: without the codes it is the plain diff
    plain = subprocess.run([sys.executable, "-m", "migrator", "rewrite", str(src)], capture_output=True, env=base)
    assert re.sub(rb"\x1b\[[0-9;]*m", b"", proc.stdout) == plain.stdout


# ---- diffs git apply accepts ----------------------------------------------------------------------

GPU_POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata:
      name: {name}
    spec:
      containers:
      - name: c
        image: x
        resources:
          limits:
            nvidia.com/gpu: {n}
    """)

LAYOUT = ["top.yaml", "sub/a.yaml", "sub/deeper/b.yml", "with space/c d.yaml", "ünïcode/é.yaml",
          "sub/no-newline.yaml"]


def _repo(tmp_path: Path) -> Path:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    for i, rel in enumerate(LAYOUT):
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        text = GPU_POD.format(name=f"p{i}", n=1 + i % 3)
        f.write_text(text.rstrip("\n") if "no-newline" in rel else text)
    (root / "sub" / "a-claim-templates.yaml").write_text("# existing side file\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for cmd in (["init", "-q"], ["add", "-A"],
                ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        subprocess.run([git, *cmd], cwd=root, check=True, env=env)
    return root


def _git(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, env=env)


def _rewrite(root: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "migrator", "rewrite", *argv], cwd=cwd, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


#: how a user names the inputs, run from the repository root (git apply's working directory)
ARGUMENTS = [
    ["."], ["./"], ["./sub", "top.yaml"], ["sub/", "./top.yaml"], ["sub/../sub", "with space"],
    ["./ünïcode/é.yaml", "./with space/c d.yaml"], ["{root}"], ["{root}/sub", "{root}/top.yaml"],
    ["sub//deeper"], ["sub/./deeper/b.yml", "sub/no-newline.yaml"],
]


@pytest.mark.parametrize("templates", ["inline", "file"])
@pytest.mark.parametrize("args", ARGUMENTS, ids=[" ".join(a) for a in ARGUMENTS])
def test_the_diff_applies_with_git_apply(tmp_path: Path, args: list[str], templates: str) -> None:
    root = _repo(tmp_path)
    argv = [a.replace("{root}", str(root)) for a in args] + ["--templates", templates]
    proc = _rewrite(root, root, *argv)
    assert proc.returncode == 0, proc.stderr
    patch = proc.stdout
    assert b"+++ b/" in patch
    for line in patch.splitlines():
        if line.startswith((b"--- ", b"+++ ")):
            name = line[4:]
            assert name == b"/dev/null" or re.fullmatch(rb"[ab]/[^/].*", name), line
            assert b"/./" not in name and b"/../" not in name and b"//" not in name, line
    check = _git(root, "apply", "--check", "-", stdin=patch)
    assert check.returncode == 0, check.stderr.decode()
    # applying the diff gives exactly what --write writes
    written = tmp_path / "written"
    shutil.copytree(root, written, symlinks=True)
    assert _git(root, "apply", "-", stdin=patch).returncode == 0
    wargv = [a.replace("{root}", str(written)) for a in args] + ["--templates", templates, "--write"]
    assert _rewrite(written, written, *wargv).returncode == 0
    for f in sorted(p for p in written.rglob("*") if p.is_file() and ".git" not in p.parts):
        rel = f.relative_to(written)
        assert (root / rel).read_bytes() == f.read_bytes(), rel
    assert sorted(p.relative_to(root) for p in root.rglob("*") if ".git" not in p.parts) == \
        sorted(p.relative_to(written) for p in written.rglob("*") if ".git" not in p.parts)


def test_diff_name_normalises() -> None:
    from migrator.output import diff_name

    cwd = os.getcwd()
    table = {"./x.yaml": "x.yaml", "a/./b/../c.yaml": "a/c.yaml", "a//b.yaml": "a/b.yaml", "x.yaml": "x.yaml",
             os.path.join(cwd, "k", "x.yaml"): "k/x.yaml", "/elsewhere/x.yaml": "elsewhere/x.yaml"}
    if os.path.dirname(cwd) != cwd:
        table["/" + os.path.relpath("/elsewhere/x.yaml", "/")] = "elsewhere/x.yaml"
    for arg, expected in table.items():
        assert diff_name(arg) == expected, arg


# ---- what is shown by default ---------------------------------------------------------------------

SHARED_SIGNALS = {
    "shared-resource": ("", "nvidia.com/gpu.shared"),
    "product-label": ("nodeSelector: {nvidia.com/gpu.product: Tesla-T4-SHARED}", "nvidia.com/gpu"),
    "strategy-label": ("nodeSelector: {nvidia.com/gpu.sharing-strategy: mps}", "nvidia.com/gpu"),
    "replicas-label": ("nodeSelector: {nvidia.com/gpu.replicas: '4'}", "nvidia.com/gpu"),
}
KINDS = {
    "Deployment": ("apps/v1", "spec:\n  replicas: 3\n  selector: {matchLabels: {a: b}}\n  template:\n"
                              "    metadata: {labels: {a: b}}\n    spec:\n", 6),
    "StatefulSet": ("apps/v1", "spec:\n  serviceName: s\n  selector: {matchLabels: {a: b}}\n  template:\n"
                               "    metadata: {labels: {a: b}}\n    spec:\n", 6),
    "Job": ("batch/v1", "spec:\n  template:\n    spec:\n      restartPolicy: Never\n", 6),
    "Pod": ("v1", "spec:\n", 2),
}


def _workload(kind: str, signal: str) -> str:
    api, head, indent = KINDS[kind]
    selector, resource = SHARED_SIGNALS[signal]
    pad = " " * indent
    body = (f"{pad}{selector}\n" if selector else "") + (
        f"{pad}containers:\n{pad}- name: c\n{pad}  image: x\n{pad}  resources:\n"
        f"{pad}    limits:\n{pad}      {resource}: 1\n")
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: w\n{head}{body}"


@pytest.mark.parametrize("strategy", ["timeslicing", "mps"])
@pytest.mark.parametrize("signal", sorted(SHARED_SIGNALS))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sharing_warns_without_verbose(tmp_path: Path, kind: str, signal: str, strategy: str, capsys) -> None:
    f = tmp_path / "w.yaml"
    f.write_text(_workload(kind, signal))
    assert main(["rewrite", "--sharing", strategy, str(f)]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if " warning GPU011 " in line]
    assert len(warnings) == 1, err
    assert "one GPU on the node" in warnings[0] and warnings[0].startswith(f"{f}:")
    assert main(["rewrite", "-q", "--sharing", strategy, str(f)]) == 0  # -q drops the summary, not this
    assert " warning GPU011 " in capsys.readouterr().err
    assert main(["scan", "--sharing", strategy, str(f)]) == 0
    assert " warning GPU011 " in capsys.readouterr().out
    assert main(["rewrite", str(f)]) == 0  # without --sharing: not converted, no warning
    assert "GPU011" not in capsys.readouterr().err


def test_dropped_zero_count_keeps_the_plugins_toleration(tmp_path: Path, capsys) -> None:
    """ExtendedResourceToleration looked at the name, not the amount: where the pod may land is
    unchanged, so the drop is a note behind -v, not a warning (it warned when the toleration went)."""
    for n, kind in enumerate(sorted(KINDS)):
        f = tmp_path / f"z{n}.yaml"
        f.write_text(_workload(kind, "product-label").replace("nvidia.com/gpu: 1", "nvidia.com/gpu: 0")
                     .replace("nodeSelector: {nvidia.com/gpu.product: Tesla-T4-SHARED}", "hostNetwork: false"))
        main(["rewrite", str(f)])
        out, err = capsys.readouterr()
        assert " GPU003 " not in err, err
        added = [line[1:].strip() for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
        assert "-   nvidia.com/gpu: 0".replace(" ", "") in out.replace(" ", "") and \
            added[-4:] == ["tolerations:", "- key: nvidia.com/gpu", "operator: Exists", "effect: NoSchedule"], out


def test_info_notes_stay_behind_verbose(tmp_path: Path, capsys) -> None:
    """Only behaviour changes are promoted: the other notes still need -v."""
    f = tmp_path / "a.yaml"
    f.write_text((EXAMPLES / "inference-vllm.yaml").read_text())
    main(["rewrite", str(f)])
    quiet = capsys.readouterr().err
    main(["rewrite", "-v", str(f)])
    verbose = capsys.readouterr().err
    assert " converted GPU000 " in verbose and " converted GPU000 " not in quiet


@pytest.mark.parametrize("name", ["tab\there.yaml", "new\nline.yaml", 'quo"te.yaml', "back\\slash.yaml",
                                  "bell\a.yaml", "plain.yaml", "ünï.yaml"])
def test_diff_headers_quote_names_as_git_does(tmp_path: Path, name: str) -> None:
    """git apply reads C-quoted names ("a/tab\\there.yaml"); unquoted, a tab ends the name."""
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / name).write_text((EXAMPLES / "inference-vllm.yaml").read_text())
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    proc = subprocess.run([sys.executable, "-m", "migrator", "rewrite", "-q", "."], capture_output=True,
                          text=True, cwd=repo, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0 and proc.stdout, proc.stderr
    check = subprocess.run(["git", "apply", "--check", "-"], input=proc.stdout, capture_output=True, text=True,
                           cwd=repo)
    assert check.returncode == 0, (check.stderr, proc.stdout[:300])


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_finding_lines_never_carry_control_characters(name: str) -> None:
    """Names, paths and messages come from the scanned repo: no newline or ESC reaches a log line."""
    from migrator.model import Finding, ObjectRef, Status
    from migrator.output import finding_line

    line = finding_line(Finding("GPU103", Status.MANUAL, f"msg {name}", f"dir/{name}.yaml", 3,
                                ObjectRef("Deployment", name, name)))
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029" for c in line), repr(line)


@pytest.mark.parametrize("names", [("a.yaml", "a.yml"), ("x.yml",), ("a.yaml", "a.yml", "sub/a.yaml")])
def test_inputs_never_share_a_templates_file(tmp_path: Path, names: tuple[str, ...]) -> None:
    """a.yaml and a.yml in one folder: each gets a side file of its own, in the diff and on disk."""
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((EXAMPLES / "inference-vllm.yaml").read_text())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "migrator", "rewrite", "-q", "--templates", "file", "."],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert subprocess.run(["git", "apply", "-"], input=proc.stdout, text=True, cwd=tmp_path).returncode == 0
    for name in names:
        stem, ext = os.path.splitext(name)
        side = tmp_path / f"{stem}-claim-templates{ext}"
        named = re.search(r"resourceClaimTemplateName: (\S+)", (tmp_path / name).read_text()).group(1)
        assert f"name: {named}" in side.read_text(), name


def test_a_command_that_forgets_its_exit_code_fails_loudly() -> None:
    """Every command ends with typer.Exit(report.exit_code(...)); one that returns is a bug."""
    import typer

    from migrator.cli import _Command

    t = typer.Typer()

    @t.command(cls=_Command)
    def forgot() -> None:
        pass

    @t.command(cls=_Command)
    def said() -> None:
        raise typer.Exit(3)

    with pytest.raises(RuntimeError, match="ended without an exit code"):
        t(args=["forgot"], standalone_mode=False)
    assert t(args=["said"], standalone_mode=False) == 3  # click returns typer.Exit's code


@pytest.mark.parametrize("failed,unmet,want", [(0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 2), (3, 0, 2), (0, 5, 1)])
def test_one_exit_code_contract(failed: int, unmet: int, want: int) -> None:
    from migrator.report import exit_code

    assert exit_code(failed, unmet) == want
