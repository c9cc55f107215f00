"""GPU111: tests of the rule migrator/transforms/gpu111_cutover_labels.py on the smallest inputs that show it."""

from __future__ import annotations


from migrator.model import Status

from rulekit import assert_blocked



def test_gpu111_selector_on_a_label_the_cut_over_changes() -> None:
    assert_blocked("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      nodeSelector: {nvidia.com/gpu.deploy.device-plugin: "true"}
      containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 2}}}]
    """, "GPU111", Status.MANUAL, "nvidia.com/gpu.deploy.device-plugin")


def test_gpu111_any_operator_in_a_required_term() -> None:
    assert_blocked("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: nvidia.com/gpu.deploy.device-plugin, operator: Exists}]
      containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
    """, "GPU111", Status.MANUAL, "nvidia.com/gpu.deploy.device-plugin")
