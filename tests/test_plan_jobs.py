"""``plan`` with worker processes gives the plan it gives without them.

The rewrite of the manifests (most of a big plan's time) runs in workers from
``pairing.PARALLEL_BYTES`` of GPU manifests on; what comes back is data, so every line of the
runbook, the proof and the reported files must be the same as in one process, in the same order.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.plangen import cluster
from migrator.proof.cluster import snapshot_from_objects
from migrator.mode import Mode
from migrator.k8s.pairing import Detached, Migrated, migrate_all
from migrator.plan.build import build_plan
from migrator.plan.output import to_json, to_text

BROKEN = [("bad.yaml", "a: [nvidia.com/gpu\n"),  # the rewrite raises InvalidInput: reported
          ("helm.yaml", "{{ .Values.x }}: 1\n"),  # no trigger word: passed by, never parsed
          ("quota.yaml", "kind: ResourceQuota\nmetadata: {name: q}\nspec: {hard: {requests.nvidia.com/gpu: 4}}\n")]


@pytest.mark.parametrize("workloads", [60, 400])
def test_workers_give_the_same_plan(workloads: int) -> None:
    files, objs = cluster(workloads, workloads // 5)
    files = BROKEN[:1] + files + BROKEN[1:]
    snap = snapshot_from_objects(objs)
    one, two = build_plan(files, snap, Mode(), explain=True, jobs=1), build_plan(files, snap, Mode(), explain=True, jobs=2)
    assert to_text(two, True) == to_text(one, True)
    assert json.dumps(to_json(two, True)) == json.dumps(to_json(one, True))
    assert two.errors == one.errors and len(one.errors) == 1 and one.errors[0].startswith("bad.yaml:")
    assert one.proof is not None and one.proof.ok and len(one.steps) > workloads


def test_automatic_workers_only_for_big_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    files, _ = cluster(40, 8)
    small = list(migrate_all(files, Mode()))
    assert all(isinstance(m, Migrated) for m in small)  # under PARALLEL_BYTES: in this process
    monkeypatch.setattr("migrator.k8s.pairing.PARALLEL_BYTES", 1)
    big = list(migrate_all(files + BROKEN, Mode()))
    assert all(isinstance(m, Detached) for m in big[:-3]) and isinstance(big[-3], str)
    assert [m.result.text for m in big[:-3]] == [m.result.text for m in small]  # type: ignore[union-attr]
    assert [m.after for m in big[:-3]] == [m.after for m in small]  # type: ignore[union-attr]
    # passed by unparsed (no trigger word) and unreadable as YAML: the plan skips it, as in one process
    assert str(big[-2].unreadable).startswith("helm.yaml:1:") and big[-2].result.findings == ()  # type: ignore[union-attr]
    serial = list(migrate_all(BROKEN, Mode(), jobs=1))
    assert big[-3] == serial[0]
    assert big[-1].result == serial[2].result and big[-1].after == serial[2].after  # type: ignore[union-attr]
