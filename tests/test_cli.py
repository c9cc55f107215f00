"""The command line: modes, exit codes, bad input, stdin, writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from migrator.cli import main

GPU_POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata:
      name: p
    spec:
      containers:
      - name: c
        image: x
        resources:
          limits:
            nvidia.com/gpu: 1
    """)

BAD = {
    "malformed.yaml": b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\nnvidia.com/gpu: 1\n",
    "helm.yaml": b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n"
                 b"{{ include \"x\" . | indent 4 }}\n# nvidia.com/gpu\n",
    "dupkeys.yaml": b"apiVersion: v1\nkind: Pod\nkind: Pod\nmetadata: {name: p}\n# nvidia.com/gpu\n",
    "binary.yaml": b"nvidia.com/gpu\x00\x01\x02",
    "latin1.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: caf\u00e9}\n# nvidia.com/gpu\n".encode("latin-1"),
    "bomb.yaml": (b"# nvidia.com/gpu\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
                  + b"".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n".encode()
                             for i in range(8))),
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "gpu.yaml").write_text(GPU_POD)
    (tmp_path / "plain.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "notes.txt").write_text("nvidia.com/gpu: 1\n")
    return tmp_path


def test_default_prints_diff_and_touches_nothing(tree: Path, capsys) -> None:
    before = {p: p.read_bytes() for p in tree.iterdir()}
    assert main(["rewrite", str(tree)]) == 0
    out = capsys.readouterr().out
    assert "+kind: ResourceClaimTemplate" in out and "-        nvidia.com/gpu: 1" in out
    assert {p: p.read_bytes() for p in tree.iterdir()} == before


def test_check_exit_codes(tree: Path, capsys) -> None:
    assert main(["rewrite", "--check", str(tree)]) == 1
    assert "would rewrite" in capsys.readouterr().err
    assert main(["rewrite", "--write", str(tree)]) == 0
    assert main(["rewrite", "--check", str(tree)]) == 0


def test_write_is_minimal_and_idempotent(tree: Path) -> None:
    plain_stat = os.stat(tree / "plain.yaml")
    os.chmod(tree / "gpu.yaml", 0o640)
    assert main(["rewrite", "--write", str(tree)]) == 0
    text = (tree / "gpu.yaml").read_text()
    assert "resourceClaimTemplateName" in text and "nvidia.com/gpu: 1" not in text
    assert os.stat(tree / "gpu.yaml").st_mode & 0o777 == 0o640
    # files with nothing to do are not rewritten at all
    assert os.stat(tree / "plain.yaml").st_mtime_ns == plain_stat.st_mtime_ns
    assert main(["rewrite", "--write", str(tree)]) == 0
    assert (tree / "gpu.yaml").read_text() == text
    assert not [p for p in tree.iterdir() if p.name.startswith(".dra-migrate-")]


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_line_and_batch_goes_on(tree: Path, name: str, capsys) -> None:
    bad = tree / name
    bad.write_bytes(BAD[name])
    start = time.monotonic()
    assert main(["rewrite", "--write", str(tree)]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if str(bad) in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert bad.read_bytes() == BAD[name]
    assert "resourceClaimTemplateName" in (tree / "gpu.yaml").read_text()  # the rest was written


def test_error_names_the_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "dup.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\nspec: {}\n# nvidia.com/gpu\n")
    assert main(["scan", str(tmp_path)]) == 2
    assert f"{tmp_path / 'dup.yaml'}:5: duplicate key 'spec'" in capsys.readouterr().out


def test_missing_path(capsys) -> None:
    assert main(["rewrite", "/nonexistent/x.yaml"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_stdin_to_stdout() -> None:
    proc = subprocess.run([sys.executable, "-m", "migrator", "rewrite", "-"], input=GPU_POD.encode(),
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"kind: ResourceClaimTemplate" in proc.stdout and b"request: c" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "migrator", "rewrite", "--check", "-"],
                          input=GPU_POD.encode(), capture_output=True, check=False)
    assert proc.returncode == 1 and proc.stdout == b""


def test_scan_json(tree: Path, capsys) -> None:
    import json

    assert main(["scan", "--format", "json", str(tree)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["converted"] == 1
    (f,) = [f for f in data["files"] if f["findings"]]
    assert f["findings"][0]["workload"] == "Pod p" and f["findings"][0]["status"] == "converted"


def test_templates_file_option(tree: Path) -> None:
    assert main(["rewrite", "--write", "--templates", "file", str(tree / "gpu.yaml")]) == 0
    side = tree / "gpu-claim-templates.yaml"
    assert "kind: ResourceClaimTemplate" in side.read_text()
    assert "kind: ResourceClaimTemplate" not in (tree / "gpu.yaml").read_text()


def test_kube_version_flag(tree: Path, capsys) -> None:
    assert main(["rewrite", "--kube-version", "1.32", str(tree / "gpu.yaml")]) == 0
    assert "resource.k8s.io/v1beta1" in capsys.readouterr().out
    assert main(["rewrite", "--kube-version", "1.30", str(tree / "gpu.yaml")]) == 2


def test_help_documents_exit_codes(capsys) -> None:
    main(["--help"])
    assert "Exit codes" in capsys.readouterr().out


def test_rules_list_and_explain(capsys) -> None:
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "GPU001" in out and "GPU108" in out
    assert main(["rules", "explain", "GPU004"]) == 0
    assert "## Fix safety" in capsys.readouterr().out
    assert main(["rules", "explain", "GPU999"]) == 2


def test_console_script_is_installed() -> None:
    exe = shutil.which("dra-migrate") or str(Path(sys.executable).parent / "dra-migrate")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("dra-migrate ")
