"""The bundled examples migrate, validate, keep device counts and are stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import generated_problems
from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status
from semantics import holdings_changed

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example(path: Path) -> None:
    text = path.read_text()
    result = migrate_text(text, str(path), Mode())
    assert result.text != text
    assert any(f.status is Status.CONVERTED for f in result.findings)
    assert generated_problems(result.text) == []
    assert holdings_changed(text, result.text) == []
    assert migrate_text(result.text, str(path), Mode()).text == result.text
