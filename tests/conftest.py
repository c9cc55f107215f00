from __future__ import annotations

from pathlib import Path

import pytest

from paths import CASES, CORPUS, REPO, SHARED  # noqa: F401  (fixtures below use them)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS
