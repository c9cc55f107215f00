"""The planner model's indexes say what a scan of every node would say, at every tick.

Issue 13: cut-over candidates (``Model.busy_dp``: nodes by device-plugin pods bound there), the room
a drained or pending device-plugin pod may take (``Model.dp_with_room``) and the cut-overs that evict
nothing (``Model.dp_empty``) are kept on bind, termination and release instead of rescanning the
cluster per decision. Each is checked here against the scan it replaced, after every tick of whole
plans on generated clusters (several sizes, DRA fractions and strategies), and in the proof's replay.
"""

from __future__ import annotations

import pytest

from benchmarks.plangen import cluster
from migrator.mode import Mode
from migrator.plan import model as model_mod
from migrator.plan.build import build_plan
from migrator.proof.cluster import snapshot_from_objects


def _scan(m: model_mod.Model) -> tuple[list[tuple[int, str]], list[str], list[str]]:
    busy, room, empty = [], [], []
    for name in m.names:
        node = m.nodes[name]
        bound = [p for p in m.on_node.get(name, []) if p.dp and p.state != "terminating"]
        assert node.dp_bound == len(bound), name
        if node.devices and node.dp_on and not node.dra_on:
            if node.dp_pods:
                busy.append((len(bound), name))
            else:
                empty.append(name)
        if node.dp_on and any(a - node.dp_used.get(r, 0) > 0 for r, a in node.dp_alloc.items()):
            room.append(name)
    return sorted(busy), room, empty


@pytest.mark.parametrize(("workloads", "nodes", "dra"), [(60, 12, 0.2), (150, 25, 0.0), (200, 50, 0.5)])
def test_indexes_match_a_scan_after_every_tick(monkeypatch: pytest.MonkeyPatch, workloads: int, nodes: int,
                                               dra: float) -> None:
    files, objs = cluster(workloads, nodes, dra_fraction=dra)
    ticks = {"n": 0}
    tick = model_mod.Model.tick

    def checked(self: model_mod.Model) -> None:
        tick(self)
        ticks["n"] += 1
        busy, room, empty = _scan(self)
        assert list(self.busy_dp()) == busy
        assert list(self.dp_with_room()) == room
        assert list(self.dp_empty()) == empty

    monkeypatch.setattr(model_mod.Model, "tick", checked)
    plan = build_plan(files, snapshot_from_objects(objs), Mode(), jobs=1)
    assert plan.proof is not None and plan.proof.ok
    assert any(s.action == "drain" for s in plan.steps) or dra > 0  # busy nodes were cut over
    assert ticks["n"] > workloads
