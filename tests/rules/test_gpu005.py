"""GPU005: tests of the rule migrator/transforms/gpu005_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations

import textwrap

import pytest

from migrator.engine import migrate_text
from migrator.mode import Mode
from rulekit import context, pod, run_until


def test_gpu005_toleration_added_unless_present() -> None:
    plan, _ = run_until("GPU005", context(pod("      limits: {nvidia.com/gpu: 1}")))
    assert plan.tolerations == ["nvidia.com/gpu"]
    tolerating = pod("      limits: {nvidia.com/gpu: 1}", extra="  tolerations: [{operator: Exists}]")
    plan, _ = run_until("GPU005", context(tolerating))
    assert plan.tolerations == []
    noexec = pod("      limits: {nvidia.com/gpu: 1}",
                 extra="  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoExecute}]")
    plan, _ = run_until("GPU005", context(noexec))
    assert plan.tolerations == ["nvidia.com/gpu"]


@pytest.mark.parametrize("tolerations", [
    "[{operator: Exists}]", "[{key: nvidia.com/gpu, operator: Exists}]",
    "[{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]",
    "[{key: nvidia.com/gpu, operator: Exists, effect: NoExecute}]", "[{key: nvidia.com/gpu}]",
    "[{key: nvidia.com/gpu, operator: Equal, value: present}]",
    "[{key: nvidia.com/gpu, value: 'true', effect: NoSchedule}]", "[{key: other, operator: Exists}]",
    "[{key: '', operator: Exists, effect: NoSchedule}]", "[]", "null"])
def test_gpu005_rewritten_pod_tolerates_what_the_admission_plugin_made_it_tolerate(tolerations: str) -> None:
    """Oracle: the ExtendedResourceToleration plugin's Exists toleration, checked on taints of several values."""
    import yaml

    from migrator.proof.cluster import Node, Taint, tolerates

    text = textwrap.dedent(pod("      limits: {nvidia.com/gpu: 1}", extra=f"  tolerations: {tolerations}"))
    before = yaml.safe_load(text)["spec"]
    before = dict(before, tolerations=list(before.get("tolerations") or []) +
                  [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    after = next(d for d in yaml.safe_load_all(migrate_text(text, "t.yaml", Mode()).text) if d["kind"] == "Pod")["spec"]
    for value in ("present", "true", ""):
        node = Node("n", {}, (Taint("nvidia.com/gpu", value, "NoSchedule"),), {})
        assert tolerates(after, node) == tolerates(before, node), (tolerations, value)
