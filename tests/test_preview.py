"""preview: PR comment content, the size limit, Secrets never printed, and the GitHub Action."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from migrator.cli import main
from migrator.mode import Mode
from migrator.preview import MARKER, build_preview, to_json, to_markdown

ROOT = Path(__file__).resolve().parent.parent

SECRET = textwrap.dedent("""\
    apiVersion: v1
    kind: Secret
    metadata: {name: hf-token}
    stringData:
      token: hf_SUPERSECRETVALUE
    ---
    """)


def gpu_deployment(name: str, pad: int = 0) -> str:
    env = "".join(f"        - {{name: V{i}, value: '{'x' * 60}'}}\n" for i in range(pad))
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          template:
            spec:
              containers:
              - name: c
                image: x
                resources:
                  limits:
                    nvidia.com/gpu: 1
        """) + (f"        env:\n{env}" if pad else "")


def test_sections_and_semantic_changes() -> None:
    p = build_preview([("a.yaml", gpu_deployment("one"))], Mode())
    md = to_markdown(p)
    assert md.startswith(MARKER)
    assert "**1** workload(s) migrated, **1** ResourceClaimTemplate(s) created" in md
    assert "### `Deployment one` (a.yaml)" in md
    assert "changed `['spec']['template']['spec']['containers'][0]['resources']`: " \
           "{\"limits\": {\"nvidia.com/gpu\": 1}} -> {\"claims\": [{\"name\": \"gpu\", \"request\": \"c\"}]}" in md
    assert "added `['spec']['template']['spec']['resourceClaims']`" in md
    assert "<details><summary>unified diff</summary>" in md and "+kind: ResourceClaimTemplate" in md


def test_secret_data_is_never_printed() -> None:
    p = build_preview([("s.yaml", SECRET + gpu_deployment("next-to-secret"))], Mode())
    md = to_markdown(p)
    assert "SUPERSECRETVALUE" not in md
    assert "SUPERSECRETVALUE" not in json.dumps(to_json(p))


def test_comment_fits_github_limit_and_says_it_was_cut(tmp_path: Path) -> None:
    files = [(f"f{i}.yaml", gpu_deployment(f"w{i}", pad=40)) for i in range(60)]
    p = build_preview(files, Mode())
    md = to_markdown(p, full_report="the artifact dra-migrate-report.md")
    assert len(md) <= 65_536
    assert "**Truncated:**" in md and "were left out" in md and "the artifact dra-migrate-report.md" in md
    shown = md.count("### `Deployment")
    assert 0 < shown < 60 and f"{60 - shown} workload(s) were left out" in md
    full = to_markdown(p, limit=10**9)
    assert full.count("### `Deployment") == 60 and "Truncated" not in full


def test_cli_preview_json_and_full_report(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.yaml").write_text(gpu_deployment("one"))
    report = tmp_path / "full.md"
    assert main(["preview", str(tmp_path), "--full-report", str(report)]) == 0
    assert MARKER in capsys.readouterr().out and report.read_text().startswith(MARKER)
    assert main(["preview", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["templates"] == 1 and data["workloads"][0]["workload"] == "Deployment one"


def test_github_action_is_well_formed() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    script = "\n".join(str(s.get("run", "")) + str((s.get("with") or {}).get("script", "")) for s in steps)
    assert "dra-migrate preview" in script and "GITHUB_STEP_SUMMARY" in script
    assert MARKER in script  # the comment is found again by the marker the preview writes
    assert "updateComment" in script and "createComment" in script
    for s in steps:
        if "run" in s:
            assert s.get("shell") == "bash"  # composite run steps need an explicit shell
