"""The GitHub Action's shell steps, run as the runner runs them (bash -eo pipefail, values through
env) in a real git repository with a base and a head commit, with a fake ``gh`` on PATH that keeps
the PR's comments and records every call (tests/fake_gh.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from migrator.integrations.preview import MARKER

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = {s.get("id"): s for s in ACTION["runs"]["steps"]}
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

pytestmark = pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None,
                                reason="needs git and bash")


def gpu(name: str, extra: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          template:
            spec:
              containers:
              - name: c
                image: x
                resources:
                  limits:
                    nvidia.com/gpu: 1
        """).replace(f"  name: {name}\n", f"  name: {name}{extra}\n")


KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy/]\n"


# ---- a repository with a base and a head ---------------------------------------------------------

class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@e", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_SYSTEM=os.devnull)
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True,
                              env=env).stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        for name, text in files.items():
            target = self.path / name
            if text is None:
                self.git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self.git("add", "--", name)

    def commit(self, files: dict[str, str | None], message: str = "c") -> str:
        self.write(files)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@dataclass
class Case:
    """base files; then the PR (files, renames); what the comment must show and must not."""

    base: dict[str, str]
    head: dict[str, str | None]
    shows: list[str]
    hides: list[str] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    paths: str | None = None  #: the action's paths input (None: its default)
    base_moves_on: dict[str, str] = field(default_factory=dict)  #: committed to main after the branch point


CASES = {
    # "*.yaml" unquoted would be expanded by bash to kustomization.yaml, the only root match
    "root kustomization and subdirectories": Case(
        {"kustomization.yaml": KUSTOMIZATION, "deploy/a.yaml": gpu("a")},
        {"deploy/a.yaml": gpu("a", "\n  labels: {x: y}"), "deploy/b/new.yml": gpu("new")},
        ["`Deployment a` (deploy/a.yaml)", "`Deployment new` (deploy/b/new.yml)"], ["kustomization"]),
    "renamed and modified": Case(
        {"deploy/old.yaml": gpu("moved")}, {"deploy/renamed.yaml": gpu("moved", "\n  labels: {x: y}")},
        ["`Deployment moved` (deploy/renamed.yaml)"], ["deploy/old.yaml"],
        renames={"deploy/old.yaml": "deploy/renamed.yaml"}),
    "renamed only": Case(
        {"deploy/old.yaml": gpu("same")}, {}, ["`Deployment same` (deploy/new.yaml)"],
        renames={"deploy/old.yaml": "deploy/new.yaml"}),
    "names the shell or git could misread": Case(
        {"x.txt": "x"}, {"deploy/my app.yaml": gpu("spaced"), "-dash.yaml": gpu("dash"), "[ab].yaml": gpu("glob"),
                         "b.yaml": gpu("b")},
        ["`Deployment spaced` (deploy/my app.yaml)", "`Deployment dash` (./-dash.yaml)",
         "`Deployment glob` ([ab].yaml)", "`Deployment b` (b.yaml)"]),
    "pathspecs on several lines; others ignored; deleted files ignored": Case(
        {"deploy/gone.yaml": gpu("gone"), "other/o.yaml": gpu("o")},
        {"deploy/gone.yaml": None, "deploy/d.yaml": gpu("d"), "ops/x.yml": gpu("x"),
         "other/o.yaml": gpu("o", "\n  labels: {a: b}")},
        ["`Deployment d` (deploy/d.yaml)", "`Deployment x` (ops/x.yml)"], ["gone", "other/o.yaml"],
        paths="deploy/*.yaml\n  ops/*.yml"),
    "the base branch moved on": Case(
        {"deploy/a.yaml": gpu("a"), "deploy/z.yaml": gpu("z")}, {"deploy/a.yaml": gpu("a", "\n  labels: {x: y}")},
        ["`Deployment a` (deploy/a.yaml)"], ["deploy/z.yaml"], base_moves_on={"deploy/z.yaml": gpu("z", "\n  labels: {m: n}")}),
}


