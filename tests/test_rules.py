"""One test (at least) per rule, on the smallest pod that shows its behaviour."""

from __future__ import annotations

import textwrap

import pytest

from migrator.documents import parse, shared_nodes
from migrator.engine import _pod_metadata, migrate_text
from migrator.locate import objects, pod_specs
from migrator.mode import Mode
from migrator.model import Finding, Status
from migrator.tables import load_tables
from migrator.transforms import BY_CODE, REGISTRY
from migrator.transforms.base import Block, PodContext, PodPlan, build_context


def context(src: str, index: int = 0) -> PodContext:
    text = textwrap.dedent(src)
    docs = parse(text, "t.yaml")
    tables = load_tables()
    obj = list(objects(docs))[index]
    ref = next(iter(pod_specs(obj, tables)))
    ctx = build_context("t.yaml", ref, tables, Mode(), _pod_metadata(obj, ref))
    root = docs[obj.doc].root
    return PodContext(ctx.path, ctx.ref, ctx.tables, ctx.mode, ctx.containers, ctx.asks, ctx.annotations,
                      ctx.node_selection, frozenset(shared_nodes(root)))


def run_until(code: str, ctx: PodContext) -> tuple[PodPlan, list]:
    """Run the registry in order up to and including ``code``; return the plan and its findings."""
    plan = PodPlan()
    found = []
    for rule in REGISTRY:
        out = []
        for item in rule.check(ctx, plan):  # rules return findings and fix intents; the engine applies these
            if isinstance(item, Finding):
                out.append(item)
            else:
                plan.apply(item)
                if isinstance(item, Block):
                    out.append(item.finding)
        if rule.CODE == code:
            return plan, out
        found += out
        if plan.blocked:
            break
    raise AssertionError(f"{code} did not run (blocked earlier: {found})")


def pod(resources: str, extra: str = "", init: str = "") -> str:
    return f"""
    apiVersion: v1
    kind: Pod
    metadata:
      name: p
    spec:
    {extra}
    {init}
      containers:
      - name: main
        image: x
        resources:
    {resources}
    """


def test_every_rule_is_documented() -> None:
    for code, rule in BY_CODE.items():
        doc = rule.__doc__ or ""
        for section in ("## What it does", "## Why", "## Example", "## Fix safety"):
            assert section in doc, f"{code} lacks {section}"
        assert doc.startswith(code)


def test_gpu001_whole_gpu_counts_and_wiring() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: '3', cpu: 1}"))
    plan, _ = run_until("GPU001", ctx)
    assert [(r.name, r.device_class, r.count) for r in plan.requests] == [("main", "gpu.nvidia.com", 3)]
    assert plan.wiring == {("containers", 0): ["main"]}
    assert plan.removals == [("containers", 0, "nvidia.com/gpu")]


@pytest.mark.parametrize("resource,profile", [
    ("nvidia.com/mig-1g.5gb", "1g.5gb"),
    ("nvidia.com/mig-1g.10gb.me", "1g.10gb+me"),
    ("nvidia.com/mig-1g.10gb.me.all", "1g.10gb+me.all"),
    ("nvidia.com/mig-1g.10gb-me", "1g.10gb-me"),
    ("nvidia.com/mig-1c.3g.20gb", "1c.3g.20gb"),
])
def test_gpu002_mig_profile(resource: str, profile: str) -> None:
    ctx = context(pod(f"      limits: {{{resource}: 2}}"))
    plan, _ = run_until("GPU002", ctx)
    (req,) = plan.requests
    assert req.device_class == "mig.nvidia.com" and req.count == 2
    assert req.selectors == ("'profile' in device.attributes['gpu.nvidia.com'] && "
                             f"device.attributes['gpu.nvidia.com'].profile == '{profile}'",)


def test_gpu002_unknown_mig_name_is_manual() -> None:
    ctx = context(pod("      limits: {nvidia.com/mig-weird: 1}"))
    plan, out = run_until("GPU002", ctx)
    assert plan.blocked and out[0].status is Status.MANUAL


