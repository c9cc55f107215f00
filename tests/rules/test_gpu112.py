"""GPU112: tests of the rule migrator/transforms/gpu112_invalid_pod.py on the smallest inputs that show it."""

from __future__ import annotations


from migrator.model import Status

from rulekit import assert_blocked



def test_gpu112_container_name_shared_with_an_init_container() -> None:
    assert_blocked("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      initContainers: [{name: main, image: busybox}]
      containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
    """, "GPU112", Status.SKIPPED, "container name 'main' is used in initContainers and containers")


def test_gpu112_gpu_in_an_ephemeral_container() -> None:
    assert_blocked("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers: [{name: main, image: x}]
      ephemeralContainers: [{name: dbg, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
    """, "GPU112", Status.SKIPPED, "ephemeral")
