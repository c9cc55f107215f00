"""Shared by the tests: run a case, collect generated objects, validate them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from migrator.text.documents import Layout
from migrator.text.edit import block_entries
from migrator.engine import TextResult, migrate_text
from migrator.mode import Mode, api_version_for
import re

from migrator.k8s.validate import pod_rules, schema_errors, selector_problems, template_rules

GENERATED = re.compile(r"-gpu-[0-9a-f]{8}$")


def sample_devices() -> list[dict[str, Any]]:
    """Devices of the fleet snapshot, as CEL sees them (for the never-aborts check)."""
    from migrator.k8s.cel import device_value
    from migrator.proof.cluster import load_snapshot

    snap = load_snapshot(str(Path(__file__).parent / "snapshots" / "fleet.yaml"))
    return [device_value(d.driver, d.attributes, d.capacity) for d in snap.devices()]


_SAMPLES: list[dict[str, Any]] = []


def mode_from_flags(path: Path) -> Mode:
    flags: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                flags[k.strip()] = v.strip()
    return Mode(api_version=api_version_for(flags.get("kube_version", "1.35")), kube_version=flags.get("kube_version", "1.35"),
                placement=flags.get("placement", "inline"),
                convert_unknown=flags.get("convert_unknown", "false") == "true",
                keep_node_labels=flags.get("keep_node_labels", "false") == "true",
                sharing=flags.get("sharing"), migration_path=flags.get("migration_path", "auto"),
                extended_classes=tuple(tuple(pair.split("=", 1)) for pair in flags.get("extended_classes", "").split()
                                       if "=" in pair))  # type: ignore[misc]


def run_case(text: str, mode: Mode, path: str = "input.yaml") -> TextResult:
    return migrate_text(text, path, mode)


def findings_text(result: TextResult) -> str:
    return "".join(f"{f.line}: {f.status.value} {f.code} {f.workload}: {f.message}\n" for f in result.findings)


def lost_decisions(first: TextResult, again: TextResult) -> list[str]:
    """Findings that ask for a decision (manual, skipped) in the first run and are gone in the second.

    A rewrite must not hide a decision it left open: scanning the written file says the same.
    """
    from migrator.model import Status

    def key(f):
        return (f.code, f.status, f.workload, f.container)

    open_ = {key(f) for f in first.findings if f.status in (Status.MANUAL, Status.SKIPPED)}
    kept = {key(f) for f in again.findings}
    return sorted(" ".join(map(str, k)) for k in open_ - kept)


def templates_text(result: TextResult) -> str:
    layout = Layout("\n", 2, False)
    return "".join("---\n" + "".join(line + "\n" for line in block_entries(t, 0, layout)) for t in result.templates)


POD_PATHS = {
    "Pod": ["spec"], "Deployment": ["spec", "template", "spec"], "Job": ["spec", "template", "spec"],
    "StatefulSet": ["spec", "template", "spec"], "DaemonSet": ["spec", "template", "spec"],
    "ReplicaSet": ["spec", "template", "spec"], "ReplicationController": ["spec", "template", "spec"],
    "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"], "PodTemplate": ["template", "spec"],
}


def all_objects(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind") == "List":
            out += [i for i in doc.get("items") or [] if isinstance(i, dict)]
        elif isinstance(doc, dict):
            out.append(doc)
    return out


def generated_problems(text: str, extra: list[dict[str, Any]] | None = None,
                       before: str | None = None) -> list[str]:
    """Schema + apiserver rules for every claim object we wrote or changed, and claim wiring of core pods."""

    untouched = {repr(o) for o in all_objects(before)} if before else set()
    objs = [o for o in all_objects(text) + list(extra or [])
            if repr(o) not in untouched]
    templates = {o["metadata"]["name"]: o for o in objs
                 if o.get("kind") in ("ResourceClaimTemplate", "ResourceClaim")
                 and o.get("apiVersion", "").startswith("resource.k8s.io/")}
    problems: list[str] = []
    for name, t in templates.items():
        problems += [f"{name}: {e}" for e in template_rules(t) + schema_errors(t)]
        if GENERATED.search(name):
            if not _SAMPLES:
                _SAMPLES.extend(sample_devices())
            problems += [f"{name}: {e}" for e in selector_problems(t, _SAMPLES)]
    for o in objs:
        path = POD_PATHS.get(o.get("kind", ""))
        if not path or "/" in o.get("apiVersion", "v1") and o["apiVersion"].split("/")[0] not in ("apps", "batch"):
            continue
        pod: Any = o
        for step in path:
            pod = (pod or {}).get(step)
        if isinstance(pod, dict) and pod.get("resourceClaims"):
            problems += [f"{o['kind']}/{o['metadata'].get('name')}: {e}" for e in pod_rules(pod, templates)]
    return problems


def cli(*argv: str) -> tuple[int, str, str]:
    """Run ``dra-migrate argv`` in process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from migrator.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()
