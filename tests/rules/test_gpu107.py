"""GPU107: tests of the rule migrator/transforms/gpu107_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations

import textwrap


from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status


def test_gpu107_outside_pod_spec() -> None:
    text = textwrap.dedent("""
    apiVersion: karpenter.sh/v1
    kind: NodePool
    metadata: {name: gpu}
    spec:
      limits: {nvidia.com/gpu: 8}
    """)
    result = migrate_text(text, "t.yaml", Mode())
    (f,) = result.findings
    assert f.code == "GPU107" and f.status is Status.INFO and result.text == text
