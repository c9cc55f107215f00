"""GPU011: tests of the rule migrator/transforms/gpu011_sharing_opt_in.py on the smallest inputs that show it."""

from __future__ import annotations

import textwrap

import dataclasses

from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import FixSafety, Status
from migrator.transforms import BY_CODE


SHARED = textwrap.dedent("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu.shared: 1}}}]
""")


def test_gpu011_only_with_the_opt_in() -> None:
    plain = migrate_text(SHARED, "t.yaml", Mode())
    assert plain.text == SHARED and not [f for f in plain.findings if f.code in ("GPU000", "GPU011")]


def test_gpu011_one_shared_claim_under_sharing() -> None:
    result = migrate_text(SHARED, "t.yaml", dataclasses.replace(Mode(), sharing="timeslicing"))
    (f,) = [f for f in result.findings if f.code == "GPU011"]
    assert f.status is Status.INFO and "TimeSlicing" in f.message
    assert "resourceClaimName: p-shared-gpu-" in result.text  # a claim shared by name, not a template per pod
    assert "nvidia.com/gpu.shared: 1" not in result.text


def test_gpu011_is_unsafe() -> None:
    assert BY_CODE["GPU011"].FIX is FixSafety.UNSAFE  # placement and isolation change (issue 12: not "safe")
