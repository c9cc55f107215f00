"""The Python codemod: fixtures (input.py -> expected.py, templates, findings) and the corpus."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from helpers import generated_problems
from migrator.integrations.codemod import run_codemod

CASES = sorted(p for p in (Path(__file__).parent / "codemod").iterdir() if (p / "input.py").is_file())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_codemod_case(case: Path, snapshot) -> None:
    snapshot.snapshot_dir = case
    source = (case / "input.py").read_text()
    result = run_codemod(source, f"{case.name}.py")
    snapshot.assert_match(result.after, "expected.py")
    snapshot.assert_match(yaml.safe_dump_all(result.templates, sort_keys=False), "templates.yaml")
    snapshot.assert_match("".join(f"{f.line}: {f.status.value} {f.code}: {f.message}\n" for f in result.findings),
                          "findings.txt")
    ast.parse(result.after)  # still Python
    assert run_codemod(result.after, f"{case.name}.py").after == result.after  # a second run changes nothing
    if result.templates:
        assert generated_problems(yaml.safe_dump_all(result.templates)) == []


def test_codemod_over_the_corpus(corpus: Path) -> None:
    files = sorted(corpus.rglob("*.py"))
    assert len(files) >= 10
    for path in files:
        source = path.read_text(encoding="utf-8")
        result = run_codemod(source, str(path))
        ast.parse(result.after)
        if result.after != source:
            assert any(f.status.value == "converted" for f in result.findings)
            assert generated_problems(yaml.safe_dump_all(result.templates)) == []
        # every GPU resource name left in the code (a string constant) is reported, or is the
        # key of a toleration the codemod wrote
        reported = {f.line for f in result.findings}
        for node in ast.walk(ast.parse(result.after)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value.startswith(("nvidia.com/gpu", "nvidia.com/mig-")) and node.value != "nvidia.com/gpu.shared":
                text = result.after.splitlines()[node.lineno - 1]
                if "V1Toleration" in text or '"key":' in text:
                    continue
                assert any(abs(node.lineno - r) <= 60 for r in reported), \
                    f"{path}:{node.lineno} still names a GPU resource and nothing says why"
