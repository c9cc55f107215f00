"""GPU101: tests of the rule migrator/transforms/gpu101_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from migrator.model import Status
from rulekit import assert_blocked, pod


@pytest.mark.parametrize("resource,amount", [("nvidia.com/gpumem", "3000"), ("nvidia.com/gpumem-percentage", "50"),
                                             ("nvidia.com/gpucores", "30"), ("nvidia.com/priority", "1")])
def test_gpu101_hami(resource: str, amount: str) -> None:
    assert_blocked(pod(f"      limits: {{nvidia.com/gpu: 1, {resource}: {amount}}}"), "GPU101", Status.SKIPPED,
                   f"HAMi vGPU request ({resource}): nvidia.com/gpu counts vGPU slots here")
