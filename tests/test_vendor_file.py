"""--vendor-file (issue 12 item 4): a fictional vendor added without code, end to end.

tests/vendors/acme/ holds the vendor's profile, a pod that asks its device plugin for two NPUs
and a cluster snapshot (one device-plugin node running the pod, one node whose DRA driver
publishes two NPUs and a debug device). rewrite, verify and plan must all work from the file;
without it the resource stays with its device plugin. Bad vendor files are one line naming the
file (and line), exit 2, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from helpers import cli
from migrator.tables import load_tables

ACME = Path(__file__).parent / "vendors" / "acme"


def test_a_fictional_vendor_through_rewrite_verify_and_plan(tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_bytes((ACME / "pod.yaml").read_bytes())
    profile, snap = str(ACME / "acme.yaml"), str(ACME / "snapshot.yaml")
    code, out, err = cli("scan", str(pod), "--vendor-file", profile, "--format", "json")
    assert code == 0, err
    # rewrite: one request of the vendor's class with the row's selector, the resource dropped
    code, out, err = cli("rewrite", str(pod), "--vendor-file", profile, "--write")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(pod.read_text()) if d]
    template = next(d for d in docs if d["kind"] == "ResourceClaimTemplate")
    (req,) = template["spec"]["spec"]["devices"]["requests"]
    assert req["exactly"]["deviceClassName"] == "npu.acme.example" and req["exactly"]["count"] == 2
    assert "acme.example/npu: 2" not in pod.read_text()
    assert {"key": "acme.example/npu", "operator": "Exists", "effect": "NoSchedule"} in docs[0]["spec"]["tolerations"]
    assert cli("rewrite", str(pod), "--vendor-file", profile, "--check")[0] == 0  # a second run changes nothing
    # verify (from today's manifest): the same two NPUs, never the debug device
    today = tmp_path / "today.yaml"
    today.write_bytes((ACME / "pod.yaml").read_bytes())
    code, out, err = cli("verify", str(today), "--cluster", snap, "--vendor-file", profile)
    assert code == 0 and "same devices before and after: 2 device(s)" in out, (out, err)
    # plan: the switch is proven
    code, out, err = cli("plan", str(today), "--cluster", snap, "--vendor-file", profile, "--format", "json")
    plan = yaml.safe_load(out)
    assert code == 0 and plan["proof"]["ok"] and plan["summary"]["switched"] == 1, (plan["proof"], err)
    # without the file the pod is left as it was, and later runs do not remember the file
    assert cli("rewrite", str(today), "--check")[0] == 0
    assert load_tables().vendor_of("acme.example/npu") is None


def _bad(tmp_path: Path, text: str) -> str:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("mutate,needle", [
    (lambda t: t.replace("acme.example/npu, kind", "nvidia.com/gpu, kind"), "nvidia.com/gpu"),  # a shipped one
    (lambda t: t.replace("['acme.example/']", "['nvidia.com/']").replace("acme.example/npu", "nvidia.com/gpu"),
     "duplicate"),
    (lambda t: t.replace("vendor: acme", "vendor: nvidia"), "duplicate"),
    (lambda t: t + "colour: blue\n", "colour"),
    (lambda t: t.replace("source: test fixture (a fictional vendor)\n", ""), "source"),
    (lambda t: t.replace("kind: whole, deviceClass", "kind: whole, deviceClass: nope, x"), ""),
    (lambda t: "[1, 2", ""),
])
def test_a_bad_vendor_file_is_one_line_and_nothing_is_written(tmp_path: Path, mutate, needle: str) -> None:
    bad = _bad(tmp_path, mutate((ACME / "acme.yaml").read_text()))
    pod = tmp_path / "pod.yaml"
    pod.write_bytes((ACME / "pod.yaml").read_bytes())
    before = pod.read_bytes()
    for command in (["rewrite", str(pod), "--write"], ["scan", str(pod)], ["plan", str(pod), "--cluster",
                                                                            str(ACME / "snapshot.yaml")]):
        code, out, err = cli(*command, "--vendor-file", bad)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and bad in lines[0] and needle in lines[0], (command, err)
        assert "Traceback" not in err
    assert pod.read_bytes() == before


def test_a_vendor_file_that_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for path in (str(fifo), str(tmp_path / "missing.yaml"), str(tmp_path)):
        code, out, err = cli("scan", str(ACME / "pod.yaml"), "--vendor-file", path)
        assert code == 2 and path in err and len(err.strip().splitlines()) == 1, err


def _project(tmp_path: Path, config: str) -> Path:
    """A repository whose config file names the vendor profile (copied in: paths stay inside)."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "vendors").mkdir()
    (tmp_path / "vendors" / "acme.yaml").write_bytes((ACME / "acme.yaml").read_bytes())
    (tmp_path / ".dra-migrate.yaml").write_text(config)
    pod = tmp_path / "pod.yaml"
    pod.write_bytes((ACME / "pod.yaml").read_bytes())
    return pod


def test_the_config_files_vendor_files_act_as_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pod = _project(tmp_path, "vendor-files: [vendors/acme.yaml]\n")
    monkeypatch.chdir(tmp_path)
    flagged = tmp_path / "flagged.yaml"
    flagged.write_bytes(pod.read_bytes())
    assert cli("rewrite", "pod.yaml", "--write")[0] == 0
    # the same bytes as with the flag, from a directory with no config file
    monkeypatch.chdir(ACME)
    assert cli("rewrite", str(flagged), "--write", "--vendor-file", str(tmp_path / "vendors" / "acme.yaml"))[0] == 0
    assert pod.read_text() == flagged.read_text() and "npu.acme.example" in pod.read_text()
    # and it is read by the Helm post-renderer too (stdin in, stream out)
    monkeypatch.chdir(tmp_path)
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((ACME / "pod.yaml").read_bytes())))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = cli("post-render")
    assert code == 0 and "npu.acme.example" in out, err


@pytest.mark.parametrize("config,needle", [
    ("vendor-files: [../acme.yaml]\n", "outside"),
    ("vendor-files: [/etc/hostname]\n", "relative"),
    ("vendor-files: [vendors/missing.yaml]\n", "missing.yaml"),
    ("vendor-files: 3\n", "vendor-files"),
])
def test_a_bad_config_vendor_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str,
                                              needle: str) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (tmp_path / "acme.yaml").write_bytes((ACME / "acme.yaml").read_bytes())
    pod = _project(project, config)
    before = pod.read_bytes()
    monkeypatch.chdir(project)
    code, out, err = cli("rewrite", "pod.yaml", "--write")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
    assert pod.read_bytes() == before
