"""Hostile input and writes that cannot lose data."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.cli import main
from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.runner import _write, process_one

EXE = Path(sys.executable).parent / "dra-migrate"

SEED = textwrap.dedent("""\
    # header
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: &l {app: web}
    spec:
      template:
        metadata: {labels: *l}
        spec:
          initContainers:
          - name: warm
            resources: {limits: {nvidia.com/gpu: 1}}
          containers:
          - name: c  # main
            image: "x:1"
            resources:
              limits:
                nvidia.com/gpu: '2'
                cpu: 1
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    """)


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(SEED.encode())
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["truncate", "insert", "delete", "flip", "dup-line", "tab"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 20))]
        elif op == "flip" and data:
            data[pos] = draw(st.sampled_from(b"[]{}:-&*!|>#'\"\t\n\x00\xff "))
        elif op == "dup-line":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
        elif op == "tab":
            data[pos:pos] = b"\t"
    return bytes(data) + b"\n# nvidia.com/gpu"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzzed_input_never_crashes(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.yaml"
    path.write_bytes(data)
    result = process_one(str(path), Mode())  # must not raise
    if result.error:
        assert "\n" not in result.error and str(path) in result.error
    else:
        assert result.after is not None
        again = migrate_text(result.after, str(path), Mode())  # output re-reads
        assert again.text == result.after
    assert path.read_bytes() == data


def test_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    lines = ["# nvidia.com/gpu", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 25):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    result = process_one(str(tmp_path / "bomb.yaml"), Mode())
    assert time.monotonic() - start < 5
    assert result.error and "alias bomb" in result.error


def test_deep_nesting_and_huge_inputs(tmp_path: Path, capsys) -> None:
    (tmp_path / "deep.yaml").write_text("# nvidia.com/gpu\na: " + "[" * 50_000 + "]" * 50_000 + "\n")
    (tmp_path / "huge.yaml").write_bytes(b"# nvidia.com/gpu\n" + b"a: b\n" * (7 * 1024 * 1024))
    scalar = "x" * (8 * 1024 * 1024)
    (tmp_path / "scalar.yaml").write_text(f"# nvidia.com/gpu\nkind: ConfigMap\napiVersion: v1\ndata:\n  k: {scalar}\n")
    start = time.monotonic()
    assert main(["rewrite", "--write", str(tmp_path)]) == 2
    assert time.monotonic() - start < 60
    err = capsys.readouterr().err
    assert "deep.yaml:2: invalid YAML: exceeded maximum nesting depth" in err
    assert "huge.yaml: file is larger than 32 MiB" in err
    assert "scalar.yaml" not in err  # big but fine: nothing to do


def test_killed_mid_batch_leaves_old_or_new(tmp_path: Path) -> None:
    """SIGKILL during --write: every file is either its old or its new content."""
    originals = {}
    for i in range(400):
        p = tmp_path / f"f{i:03d}.yaml"
        text = SEED.replace("name: web", f"name: web-{i}") + "x: " + "y" * 20_000 + "\n"
        p.write_text(text)
        originals[p] = text
    expected = {p: migrate_text(t, str(p), Mode()).text for p, t in originals.items()}
    proc = subprocess.Popen([str(EXE), "rewrite", "--write", "-j", "1", "-q", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(p.read_text() != originals[p] for p in list(originals)[:50]):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    states = {"old": 0, "new": 0}
    for p, old in originals.items():
        now = p.read_text()
        assert now in (old, expected[p]), f"{p} is neither its old nor its new content"
        states["old" if now == old else "new"] += 1
    assert states["new"] >= 1
    # a second, complete run finishes the job and leaves no temporary files behind it
    assert main(["rewrite", "--write", "-q", str(tmp_path)]) == 0
    assert all(p.read_text() == expected[p] for p in originals)


def test_file_changed_on_disk_is_not_overwritten(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text(SEED)
    result = process_one(str(p), Mode())
    assert result.changed
    time.sleep(0.01)
    p.write_text(SEED + "# edited meanwhile\n")
    written = _write(result)
    assert written.error and "changed on disk since it was read" in written.error
    assert p.read_text().endswith("# edited meanwhile\n")


def test_read_only_file_and_mode_kept(tmp_path: Path, capsys) -> None:
    ro, rw = tmp_path / "ro.yaml", tmp_path / "rw.yaml"
    ro.write_text(SEED)
    rw.write_text(SEED)
    ro.chmod(0o444)
    rw.chmod(0o604)
    assert main(["rewrite", "--write", str(tmp_path)]) == 2
    assert f"{ro}: read-only file; not written" in capsys.readouterr().err
    assert ro.read_text() == SEED
    assert "resourceClaimTemplateName" in rw.read_text() and (rw.stat().st_mode & 0o777) == 0o604


def test_symlinks_are_not_followed_out_of_the_root(tmp_path: Path, capsys) -> None:
    outside = tmp_path / "outside"
    root = tmp_path / "repo"
    outside.mkdir()
    root.mkdir()
    (outside / "secret.yaml").write_text(SEED)
    (outside / "dir").mkdir()
    (outside / "dir" / "x.yaml").write_text(SEED)
    (root / "inside.yaml").write_text(SEED)
    (root / "link-in.yaml").symlink_to(root / "inside.yaml")
    (root / "link-out.yaml").symlink_to(outside / "secret.yaml")
    (root / "linkdir").symlink_to(outside / "dir")
    assert main(["rewrite", "--write", "-v", str(root)]) == 0
    err = capsys.readouterr().err
    assert "link-out.yaml" in err and "not followed" in err
    assert (outside / "secret.yaml").read_text() == SEED and (outside / "dir" / "x.yaml").read_text() == SEED
    assert (root / "link-in.yaml").is_symlink() and (root / "link-out.yaml").is_symlink()  # links stay links
    assert "resourceClaimTemplateName" in (root / "inside.yaml").read_text()
    assert main(["rewrite", "--write", "--follow-symlinks", str(root)]) == 0
    assert "resourceClaimTemplateName" in (outside / "secret.yaml").read_text()
    assert (root / "link-out.yaml").is_symlink()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_parallel_and_serial_runs_agree(tmp_path: Path, jobs: str) -> None:
    for i in range(30):
        (tmp_path / f"f{i}.yaml").write_text(SEED.replace("name: web", f"name: w{i}") if i % 3 else "a: 1\n")
    (tmp_path / "bad.yaml").write_text("a: [\n# nvidia.com/gpu\n")
    proc = subprocess.run([str(EXE), "rewrite", "--check", "-j", jobs, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("would rewrite") == 20 and "bad.yaml:3: invalid YAML" in proc.stderr


@pytest.mark.parametrize("layout", [
    {"sub/real.yaml": None, "linked.yaml": "sub/real.yaml"},
    {"real.yaml": None, "sub/linked.yaml": "../real.yaml"},
    {"real.yaml": None, "l1.yaml": "real.yaml", "l2.yaml": "real.yaml"},
    {"a/real.yaml": None, "b/l.yml": "../a/real.yaml", "c/l.yaml": "../b/l.yml"},
])
@pytest.mark.parametrize("extra", [[], ["REAL"]])
def test_a_file_reached_by_several_names_is_one_input(tmp_path, capsys, layout, extra) -> None:
    """A symlink inside the root to a file also found by its own name (or given again) is that file:
    one diff that git apply takes, one workload in scan, one write."""
    import json
    import os
    import subprocess

    from migrator.cli import main

    gpu = (Path(__file__).parent.parent / "examples" / "inference-vllm.yaml").read_text()
    real = next(k for k, v in layout.items() if v is None)
    for name, target in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if target is None:
            (tmp_path / name).write_text(gpu)
        else:
            os.symlink(target, tmp_path / name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    args = ["."] + [real for _ in extra]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["rewrite", "-q", *args]) == 0
        diff = capsys.readouterr().out
        assert subprocess.run(["git", "apply", "--check", "-"], input=diff, text=True, cwd=tmp_path).returncode == 0
        assert main(["scan", "-q", "--format", "json", "--exit-zero", *args]) == 0
        found = [f for r in json.loads(capsys.readouterr().out)["files"] for f in r["findings"] if f["rule"] == "GPU000"]
        assert len(found) == gpu.count("kind: Deployment")
        assert main(["rewrite", "-q", "--write", *args]) == 0
    finally:
        os.chdir(cwd)
    assert all(os.path.islink(tmp_path / n) for n, t in layout.items() if t is not None)  # links stay links
    assert (tmp_path / real).read_text() != gpu


SNAPSHOT = Path(__file__).parent / "snapshots" / "fleet.yaml"
#: every command that reads manifests from a directory, with the arguments that make it run
READERS = {
    "rewrite": ["rewrite", "--check"],
    "scan": ["scan", "--exit-zero"],
    "verify": ["verify", "--cluster", str(SNAPSHOT)],
    "plan": ["plan", "--cluster", str(SNAPSHOT)],
    "preview": ["preview"],
}


def _link_tree(tmp_path: Path, layout: str) -> tuple[Path, Path]:
    """A repo with a GPU manifest of its own and a symlinked directory laid out as ``layout``."""
    root, outside = tmp_path / "repo", tmp_path / "elsewhere"
    (root / "apps").mkdir(parents=True)
    (outside / "deep").mkdir(parents=True)
    (root / "apps" / "mine.yaml").write_text(SEED.replace("name: web", "name: mine"))
    (outside / "deep" / "secret.yaml").write_text(SEED.replace("name: web", "name: secret"))
    if layout == "outside":
        (root / "apps" / "linked").symlink_to(outside)
    elif layout == "outside-deep":
        (root / "apps" / "a").mkdir()
        (root / "apps" / "a" / "linked").symlink_to(outside / "deep")
    elif layout == "cycle-inside":
        (root / "apps" / "loop").symlink_to(root)
        (root / "apps" / "linked").symlink_to(outside)
    elif layout == "cycle-outside":
        (outside / "deep" / "back").symlink_to(outside)
        (outside / "up").symlink_to(tmp_path)
        (root / "apps" / "linked").symlink_to(outside)
    return root, outside


@pytest.mark.parametrize("layout", ["outside", "outside-deep", "cycle-inside", "cycle-outside"])
@pytest.mark.parametrize("command", sorted(READERS))
def test_symlinked_directories_out_of_the_root(tmp_path: Path, command: str, layout: str, capsys) -> None:
    """Every command that walks a directory: a symlinked directory that leaves the root is reported
    (one line naming it) and nothing under it is read; --follow-symlinks reads it; cycles end."""
    root, outside = _link_tree(tmp_path, layout)
    code = main(READERS[command] + [str(root)])
    cap = capsys.readouterr()
    out = cap.out + cap.err
    assert code != 2 and "Traceback" not in out, out
    assert "secret" not in out and "mine" in out, out
    assert out.count("symlinked directory to") == 1 and re.search(r"linked(: skipped GPU900)?: symlinked directory to", out), out
    if command in ("rewrite", "scan"):  # a link is not a file of the run, nor a pod template
        assert "0 unchanged, 1 symlink(s) not followed; pod templates: 1 converted, 0 skipped" in out, out
    if command == "scan":  # the JSON summary counts the same
        import json

        assert main(["scan", "--format", "json", "--exit-zero", str(root)]) == 0
        summary = json.loads(capsys.readouterr().out)["summary"]
        assert (summary["files"], summary["skipped"], summary["symlinksNotFollowed"]) == (1, 0, 1), summary
    code = main(READERS[command] + ["--follow-symlinks", str(root)])
    cap = capsys.readouterr()
    out = cap.out + cap.err
    assert code != 2 and "secret" in out and "mine" in out and "symlinked directory" not in out, out
    if command == "rewrite":  # read once, however many ways the walk can reach it
        assert out.count("would rewrite") == 2, out
    assert (outside / "deep" / "secret.yaml").read_text() == SEED.replace("name: web", "name: secret")


def test_codemod_reports_symlinked_directories_too(tmp_path: Path, capsys) -> None:
    root, outside = tmp_path / "repo", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.py").write_text('limits = {"nvidia.com/gpu": 1}\n')
    (root / "linked").symlink_to(outside)
    main(["codemod", str(root)])
    err = capsys.readouterr().err
    assert "linked: symlinked directory to" in err and "secret" not in err.replace(str(outside), "")


@pytest.mark.parametrize("command", ["rewrite", "codemod"])
def test_follow_symlinks_never_walks_the_root_twice(tmp_path: Path, command: str, capsys) -> None:
    """A followed link to an ancestor of the root (or to the root itself) does not walk the root
    again: every file once, by its own name, and one report per broken link."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    ext = ".py" if command == "codemod" else ".yaml"
    body = 'limits = {"nvidia.com/gpu": 1}\n' if command == "codemod" else SEED
    (root / f"r{ext}").write_text(body)
    (root / f"dangling{ext}").symlink_to(tmp_path / "missing")
    (outside / "up").symlink_to(tmp_path)
    (root / "outlink").symlink_to(outside)
    (root / "loop").symlink_to(root)
    (root / "parent").symlink_to("..")
    main([command, "--check", "--follow-symlinks", str(root)])
    cap = capsys.readouterr()
    out = cap.out + cap.err
    assert out.count("dangling") == 1, out
    assert f"{root}/r{ext}" in out and "outlink/" not in out and "loop/" not in out and "parent/" not in out, out
