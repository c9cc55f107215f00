"""The project installed as a user installs it: a fresh venv with only the declared dependencies.

The other tests run in the development venv, which also holds the test extras (and whatever else
was installed there): a dependency that only they bring in, or a typer release outside the pinned
range, would go unnoticed there. Both ends of the pinned typer range are run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _typer_range() -> tuple[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"typer\b", d)]
    low = re.search(r">=\s*([\d.]+)", spec)
    high = re.search(r"<\s*([\d.]+)", spec)
    assert low and high, f"typer must be pinned to a tested range, not {spec!r}"
    return low.group(1), high.group(1)


#: the environment without what points Python at the work tree (tests run with PYTHONPATH set)
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _run(exe: Path, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, input=stdin, timeout=120,
                          env=ENV)


def _check_console_script(exe: Path, work: Path) -> None:
    for argv in (["rewrite", "--bogus", "x.yaml"], ["frobnicate"], ["rewrite"], ["scan", "--format", "xml", "."],
                 ["rewrite", "-", "x.yaml"]):
        proc = _run(exe, *argv, cwd=work)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, (argv, proc.stderr)
        assert proc.stdout == "", argv
    proc = _run(exe, cwd=work)  # no arguments: the help
    assert proc.returncode == 2 and "Usage: dra-migrate" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _run(exe, "--help", cwd=work)
    assert proc.returncode == 0 and "Exit codes:" in proc.stdout and "rewrite" in proc.stdout
    proc = _run(exe, "rewrite", "--help", cwd=work)
    assert proc.returncode == 0 and "--kube-version" in proc.stdout and "<bool>" not in proc.stdout
    # a real rewrite of the examples: the diff, --check, --write, then nothing left to do
    proc = _run(exe, "rewrite", "examples", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("+kind: ResourceClaimTemplate") >= 3 and "a/examples/" in proc.stdout
    assert _run(exe, "rewrite", "--check", "examples", cwd=work).returncode == 1
    proc = _run(exe, "rewrite", "--write", "examples", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert _run(exe, "rewrite", "--check", "examples", cwd=work).returncode == 0
    proc = _run(exe, "rules", "list", cwd=work)
    assert proc.returncode == 0 and "GPU001" in proc.stdout


@pytest.mark.slow
def test_installed_with_only_its_declared_dependencies(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    py = bindir / "python"
    exe = bindir / "dra-migrate"
    # a copy, so the build cannot leave anything in the work tree
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info",
                                                             "build", "dist", ".pytest_cache"))
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run([*pip, str(src)], capture_output=True, text=True, timeout=900, env=ENV)
    if proc.returncode != 0 and "Could not find a version" in proc.stderr + proc.stdout:
        pytest.skip("the package index cannot be reached: " + proc.stderr.splitlines()[-1])
    assert proc.returncode == 0, proc.stderr
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples", work / "examples")

    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            env=ENV)
    installed = dict(line.split("==", 1) for line in listed.stdout.splitlines() if "==" in line)
    assert "pytest" not in installed and "hypothesis" not in installed  # no test extra
    low, high = _typer_range()
    version = tuple(int(x) for x in installed["typer"].split(".")[:2])
    assert tuple(int(x) for x in low.split(".")[:2]) <= version < tuple(int(x) for x in high.split(".")[:2])
    where = _run(py, "-c", "import migrator; print(migrator.__file__)", cwd=work).stdout
    assert where.startswith(str(env_dir)), where  # the installed package, not the work tree
    _check_console_script(exe, work)

    # the lowest release of the range too
    proc = subprocess.run([*pip, f"typer=={low}"], capture_output=True, text=True, timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(work / "examples")
    shutil.copytree(REPO / "examples", work / "examples")
    _check_console_script(exe, work)
