"""Fixture directories: tests/cases/<case>/input.yaml -> expected.yaml (+ findings.txt).

Run ``pytest tests/test_cases.py --snapshot-update`` after a deliberate change and read the
diff of the expected files before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import findings_text, generated_problems, lost_decisions, mode_from_flags, run_case, templates_text

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if (p / "input.yaml").is_file())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, snapshot) -> None:
    snapshot.snapshot_dir = case
    raw = (case / "input.yaml").read_bytes()
    text = raw.decode("utf-8")
    mode = mode_from_flags(case / "flags.txt")
    result = run_case(text, mode)
    snapshot.assert_match(result.text.encode("utf-8"), "expected.yaml")
    snapshot.assert_match(findings_text(result), "findings.txt")
    if result.templates:
        snapshot.assert_match(templates_text(result), "templates.yaml")

    # A second run changes nothing.
    again = run_case(result.text, mode)
    assert again.text == result.text
    assert not again.templates
    assert lost_decisions(result, again) == []
    # What we generate is valid.
    extra = list(result.templates)
    assert generated_problems(result.text, extra, before=text) == []
    # The output is still YAML with as many objects (plus the templates).
    list(yaml.safe_load_all(result.text))
