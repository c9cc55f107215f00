"""GPU108: tests of the rule migrator/transforms/gpu108_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations

import textwrap


from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status


def test_gpu108_served_by_dra() -> None:
    text = """
    apiVersion: resource.k8s.io/v1
    kind: DeviceClass
    metadata: {name: mig-1g}
    spec: {extendedResourceName: nvidia.com/mig-1g.12gb}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers: [{name: c, image: x, resources: {limits: {nvidia.com/mig-1g.12gb: 1}}}]
    """
    result = migrate_text(textwrap.dedent(text), "t.yaml", Mode())
    assert [f.code for f in result.findings if f.status is Status.SKIPPED] == ["GPU108"]
    assert result.text == textwrap.dedent(text)
