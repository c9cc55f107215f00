from __future__ import annotations

from pathlib import Path

import pytest

from paths import CASES, CORPUS, REPO, SHARED  # noqa: F401  (fixtures below use them)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (.ci/run does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # the default run stays fast; a skip (not a deselection) so the summary says what was left out
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow (.ci/run does)")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS
