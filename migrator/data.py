"""Where the rules data lives: ``rules/`` beside the package in a clone, ``migrator/_rules`` in a
wheel (pyproject.toml force-include)."""

from __future__ import annotations

from pathlib import Path


def rules_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if (candidate / "workloads.yaml").is_file():
            return candidate
    raise FileNotFoundError("rules/ tables not found next to the migrator package")
