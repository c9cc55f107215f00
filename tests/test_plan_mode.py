"""plan migrates the manifests with rewrite's Mode: the same flags (the shared option definitions)
and the same config file keys give the templates and files rewrite writes, and the pod templates
rewrite reports as manual or skipped are listed as not migrated (the summary counts them)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from migrator.cli import main
from paths import CASES, REPO

SNAPSHOT = str(Path(__file__).parent / "snapshots" / "plan-cluster.yaml")
#: every mode flag rewrite has that changes what it writes, and the config key that sets it
FLAGS = [
    ([], {}),
    (["--sharing", "timeslicing"], {"sharing": "timeslicing"}),
    (["--sharing", "mps"], {"sharing": "mps"}),
    (["--convert-unknown"], {"convert-unknown": True}),
    (["--kube-version", "1.33"], {"kube-version": "1.33"}),
    (["--kube-version", "1.32"], {"kube-version": "1.32"}),
    (["--keep-node-labels"], {"keep-node-labels": True}),
    (["--gitops", "argocd"], {"gitops": "argocd"}),
    (["--sharing", "timeslicing", "--convert-unknown", "--kube-version", "1.34"],
     {"sharing": "timeslicing", "convert-unknown": True, "kube-version": "1.34"}),
]


def repo(tmp: Path, config: dict) -> Path:
    root = tmp / "repo"
    (root / ".git").mkdir(parents=True)  # the config search stops here
    for case in sorted(CASES.iterdir()):
        if (case / "input.yaml").is_file():
            shutil.copyfile(case / "input.yaml", root / f"{case.name}.yaml")
    for f in sorted((REPO / "examples").glob("*.yaml")):
        shutil.copyfile(f, root / f"example-{f.name}")
    if config:
        (root / ".dra-migrate.yaml").write_text(yaml.safe_dump(config))
    return root


def name(path: str) -> str:
    return os.path.basename(os.path.normpath(path))


def ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name')}"


def docs(path: Path) -> list[dict]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


@pytest.mark.parametrize("via", ["flags", "config"])
@pytest.mark.parametrize("flags,config", FLAGS, ids=[" ".join(f) or "defaults" for f, _ in FLAGS])
def test_plan_uses_the_mode_rewrite_uses(tmp_path, capsys, monkeypatch, flags, config, via) -> None:
    src = repo(tmp_path, config if via == "config" else {})
    args = flags if via == "flags" else []
    monkeypatch.chdir(src)
    assert main(["plan", ".", "--cluster", SNAPSHOT, "--format", "json", *args]) in (0, 1, 2)
    plan = json.loads(capsys.readouterr().out)
    scan_args = [a for a in args if a not in ("--gitops", "argocd")]
    main(["scan", ".", "--format", "json", "--exit-zero", *scan_args])
    scan = json.loads(capsys.readouterr().out)
    out = tmp_path / "out"
    shutil.copytree(src, out)
    monkeypatch.chdir(out)
    main(["rewrite", ".", "--templates", "file", "--write", "-q", *args])
    capsys.readouterr()

    # the templates: those rewrite writes beside the manifests, plus those the manifests hold already
    side = {p.name: {ref(d) for d in docs(p) if d.get("kind") == "ResourceClaimTemplate"}
            for p in out.glob("*-claim-templates.yaml")}
    kept = {ref(d) for p in out.glob("*.yaml") if not p.name.endswith("-claim-templates.yaml")
            for d in docs(p) if d.get("kind") == "ResourceClaimTemplate"}
    planned = {t for w in plan["workloads"] for t in w["templates"]}
    assert planned - kept == set().union(*side.values()), via
    for s in plan["steps"]:
        if s["action"] == "create" and "-claim-templates.yaml" in s["command"]:
            written = [name(f) for f in s["command"].split(" -f ")[1:] if f.endswith("-claim-templates.yaml")]
            assert any(f"{s.get('namespace') or ''}/{s['name']}" in side.get(f, ()) for f in written), s
    # every workload the plan switches is in a file rewrite changes, and applies that file
    changed = {p.name for p in out.glob("*.yaml") if not (src / p.name).exists()
               or (src / p.name).read_bytes() != p.read_bytes()}
    for s in plan["steps"]:
        if s["action"] == "update" and s["command"].startswith("kubectl apply -f "):
            assert name(s["command"].split()[3]) in changed, s

    # the pod templates: converted ones are planned, manual and skipped ones are listed as not migrated
    findings = [f for file in scan["files"] for f in file["findings"]]
    converted = {(name(f["file"]), f["kind"], f["namespace"], f["name"], f["podSpec"]) for f in findings
                 if f["rule"] == "GPU000"}
    keyed = {(name(f["file"]), f["kind"], f["namespace"], f["name"], f["podSpec"]) for f in findings
             if f["status"] in ("manual", "skipped")}
    assert {(name(w["file"]), w["kind"], w["namespace"], w["name"]) for w in plan["workloads"]} == \
        {c[:4] for c in converted}
    expected = sorted((name(f["file"]), f["line"], f["rule"], f["status"]) for f in findings
                      if f["status"] in ("manual", "skipped")
                      and (name(f["file"]), f["kind"], f["namespace"], f["name"], f["podSpec"]) not in converted)
    listed = sorted((name(n["file"]), n["line"], n["code"], n["status"]) for n in plan["not_migrated"])
    assert listed == expected
    assert keyed  # the inputs do have pods rewrite leaves alone
    summary = plan["summary"]
    assert summary["not_migrated"] == len(expected)
    assert summary["manual"] == sum(1 for e in expected if e[3] == "manual")
    assert summary["skipped"] == sum(1 for e in expected if e[3] == "skipped")
    assert summary["workloads"] == len(plan["workloads"])
