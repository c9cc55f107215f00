"""GPU109: tests of the rule migrator/transforms/gpu109_opt_out.py on the smallest inputs that show it."""

from __future__ import annotations


from migrator.model import Status

from rulekit import assert_blocked



def test_gpu109_object_annotation_skips() -> None:
    assert_blocked("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p, annotations: {dra-migrate/skip: "true"}}
    spec:
      containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 2}}}]
    """, "GPU109", Status.SKIPPED, "opted out by the annotation dra-migrate/skip")


def test_gpu109_pod_template_annotation_skips() -> None:
    assert_blocked("""
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: d}
    spec:
      template:
        metadata: {annotations: {dra-migrate/skip: "TRUE"}}
        spec:
          containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
    """, "GPU109", Status.SKIPPED, "opted out")
