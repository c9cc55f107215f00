"""GPU113: tests of the rule migrator/transforms/gpu113_cluster_devices.py on the smallest inputs that show it."""

from __future__ import annotations

import textwrap

from migrator.proof.cluster import snapshot_from_objects
from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status
from test_nodes import device, node_objects


POD = textwrap.dedent("""
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
""")


def test_gpu113_mig_single_nodes_make_it_a_mig_request() -> None:
    snap = snapshot_from_objects(node_objects("n", {"nvidia.com/mig.strategy": "single"}, None,
                                              [device(f"mig-{i}", "mig", "1g.10gb") for i in range(2)]))
    result = migrate_text(POD, "t.yaml", Mode(cluster=snap))
    assert "deviceClassName: mig.nvidia.com" in result.text and "1g.10gb" in result.text
    assert any(f.code == "GPU113" for f in result.findings)


def test_gpu113_mixed_nodes_are_reported_not_guessed() -> None:
    objs = node_objects("whole", {"nvidia.com/gpu.product": "Tesla-T4"}, None, [device("gpu-0", "gpu")]) + \
        node_objects("mig", {"nvidia.com/mig.strategy": "single"}, None, [device("mig-0", "mig", "1g.10gb")])
    result = migrate_text(POD, "t.yaml", Mode(cluster=snapshot_from_objects(objs)))
    assert result.text == POD
    assert any(f.code == "GPU113" and f.status is Status.MANUAL for f in result.findings), result.findings


def test_gpu113_whole_gpu_nodes_convert_as_without_a_snapshot() -> None:
    snap = snapshot_from_objects(node_objects("n", {"nvidia.com/gpu.product": "Tesla-T4"}, None,
                                              [device("gpu-0", "gpu")]))
    assert migrate_text(POD, "t.yaml", Mode(cluster=snap)).text == migrate_text(POD, "t.yaml", Mode()).text
