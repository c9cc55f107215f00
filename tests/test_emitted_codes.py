"""Every code the tool can emit is a registered rule with documentation that `rules explain` prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paths import CASES, REPO
from helpers import cli
from migrator.integrations.codemod import run_codemod
from migrator.errors import InvalidInput
from migrator.mode import Mode
from migrator.runner import process_one
from migrator.transforms import BY_CODE

CODE = re.compile(r"\bGPU\d{3}\b")
SECTIONS = ("## What it does", "## Why", "## Example", "## Fix safety")


def codes_in_source() -> dict[str, str]:
    """Every GPUnnn in the package and the rules data: Finding("GPU…"), ctx.finding(CODE…), constants,
    messages and comments alike (a code named anywhere must be one a user can look up)."""
    found: dict[str, str] = {}
    files = sorted((REPO / "migrator").rglob("*.py")) + sorted((REPO / "rules").rglob("*.yaml"))
    for path in files:
        for code in CODE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, str(path.relative_to(REPO)))
    return found


def test_source_scan_sees_the_constructions() -> None:
    """The grep is not vacuous: it finds the codes built in the engine, the runner and codemod."""
    found = codes_in_source()
    assert {"GPU000", "GPU110", "GPU900", "GPU012", "GPU107"} <= set(found)
    assert len(found) >= len(BY_CODE)


def codes_emitted(roots: list[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            if path.suffix in (".yaml", ".yml"):
                for mode in (Mode(), Mode(sharing="timeslicing"), Mode(convert_unknown=True)):
                    for f in process_one(str(path), mode).findings:
                        found.setdefault(f.code, str(path))
            elif path.suffix == ".py":
                try:
                    result = run_codemod(path.read_text(encoding="utf-8"), str(path))
                except (InvalidInput, UnicodeDecodeError):
                    continue
                for f in result.findings:
                    found.setdefault(f.code, str(path))
            elif path.name == "findings.txt":  # the recorded outputs of the fixtures
                for code in CODE.findall(path.read_text(encoding="utf-8")):
                    found.setdefault(code, str(path))
    return found


def explain(code: str) -> tuple[int, str]:
    rc, out, _ = cli("rules", "explain", code)
    return rc, out


def _assert_documented(codes: dict[str, str]) -> None:
    rc, out, _ = cli("rules", "list")
    assert rc == 0
    listed = {line.split()[0] for line in out.splitlines()}
    for code, where in sorted(codes.items()):
        assert code in BY_CODE, f"{code} (from {where}) is not a registered rule"
        rule = BY_CODE[code]
        doc = (rule.__doc__ or "").strip()
        assert doc.startswith(code) and all(s in doc for s in SECTIONS), f"{code} is not documented"
        for section in SECTIONS:
            body = doc.split(section, 1)[1].split("\n## ", 1)[0].strip()
            assert body, f"{code}: empty {section}"
        assert rule.NAME and rule.SUMMARY
        rc, text = explain(code)
        assert rc == 0 and text.strip() == doc
        assert explain(rule.NAME) == (rc, text)
        assert code in listed


def test_every_code_in_the_source_is_a_documented_rule() -> None:
    _assert_documented(codes_in_source())


def test_every_code_emitted_on_the_fixtures_is_a_documented_rule() -> None:
    found = codes_emitted([CASES, REPO / "tests" / "codemod", REPO / "examples"])
    assert {"GPU000", "GPU110"} <= set(found)
    _assert_documented(found)


def test_every_code_emitted_on_the_corpus_is_a_documented_rule(corpus: Path) -> None:
    found = codes_emitted([corpus])
    assert "GPU000" in found
    _assert_documented(found)


@pytest.mark.parametrize("code", ["GPU999", "GPU00", "nope"])
def test_explain_unknown_code_is_a_usage_error(code: str) -> None:
    assert explain(code)[0] == 2