@dataclass
class Run:
    repo: Repo
    tmp: Path
    pr: int = 7
    deny: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)

    def ctx(self, base: str, head: str, paths: str | None) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "github.event.pull_request.base.sha": base, "github.event.pull_request.head.sha": head,
            "github.event.pull_request.number": self.pr, "github.repository": "octo/app",
            "github.server_url": "https://github.example", "github.run_id": "42", "github.token": "t0ken",
        }
        for name, spec in ACTION["inputs"].items():
            ctx[f"inputs.{name}"] = EXPR.sub(lambda m: str(ctx[m.group(1)]), str(spec.get("default", "")))
        if paths is not None:
            ctx["inputs.paths"] = paths
        return ctx

    def step(self, step_id: str, ctx: dict[str, Any]) -> subprocess.CompletedProcess[str] | None:
        step = STEPS[step_id]
        if "if" in step and not condition(step["if"], ctx):
            return None
        run = step["run"]
        assert not EXPR.search(run), "values reach scripts through env only"
        env = {k: EXPR.sub(lambda m: str(ctx[m.group(1)]), str(v)) for k, v in (step.get("env") or {}).items()}
        runner = self.tmp / "runner"
        runner.mkdir(exist_ok=True)
        bin_ = self.tmp / "bin"
        bin_.mkdir(exist_ok=True)
        (bin_ / "gh").write_text(f"#!/bin/sh\nexec {sys.executable} {ROOT / 'tests' / 'fake_gh.py'} \"$@\"\n")
        (bin_ / "gh").chmod(0o755)
        script = runner / f"{step_id}.sh"
        script.write_text(run)
        full = dict(os.environ, **env, RUNNER_TEMP=str(runner), GITHUB_OUTPUT=str(self.tmp / "output"),
                    GITHUB_STEP_SUMMARY=str(self.tmp / "summary.md"), FAKE_GH_STATE=str(self.tmp / "gh.json"),
                    FAKE_GH_LOG=str(self.tmp / "gh.log"),
                    PATH=os.pathsep.join([str(bin_), str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        full.pop("FAKE_GH_DENY", None)
        if self.deny:
            full["FAKE_GH_DENY"] = "1"
        # as the runner runs a composite step's bash (docs: "shell: bash" = bash --noprofile --norc -eo pipefail {0})
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=self.repo.path,
                              env=full, capture_output=True, text=True)

    def action(self, base: str, head: str, paths: str | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
        ctx = self.ctx(base, head, paths)
        preview = self.step("preview", ctx)
        assert preview is not None and preview.returncode == 0, preview.stderr if preview else ""
        return preview, self.step("comment", ctx)

    def calls(self) -> list[dict[str, Any]]:
        log = self.tmp / "gh.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def state(self) -> list[dict[str, Any]]:
        f = self.tmp / "gh.json"
        return json.loads(f.read_text()) if f.exists() else []

    def summary(self) -> str:
        f = self.tmp / "summary.md"
        return f.read_text() if f.exists() else ""


def condition(expr: str, ctx: dict[str, Any]) -> bool:
    """The subset of the Actions expression language the action's ``if:`` uses."""
    body = EXPR.fullmatch(expr.strip())
    text = body.group(1) if body else expr
    py = re.sub(r"[A-Za-z_][\w-]*(\.[\w-]+)+", lambda m: f"ctx[{m.group(0)!r}]", text)
    py = py.replace("&&", " and ").replace("||", " or ")
    return bool(eval(py, {"__builtins__": {}}, {"ctx": ctx}))  # noqa: S307 - our own action.yml


def setup(tmp_path: Path, case: Case) -> tuple[Run, str, str]:
    repo = Repo(tmp_path / "repo")
    base = repo.commit(dict(case.base), "base")
    repo.git("checkout", "-q", "-b", "pr")
    for old, new in case.renames.items():
        repo.git("mv", old, new)
    head = repo.commit(dict(case.head), "pr")
    if case.base_moves_on:
        repo.git("checkout", "-q", "main")
        base = repo.commit(dict(case.base_moves_on), "main moves on")
        repo.git("checkout", "-q", "pr")  # the PR head, as pull_request_target checks it out
    return Run(repo, tmp_path), base, head


@pytest.mark.parametrize("name", sorted(CASES))
def test_changed_manifests_are_previewed_in_one_comment(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    run, base, head = setup(tmp_path, case)
    preview, comment = run.action(base, head, case.paths)
    assert comment is not None and comment.returncode == 0, comment.stderr
    (posted,) = run.state()
    body = posted["body"]
    assert body.startswith(MARKER) and posted["issue"] == 7
    for text in case.shows:
        assert text in body, (text, body[:2000])
    for text in case.hides:
        assert text not in body
    assert "## dra-migrate" in run.summary() and case.shows[0] in run.summary()
    assert [c["method"] for c in run.calls()] == ["GET", "POST"]
    # the next push updates the same comment
    run.repo.commit({"deploy/later.yaml": gpu("later")})
    run.action(base, run.repo.git("rev-parse", "HEAD"), case.paths)
    (again,) = run.state()
    assert again["id"] == posted["id"] and "`Deployment later`" in again["body"]
    assert [c["method"] for c in run.calls()][-2:] == ["GET", "PATCH"]


@pytest.mark.parametrize("earlier", [[], [{"body": "LGTM"}], [{"body": "a"}, {"body": "b"}, {"body": "c"}]])
def test_no_manifests_posts_nothing(earlier: list[dict[str, Any]], tmp_path: Path) -> None:
    run, base, head = setup(tmp_path, Case({"README.md": "x"}, {"README.md": "y", "notes.txt": gpu("not yaml")}, []))
    (tmp_path / "gh.json").write_text(json.dumps([dict(c, id=i, issue=7) for i, c in enumerate(earlier)]))
    preview, comment = run.action(base, head)
    assert comment is not None and comment.returncode == 0, comment.stderr
    assert [c["method"] for c in run.calls()] == ["GET"]  # looked for its comment, wrote nothing
    assert run.state() == [dict(c, id=i, issue=7) for i, c in enumerate(earlier)]
    assert "No changed manifests" in run.summary()


@pytest.mark.parametrize("position", [0, 1, 4])  # on the first or a later page of the listing
def test_a_comment_it_already_has_is_updated_when_the_manifests_are_gone(position: int, tmp_path: Path) -> None:
    # a comment that starts with the marker but is someone else's (a PR author can plant one) is never ours
    someone, bot = {"login": "mallory"}, {"login": "github-actions[bot]"}
    others = [{"id": i, "issue": 7, "body": f"{MARKER} planted" if i in (0, 2) else "hi", "user": someone}
              for i in range(5)]
    mine = {"id": 99, "issue": 7, "body": MARKER + "\n## dra-migrate: device plugin → DRA\nold", "user": bot}
    comments = others[:position] + [mine] + others[position:] + [{"id": 50, "issue": 8, "body": MARKER, "user": bot}]
    run, base, head = setup(tmp_path, Case({"a.txt": "x"}, {"a.txt": "y"}, []))
    (tmp_path / "gh.json").write_text(json.dumps(comments))
    run.action(base, head)
    state = {c["id"]: c for c in run.state()}
    assert "no longer changes any manifest" in state[99]["body"] and head in state[99]["body"]
    assert all(state[c["id"]] == c for c in comments if c["id"] != 99)  # nobody else's is touched
    assert [c["method"] for c in run.calls()] == ["GET", "PATCH"]
    assert len(state) == len(comments)


def test_a_symlink_in_the_pr_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "runner-secret.yaml"
    secret.write_text("token: SUPERSECRET\n# nvidia.com/gpu\n")
    run, base, head = setup(tmp_path, Case({"x.txt": "x"}, {"deploy/a.yaml": gpu("a")}, []))
    (run.repo.path / "deploy" / "leak.yaml").symlink_to(secret)
    run.repo.git("add", "deploy/leak.yaml")
    head = run.repo.commit({}, "symlink")
    run.action(base, head)
    (posted,) = run.state()
    assert "`Deployment a`" in posted["body"] and "SUPERSECRET" not in posted["body"] + run.summary()
    assert "skipped `deploy/leak.yaml`: not a regular file" in run.summary()


def test_fork_pr_read_only_token_falls_back_to_the_summary(tmp_path: Path) -> None:
    run, base, head = setup(tmp_path, Case({"x.txt": "x"}, {"deploy/a.yaml": gpu("a")}, []))
    run.deny = True
    preview, comment = run.action(base, head)
    assert comment is not None and comment.returncode == 0, comment.stderr  # the job passes
    assert "::warning::" in comment.stdout and "read-only token" in comment.stdout and "HTTP 403" in comment.stdout
    summary = run.summary()
    assert "`Deployment a` (deploy/a.yaml)" in summary and "the PR comment could not be written" in summary
    assert run.state() == []


@pytest.mark.parametrize("comment_input,event_pr,runs", [("true", 7, True), ("false", 7, False), ("true", "", False)])
def test_comment_step_condition(comment_input: str, event_pr: Any, runs: bool, tmp_path: Path) -> None:
    ctx = {"inputs.comment": comment_input, "github.event.pull_request.number": event_pr}
    assert condition(STEPS["comment"]["if"], ctx) is runs


def test_not_a_pull_request_is_an_error(tmp_path: Path) -> None:
    run, base, head = setup(tmp_path, Case({"a.yaml": gpu("a")}, {"a.yaml": gpu("a", "\n  labels: {x: y}")}, []))
    proc = run.step("preview", run.ctx("", head, None))
    assert proc is not None and proc.returncode == 1 and "::error::" in proc.stdout


def test_action_is_well_formed() -> None:
    assert ACTION["runs"]["using"] == "composite"
    for s in ACTION["runs"]["steps"]:
        if "run" in s:
            assert s.get("shell") == "bash"  # composite run steps need an explicit shell
            assert not EXPR.search(s["run"])  # no ${{ }} expanded into a script (script injection)
    assert "uses" not in STEPS["comment"]  # the comment is written with gh, tested here
