"""One test (at least) per rule, on the smallest pod that shows its behaviour."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest

from migrator.cli import main
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


def assert_blocked(src: str, code: str, status: Status, reason: str) -> None:
    """``code`` blocks the pod with its own finding (``status``, a message holding ``reason``), and the
    file is left byte for byte: by the engine and by ``rewrite --write``."""
    plan, out = run_until(code, context(src))
    assert plan.blocked, out
    assert out and (out[0].code, out[0].status) == (code, status) and reason in out[0].message, out
    text = textwrap.dedent(src)
    result = migrate_text(text, "t.yaml", Mode())
    assert result.text == text
    assert any(f.code == code and f.status is status and reason in f.message for f in result.findings), result.findings
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "t.yaml"
        f.write_bytes(text.encode())
        assert main(["rewrite", "--write", "-q", str(f)]) != 2
        assert f.read_bytes() == text.encode()


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


@pytest.mark.parametrize("name", ["nvidia.com/mig-weird", "nvidia.com/mig-", "nvidia.com/mig-1g", "nvidia.com/mig-7x.80gb"])
def test_gpu002_unknown_mig_name_is_manual(name: str) -> None:
    assert_blocked(pod(f"      limits: {{{name}: 1}}"), "GPU002", Status.MANUAL, f"unknown MIG resource {name!r}")


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


@pytest.mark.parametrize("resource,amount", [("nvidia.com/gpumem", "3000"), ("nvidia.com/gpumem-percentage", "50"),
                                             ("nvidia.com/gpucores", "30"), ("nvidia.com/priority", "1")])
def test_gpu101_hami(resource: str, amount: str) -> None:
    assert_blocked(pod(f"      limits: {{nvidia.com/gpu: 1, {resource}: {amount}}}"), "GPU101", Status.SKIPPED,
                   f"HAMi vGPU request ({resource}): nvidia.com/gpu counts vGPU slots here")


@pytest.mark.parametrize("value,reason", [
    ("$GPUS", "count '$GPUS' is a placeholder"), ("'${N}'", "count '${N}' is a placeholder"),
    ("'{{ .Values.gpus }}'", "count '{{ .Values.gpus }}' is a placeholder"),
    ("GPU_COUNT", "count 'GPU_COUNT' is a placeholder"), ("1.5", "count '1.5' is 1.5, not a whole number"),
])
def test_gpu102_placeholder_counts(value: str, reason: str) -> None:
    assert_blocked(pod(f"      limits: {{nvidia.com/gpu: {value}}}"), "GPU102", Status.SKIPPED, reason)


@pytest.mark.parametrize("limits,requests", [(2, 1), (1, 2), (1, 0), (8, 4)])
def test_gpu102_limits_requests_mismatch(limits: int, requests: int) -> None:
    src = pod(f"      limits: {{nvidia.com/gpu: {limits}}}\n          requests: {{nvidia.com/gpu: {requests}}}")
    assert_blocked(src, "GPU102", Status.SKIPPED, "nvidia.com/gpu limits and requests differ")


@pytest.mark.parametrize("label,value,meaning", [
    ("nvidia.com/gpu.product", "Tesla-T4-SHARED", "time-sliced/MPS replicas (GFD adds -SHARED)"),
    ("nvidia.com/gpu.replicas", "'4'", "time-sliced/MPS replicas"),
    ("nvidia.com/mig.strategy", "single", "single-strategy MIG slices of an unknown profile"),
    ("nvidia.com/gpu.sharing-strategy", "mps", "time-sliced/MPS replicas"),
    ("nvidia.com/gpu.sharing-strategy", "time-slicing", "time-sliced/MPS replicas"),
])
def test_gpu103_sharing_labels(label: str, value: str, meaning: str) -> None:
    src = pod("      limits: {nvidia.com/gpu: 1}", extra=f"  nodeSelector: {{{label}: {value}}}")
    assert_blocked(src, "GPU103", Status.MANUAL,
                   f"node selection {label}={value.strip(chr(39))} means nvidia.com/gpu is {meaning} on those nodes")


@pytest.mark.parametrize("count", [1, 2, 4])
def test_gpu103_shared_resource_name(count: int) -> None:
    assert_blocked(pod(f"      limits: {{nvidia.com/gpu.shared: {count}}}"), "GPU103", Status.MANUAL,
                   "nvidia.com/gpu.shared is a time-slicing/MPS replica, not a device")


def test_gpu103_plain_product_label_is_fine() -> None:
    plan, out = run_until("GPU103", context(pod("      limits: {nvidia.com/gpu: 1}",
                                                 extra="  nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}")))
    assert not plan.blocked and not out


@pytest.mark.parametrize("annotation,value", [("gpu-fraction", "0.5"), ("gpu-memory", "2000"),
                                              ("gpu-fraction-num-devices", "2")])
def test_gpu104_annotation_request(annotation: str, value: str) -> None:
    text = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: p, annotations: {{{annotation}: "{value}"}}}}
    spec:
      containers: [{{name: c, image: x}}]
    """
    assert_blocked(text, "GPU104", Status.MANUAL, f"GPU share requested by annotation ({annotation}={value})")


@pytest.mark.parametrize("api,kind", [("example.com/v1", "Thing"), ("ml.example.org/v1beta2", "TrainingRun")])
def test_gpu105_unknown_kind(api: str, kind: str) -> None:
    text = f"""
    apiVersion: {api}
    kind: {kind}
    metadata: {{name: t}}
    spec:
      containers: [{{name: c, image: x, resources: {{limits: {{nvidia.com/gpu: 1}}}}}}]
    """
    assert_blocked(text, "GPU105", Status.MANUAL, f"not converted: {kind} ({api}) is not in rules/workloads.yaml")


@pytest.mark.parametrize("shared", [
    "resources: &r {limits: {nvidia.com/gpu: 1}}}\n      - {name: b, image: x, resources: *r}",
    "resources: {limits: &l {nvidia.com/gpu: 1}}}\n      - {name: b, image: x, resources: {limits: *l}}",
    "resources: {limits: &l {nvidia.com/gpu: 1}}}\n      - {name: b, image: x, resources: {limits: {<<: *l}}}",
])
def test_gpu106_alias(shared: str) -> None:
    text = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: p}}
    spec:
      containers:
      - {{name: a, image: x, {shared}
    """
    assert_blocked(text, "GPU106", Status.MANUAL, "the GPU block is shared through a YAML alias or merge key")


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
