"""GPU010: tests of the rule migrator/transforms/gpu010_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations

import textwrap


from migrator.engine import migrate_text
from migrator.mode import Mode


def test_gpu010_ray_num_gpus() -> None:
    text = """
    apiVersion: ray.io/v1
    kind: RayCluster
    metadata: {name: r}
    spec:
      headGroupSpec:
        rayStartParams: {}
        template:
          spec:
            containers: [{name: head, image: ray, resources: {limits: {nvidia.com/gpu: 2}}}]
    """
    result = migrate_text(textwrap.dedent(text), "t.yaml", Mode())
    assert 'rayStartParams: {num-gpus: "2"}' in result.text
    assert any(f.code == "GPU010" for f in result.findings)
    already = textwrap.dedent(text).replace("rayStartParams: {}", "rayStartParams: {num-gpus: '0'}")
    assert "num-gpus: '0'" in migrate_text(already, "t.yaml", Mode()).text
