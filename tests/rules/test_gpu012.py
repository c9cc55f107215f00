"""GPU012: tests of the rule migrator/transforms/gpu012_dra_api_upgrade.py on the smallest inputs that show it."""

from __future__ import annotations

import textwrap

from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status



def test_gpu012_upgrades_a_v1beta1_template_to_the_target() -> None:
    text = textwrap.dedent("""
    apiVersion: resource.k8s.io/v1beta1
    kind: ResourceClaimTemplate
    metadata: {name: t}
    spec:
      spec:
        devices:
          requests: [{name: gpu, deviceClassName: gpu.nvidia.com}]
    """)
    result = migrate_text(text, "t.yaml", Mode())
    (f,) = result.findings
    assert (f.code, f.status) == ("GPU012", Status.CONVERTED) and "v1beta1 -> resource.k8s.io/v1" in f.message
    assert "apiVersion: resource.k8s.io/v1\n" in result.text
    assert "exactly" in result.text and "deviceClassName: gpu.nvidia.com" in result.text
    assert migrate_text(result.text, "t.yaml", Mode()).text == result.text  # a second run changes nothing
