"""GPU000: tests of the rule migrator/transforms/gpu000_converted.py on the smallest inputs that show it."""

from __future__ import annotations

import textwrap

from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status



def test_gpu000_names_the_template_and_every_request() -> None:
    text = textwrap.dedent("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
      - {name: main, image: x, resources: {limits: {nvidia.com/gpu: 2}}}
      - {name: side, image: y, resources: {limits: {nvidia.com/gpu: 1}}}
    """)
    result = migrate_text(text, "t.yaml", Mode())
    (f,) = [f for f in result.findings if f.code == "GPU000"]
    assert f.status is Status.CONVERTED
    assert f.message.startswith("converted to ResourceClaimTemplate p-gpu-")
    assert "main: 2 x gpu.nvidia.com" in f.message and "side: 1 x gpu.nvidia.com" in f.message
    name = f.message.split()[3]
    assert f"resourceClaimTemplateName: {name}" in result.text


def test_gpu000_never_for_a_pod_left_alone() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n"
    result = migrate_text(text, "t.yaml", Mode())
    assert result.text == text and not [f for f in result.findings if f.code == "GPU000"]
