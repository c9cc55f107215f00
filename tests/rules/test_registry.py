"""The registry's promises: every rule documented, every code with its test file named by it
(tests/rules/test_<code>.py) and its fixtures listed by it (tests/cases/CODES.yaml)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from migrator.transforms import BY_CODE

TESTS = Path(__file__).resolve().parent.parent
CASES = TESTS / "cases"


def test_every_rule_is_documented() -> None:
    for code, rule in BY_CODE.items():
        doc = rule.__doc__ or ""
        for section in ("## What it does", "## Why", "## Example", "## Fix safety"):
            assert section in doc, f"{code} lacks {section}"
        assert doc.startswith(code)


def test_every_code_has_a_test_file_named_by_it() -> None:
    missing = []
    for code in BY_CODE:
        f = TESTS / "rules" / f"test_{code.lower()}.py"
        if not f.is_file() or not re.search(rf"^def test_{code.lower()}_", f.read_text(), re.M):
            missing.append(f"{code}: {f.relative_to(TESTS.parent)} with a test_{code.lower()}_* test")
    assert missing == []


def _emitted_by_fixture() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for d in sorted(p for p in CASES.iterdir() if (p / "findings.txt").is_file()):
        for code in re.findall(r"^\d+: \S+ (GPU\d{3}) ", (d / "findings.txt").read_text(), re.M):
            out.setdefault(code, set()).add(d.name)
    return out


def test_fixtures_are_listed_by_code() -> None:
    listed = yaml.safe_load((CASES / "CODES.yaml").read_text())
    assert sorted(listed) == sorted(BY_CODE), "tests/cases/CODES.yaml lists exactly the registered codes"
    problems = []
    for code, fixtures in listed.items():
        if isinstance(fixtures, dict):  # fixtures outside tests/cases, said where
            assert set(fixtures) == {"elsewhere"} and fixtures["elsewhere"], code
            continue
        assert fixtures, f"{code}: no fixture directory"
        problems += [f"{code}: {f} is not a fixture directory" for f in fixtures if not (CASES / f / "input.yaml").is_file()]
    for code, dirs in _emitted_by_fixture().items():
        have = listed.get(code)
        unlisted = sorted(dirs - set(have if isinstance(have, list) else ()))
        problems += [f"{code}: emitted by tests/cases/{d}/findings.txt but not listed under it" for d in unlisted]
    assert problems == []
