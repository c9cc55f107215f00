"""GPU900: tests of the rule migrator/transforms/gpu900_not_processed.py on the smallest inputs that show it."""

from __future__ import annotations

import textwrap

from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status



def test_gpu900_node_selector_a_string() -> None:
    text = textwrap.dedent("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      nodeSelector: "nvidia.com/gpu.product=A100"
      containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
    """)
    result = migrate_text(text, "t.yaml", Mode())
    assert result.text == text
    (f,) = result.findings
    assert (f.code, f.status) == ("GPU900", Status.MANUAL) and "spec.nodeSelector is a string" in f.message


def test_gpu900_resources_as_a_sequence_item() -> None:
    text = textwrap.dedent("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
      - name: main
        image: x
        resources:
          limits:
          - nvidia.com/gpu: 1
    """)
    result = migrate_text(text, "t.yaml", Mode())
    assert result.text == text
    assert [(f.code, f.status) for f in result.findings] == [("GPU900", Status.MANUAL)], result.findings
