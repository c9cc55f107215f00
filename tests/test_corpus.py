"""The whole of ../shared/corpus: no crash, valid output, no lost GPU, nothing else touched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import generated_problems, lost_decisions
from migrator.engine import migrate_text
from migrator.errors import InvalidInput
from migrator.mode import Mode
from migrator.model import Status
from migrator.runner import process_one
from semantics import container_asks, holdings_changed, pods


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def _literal_gpu_pods(text: str) -> list[tuple[tuple, dict]]:
    out = []
    for key, pod in pods(text):
        ctrs = [c for s in ("containers", "initContainers") for c in pod.get(s) or [] if isinstance(c, dict)]
        if any(n > 0 for c in ctrs for n in container_asks(c).values()):
            out.append((key, pod))
    return out


def test_corpus(corpus: Path) -> None:
    files = corpus_files(corpus)
    assert len(files) > 150
    converted = reported = 0
    for path in files:
        raw = path.read_bytes()
        result = process_one(str(path), Mode())
        if result.error:
            # Only inputs a YAML parser rejects too may fail, with a one-line message naming the file.
            assert "\n" not in result.error and str(path) in result.error
            with pytest.raises(yaml.YAMLError):
                list(yaml.safe_load_all(raw))
            assert path.read_bytes() == raw
            continue
        before, after = result.before, result.after
        assert before is not None and after is not None
        try:
            gpu_pods = _literal_gpu_pods(before)
        except yaml.YAMLError:  # not YAML (a Helm template with no GPU word): must be untouched
            assert after == before, path
            continue
        if not gpu_pods and not any(f.code == "GPU012" and f.status is Status.CONVERTED for f in result.findings):
            assert after == before, f"{path}: no GPU pod spec, but the text changed"
        if after != before:
            list(yaml.safe_load_all(after))
            assert generated_problems(after, before=before) == [], path
            assert holdings_changed(before, after) == [], path
            again = migrate_text(after, str(path), Mode())
            assert again.text == after, f"{path}: second run changed the file"
            assert lost_decisions(result, again) == [], path
        # Every GPU pod spec with a literal count is converted, or reported with a reason.
        remaining = {key for key, _ in _literal_gpu_pods(after)}
        labels = {f.workload for f in result.findings if f.status is not Status.CONVERTED}
        for key in remaining:
            kind, ns, name = key[:3]
            label = f"{kind} {ns + '/' if ns else ''}{name or '<unnamed>'}"
            assert label in labels, f"{path}: {label} still asks for GPUs and nothing says why"
        converted += sum(f.status is Status.CONVERTED for f in result.findings)
        reported += sum(f.status in (Status.SKIPPED, Status.MANUAL) for f in result.findings)
    assert converted >= 90 and reported >= 20


def test_corpus_other_targets(corpus: Path) -> None:
    """The older API shapes validate against their own Kubernetes version's schema too."""
    from migrator.mode import api_version_for

    for kube in ("1.32", "1.33"):
        mode = Mode(api_version=api_version_for(kube), kube_version=kube)
        for path in corpus_files(corpus):
            try:
                result = migrate_text(path.read_text(encoding="utf-8"), str(path), mode)
            except (InvalidInput, UnicodeDecodeError):
                continue
            if result.templates or result.text != path.read_text(encoding="utf-8"):
                assert generated_problems(result.text, before=path.read_text(encoding="utf-8")) == [], path
