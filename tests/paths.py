"""Where the tests find their inputs (a module of its own: ``conftest`` is ambiguous, tests/e2e has one too)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
CASES = Path(__file__).resolve().parent / "cases"