def test_gpu003_zero_count_removed_without_claim() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: 0}"))
    plan, out = run_until("GPU003", ctx)
    assert plan.removals == [("containers", 0, "nvidia.com/gpu")] and not plan.requests
    assert out[0].status is Status.INFO


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

    from migrator.cluster import Node, Taint, tolerates

    text = textwrap.dedent(pod("      limits: {nvidia.com/gpu: 1}", extra=f"  tolerations: {tolerations}"))
    before = yaml.safe_load(text)["spec"]
    before = dict(before, tolerations=list(before.get("tolerations") or []) +
                  [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    after = next(d for d in yaml.safe_load_all(migrate_text(text, "t.yaml", Mode()).text) if d["kind"] == "Pod")["spec"]
    for value in ("present", "true", ""):
        node = Node("n", {}, (Taint("nvidia.com/gpu", value, "NoSchedule"),), {})
        assert tolerates(after, node) == tolerates(before, node), (tolerations, value)


def test_gpu006_claim_name_avoids_existing() -> None:
    extra = "  resourceClaims: [{name: gpu, resourceClaimName: a}, {name: gpu-2, resourceClaimName: b}]"
    plan, out = run_until("GPU006", context(pod("      limits: {nvidia.com/gpu: 1}", extra=extra)))
    assert plan.claim_name == "gpu-3" and out[0].status is Status.INFO


def test_gpu007_runtime_hints() -> None:
    text = pod("      limits: {nvidia.com/gpu: 1}", extra="  runtimeClassName: nvidia")
    plan, out = run_until("GPU007", context(text))
    assert out and "runtimeClassName" in out[0].message and out[0].status is Status.MANUAL


def test_gpu101_hami() -> None:
    plan, out = run_until("GPU101", context(pod("      limits: {nvidia.com/gpu: 1, nvidia.com/gpumem: 3000}")))
    assert plan.blocked and out[0].status is Status.SKIPPED


@pytest.mark.parametrize("value", ["$GPUS", "'${N}'", "'{{ .Values.gpus }}'", "1.5", "GPU_COUNT"])
def test_gpu102_placeholder_counts(value: str) -> None:
    plan, out = run_until("GPU102", context(pod(f"      limits: {{nvidia.com/gpu: {value}}}")))
    assert plan.blocked and out[0].status is Status.SKIPPED


def test_gpu102_limits_requests_mismatch() -> None:
    plan, out = run_until("GPU102", context(pod("      limits: {nvidia.com/gpu: 2}\n          requests: {nvidia.com/gpu: 1}")))
    assert plan.blocked and "differ" in out[0].message


@pytest.mark.parametrize("selector", [
    "nodeSelector: {nvidia.com/gpu.product: Tesla-T4-SHARED}",
    "nodeSelector: {nvidia.com/gpu.replicas: '4'}",
    "nodeSelector: {nvidia.com/mig.strategy: single}",
    "nodeSelector: {nvidia.com/gpu.sharing-strategy: mps}",
])
def test_gpu103_sharing_labels(selector: str) -> None:
    plan, out = run_until("GPU103", context(pod("      limits: {nvidia.com/gpu: 1}", extra="  " + selector)))
    assert plan.blocked and out[0].status is Status.MANUAL


def test_gpu103_shared_resource_name() -> None:
    plan, out = run_until("GPU103", context(pod("      limits: {nvidia.com/gpu.shared: 1}")))
    assert plan.blocked


def test_gpu103_plain_product_label_is_fine() -> None:
    plan, out = run_until("GPU103", context(pod("      limits: {nvidia.com/gpu: 1}",
                                                 extra="  nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}")))
    assert not plan.blocked and not out


def test_gpu104_annotation_request() -> None:
    text = """
    apiVersion: v1
    kind: Pod
    metadata: {name: p, annotations: {gpu-fraction: "0.5"}}
    spec:
      containers: [{name: c, image: x}]
    """
    plan, out = run_until("GPU104", context(text))
    assert plan.blocked and out[0].status is Status.MANUAL


def test_gpu105_unknown_kind() -> None:
    text = """
    apiVersion: example.com/v1
    kind: Thing
    metadata: {name: t}
    spec:
      containers: [{name: c, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
    """
    plan, out = run_until("GPU105", context(text))
    assert plan.blocked and out[0].status is Status.MANUAL


def test_gpu106_alias() -> None:
    text = """
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
      - {name: a, image: x, resources: &r {limits: {nvidia.com/gpu: 1}}}
      - {name: b, image: x, resources: *r}
    """
    plan, out = run_until("GPU106", context(text))
    assert plan.blocked


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


def test_gpu008_selection_moves_and_keeps() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: 1}",
                      extra="  nodeSelector: {nvidia.com/gpu.family: hopper, disk: ssd, nvidia.com/gpu.product: 'x y'}"))
    plan, out = run_until("GPU008", ctx)
    (req,) = plan.requests
    assert req.selectors == ("('architecture' in device.attributes['gpu.nvidia.com'] && "
                             "device.attributes['gpu.nvidia.com'].architecture == 'Hopper')",)
    assert plan.translation.remove_selector_keys == ["nvidia.com/gpu.family"]
    assert any("no mapping" in f.message for f in out)  # 'x y' is not a GFD product label


def test_gpu009_mig_single_strategy() -> None:
    ctx = context(pod("      limits: {nvidia.com/gpu: 2}",
                      extra="  nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB-MIG-3g.20gb}"))
    plan, out = run_until("GPU009", ctx)
    (req,) = plan.requests
    assert req.device_class == "mig.nvidia.com" and req.count == 2
    assert "profile == '3g.20gb'" in req.selectors[0] and "'NVIDIA-A100-SXM4-40GB'" in req.selectors[1]


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
