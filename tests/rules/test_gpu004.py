"""GPU004: tests of the rule migrator/transforms/gpu004_*.py on the smallest inputs that show it."""

from __future__ import annotations

from __future__ import annotations


import pytest

from rulekit import context, run_until


@pytest.mark.parametrize("inits,apps,expected_total", [
    ([1], [2], 2),            # init smaller than app: reuse
    ([4], [2], 4),            # init larger: one extra request of 2
    ([2, 3], [1, 1], 3),      # several inits: the largest shortfall
    ([0], [1], 1),
])
def test_gpu004_init_containers_never_add_devices(inits, apps, expected_total) -> None:
    init_yaml = "  initContainers:\n" + "".join(
        f"  - name: i{n}\n    image: x\n    resources: {{limits: {{nvidia.com/gpu: {k}}}}}\n"
        for n, k in enumerate(inits))
    app_yaml = "".join(
        f"  - name: a{n}\n    image: x\n    resources: {{limits: {{nvidia.com/gpu: {k}}}}}\n"
        for n, k in enumerate(apps))
    text = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n{init_yaml}  containers:\n{app_yaml}"
    ctx = context(text)
    plan, _ = run_until("GPU004", ctx)
    assert sum(r.count for r in plan.requests) == expected_total
    requests = {r.name: r.count for r in plan.requests}
    for n, k in enumerate(inits):
        if k:
            seen = sum(requests[r] for r in plan.wiring[("initContainers", n)])
            assert seen >= k


def test_gpu004_sidecar_holds_its_own() -> None:
    text = """
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      initContainers:
      - {name: side, image: x, restartPolicy: Always, resources: {limits: {nvidia.com/gpu: 1}}}
      containers:
      - {name: main, image: x, resources: {limits: {nvidia.com/gpu: 1}}}
    """
    plan, _ = run_until("GPU004", context(text))
    assert sorted((r.name, r.count) for r in plan.requests) == [("main", 1), ("side", 1)]
