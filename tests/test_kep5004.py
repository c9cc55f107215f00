"""KEP-5004 as a path of its own: which pods may keep their manifest (served through a DeviceClass
with extendedResourceName), which must be rewritten and why, and what --migration-path does with
them per target version and DeviceClass presence (migrator/proof/kep5004.py, rules/vendors/*.yaml kep5004)."""

from __future__ import annotations

import itertools
import json
import textwrap
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.proof import kep5004
from migrator.engine import migrate_text
from migrator.mode import KUBE_VERSIONS, Mode, api_version_for
from migrator.model import Status

GPU = (("nvidia.com/gpu", "gpu.nvidia.com"),)
KINDS = {
    "Deployment": ("apps/v1", "spec: {replicas: 2, template: {metadata: {labels: {a: b}}, spec: POD}}"),
    "StatefulSet": ("apps/v1", "spec: {replicas: 1, serviceName: s, template: {spec: POD}}"),
    "Job": ("batch/v1", "spec: {template: {spec: POD}}"),
    "Pod": ("v1", "spec: POD"),
}


def manifest(kind: str, pod: dict[str, Any], name: str = "w") -> str:
    api, body = KINDS[kind]
    pod = dict(pod)
    if kind == "Job":
        pod.setdefault("restartPolicy", "Never")
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name}}}\n" + body.replace(
        "POD", json.dumps(pod, separators=(", ", ": ")))
    return text + "\n"


def container(name: str, resources: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "cuda", "resources": {"limits": dict(resources)}, **extra}


def mode(version: str = "1.37", path: str = "extended-resource", known: tuple[tuple[str, str], ...] = GPU,
         **kw: Any) -> Mode:
    return Mode(api_version=api_version_for(version), kube_version=version, migration_path=path,
                extended_classes=known, **kw)


def pod_findings(text: str, m: Mode) -> tuple[str, list[Any]]:
    r = migrate_text(text, "w.yaml", m)
    return r.text, [f for f in r.findings if f.code in ("GPU000", "GPU108")]


# ---- each reason, generated over kinds and counts ---------------------------------------------------

def _eligible(n: int) -> dict[str, Any]:
    return {"nodeSelector": {"topology.kubernetes.io/zone": "a"}, "containers": [container("main", {"nvidia.com/gpu": n})]}


def _two_containers(n: int) -> dict[str, Any]:
    return {"containers": [container("a", {"nvidia.com/gpu": n}), container("b", {"nvidia.com/gpu": 1})]}


def _sidecar_init(n: int) -> dict[str, Any]:  # a native sidecar is long-lived: its own request
    return {"initContainers": [container("side", {"nvidia.com/gpu": 1}, restartPolicy="Always")],
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _init_exact(n: int) -> dict[str, Any]:  # the init container reuses exactly the app's n
    return {"initContainers": [container("warm", {"nvidia.com/gpu": n})],
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _init_more(n: int) -> dict[str, Any]:  # reuses a request of n + 1 whole: sees one more than it asked
    return {"initContainers": [container("warm", {"nvidia.com/gpu": n})],
            "containers": [container("main", {"nvidia.com/gpu": n + 1})]}


def _init_mixed(n: int) -> dict[str, Any]:  # two init containers short by different amounts: both get the max
    return {"initContainers": [container("i1", {"nvidia.com/gpu": n + 1}), container("i2", {"nvidia.com/gpu": n + 2})],
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _mig(n: int) -> dict[str, Any]:
    return {"containers": [container("main", {"nvidia.com/mig-1g.10gb": n})]}


def _mig_and_gpu(n: int) -> dict[str, Any]:
    return {"containers": [container("main", {"nvidia.com/gpu": n, "nvidia.com/mig-2g.20gb": 1})]}


def _mig_single(n: int) -> dict[str, Any]:
    return {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"},
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _product(n: int) -> dict[str, Any]:
    return {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _memory_affinity(n: int) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["40000"]}]}]}}},
        "containers": [container("main", {"nvidia.com/gpu": n})]}


def _gke_accelerator(n: int) -> dict[str, Any]:
    return {"nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _karpenter(n: int) -> dict[str, Any]:  # Karpenter's label stays on the node: it still selects the same nodes
    return {"nodeSelector": {"karpenter.k8s.aws/instance-gpu-name": "l4"},
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _cloud_and_gfd(n: int) -> dict[str, Any]:  # the GFD label does not stay
    return {"nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4", "nvidia.com/gpu.memory": "23034"},
            "containers": [container("main", {"nvidia.com/gpu": n})]}


def _preferred_product(n: int) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]}]}}]}},
        "containers": [container("main", {"nvidia.com/gpu": n})]}


def _shared(n: int) -> dict[str, Any]:  # converted only under --sharing (one shared claim + GpuConfig)
    return {"containers": [container("main", {"nvidia.com/gpu.shared": 1})]}


#: (builder, extra Mode fields, expected reason prefix or None for eligible)
REASONS = {
    "eligible": (_eligible, {}, None),
    "two-containers": (_two_containers, {}, None),
    "native-sidecar": (_sidecar_init, {}, None),
    "init-exact": (_init_exact, {}, None),
    "init-more": (_init_more, {}, "init-container semantics"),
    "init-mixed": (_init_mixed, {}, "init-container semantics"),
    "mig": (_mig, {}, "MIG resources"),
    "mig-and-gpu": (_mig_and_gpu, {}, "MIG resources"),
    "mig-single": (_mig_single, {}, "single-strategy MIG"),
    "product-label": (_product, {}, "attribute selection"),
    "memory-affinity": (_memory_affinity, {}, "attribute selection"),
    "gke-accelerator": (_gke_accelerator, {}, None),
    "karpenter": (_karpenter, {}, None),
    "cloud-and-gfd": (_cloud_and_gfd, {}, "attribute selection (nvidia.com/gpu.memory)"),
    "product-kept": (_product, {"keep_node_labels": True}, "attribute selection (nvidia.com/gpu.product)"),
    "preferred-product": (_preferred_product, {}, "attribute selection"),
    "sharing": (_shared, {"sharing": "timeslicing"}, "sharing"),
}


@pytest.mark.parametrize("case", sorted(REASONS))
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("n", [1, 2, 4])
def test_each_reason(case: str, kind: str, n: int) -> None:
    build, extra, reason = REASONS[case]
    text = manifest(kind, build(n))
    # scan (the default path at 1.35: rewritten as before) says whether it could keep its manifest
    _, found = pod_findings(text, Mode(**extra))
    converted = [f for f in found if f.code == "GPU000"]
    assert len(converted) == 1 and converted[0].kep5004 is not None
    eligible, why = converted[0].kep5004
    assert eligible == (reason is None), why
    if reason is not None:
        assert why.startswith(reason), why
    else:
        assert "KEP-5004" in why
    # with the extended-resource path on 1.37 and the class known, eligible pods stay as written
    after, found = pod_findings(text, mode(**extra))
    assert (after == text) == (reason is None)
    if reason is None:
        assert [(f.code, f.status) for f in found] == [("GPU108", Status.SKIPPED)]
        assert found[0].kep5004 == (True, why)
    else:
        note = [f for f in found if f.code == "GPU108"]
        assert len(note) == 1 and note[0].status is Status.INFO and note[0].warn and reason in note[0].message


def test_a_mig_resource_a_class_of_the_users_maps_is_eligible() -> None:
    text = manifest("Deployment", _mig(1))
    known = (("nvidia.com/mig-1g.10gb", "mig-1g10gb-extended"),)
    after, found = pod_findings(text, mode(known=known))
    assert after == text and found[0].code == "GPU108" and "mig-1g10gb-extended" in found[0].message


# ---- --migration-path x target version x DeviceClass presence ----------------------------------------

CLASS_DOC = textwrap.dedent("""\
    apiVersion: resource.k8s.io/v1
    kind: DeviceClass
    metadata: {name: gpu.nvidia.com}
    spec:
      selectors: [{cel: {expression: "device.driver == 'gpu.nvidia.com'"}}]
      extendedResourceName: nvidia.com/gpu
    ---
    """)


@pytest.mark.parametrize("path,version,where", list(itertools.product(
    kep5004.PATHS, [v for v in KUBE_VERSIONS if v >= "1.34"], ["none", "snapshot", "input"])))
def test_flag_by_version_by_class(path: str, version: str, where: str) -> None:
    text = manifest("Deployment", _eligible(2))
    if where == "input":
        text = CLASS_DOC + text
    m = mode(version, path, GPU if where == "snapshot" else ())
    after, found = pod_findings(text, m)
    gate_on = version >= "1.36"  # rules/kubernetes.yaml: DRAExtendedResource on by default from 1.36
    if where == "input":  # GPU108 as before: the input serves it on purpose, unless told to rewrite
        leave = path != "rewrite"
    else:
        leave = path == "extended-resource" or (path == "auto" and gate_on and where == "snapshot")
    assert (after == text) == leave
    if not leave:
        assert found[0].code == "GPU000"
        return
    f = found[0]
    assert f.code == "GPU108"
    if where != "input":
        assert f.status is (Status.SKIPPED if gate_on else Status.MANUAL)
        assert f.warn == (where == "none")  # no class known: it says what to check or create
        if where == "none":
            assert "GPUCluster" in f.message and "extendedResourceName: nvidia.com/gpu" in f.message
        if not gate_on:
            assert "enable it" in f.message


@pytest.mark.parametrize("case", sorted(REASONS))
def test_default_output_at_135_is_the_rewrite(case: str) -> None:
    build, extra, _ = REASONS[case]
    text = manifest("Deployment", build(2))
    default = migrate_text(text, "w.yaml", Mode(**extra))
    rewrite = migrate_text(text, "w.yaml", Mode(migration_path="rewrite", **extra))
    assert default.text == rewrite.text
    assert [(f.code, f.status, f.message) for f in default.findings] == \
        [(f.code, f.status, f.message) for f in rewrite.findings]


def test_left_pods_are_left_again() -> None:
    text = manifest("Deployment", _eligible(1)) + "---\n" + manifest("Deployment", _product(1), "x")
    m = mode()
    once = migrate_text(text, "w.yaml", m)
    twice = migrate_text(once.text, "w.yaml", m)
    assert once.text != text and twice.text == once.text
    assert [f.code for f in twice.findings if f.status is Status.SKIPPED] == ["GPU108"]


# ---- init containers: the scheduler's wiring, transliterated -------------------------------------

def scheduler_devices(containers: list[tuple[bool, bool, int]]) -> list[int]:
    """Devices each container sees under KEP-5004: a line-by-line port of kubernetes v1.37.2
    extendeddynamicresources.go createRequestsAndMappings / createResourceRequestAndMappings for one
    resource. ``containers``: (is init, is sidecar, count) in init-then-app order."""
    long_idx = [i for i, (init, side, _) in enumerate(containers) if not init or side]
    short_idx = [i for i, (init, side, _) in enumerate(containers) if init and not side]
    requests: dict[str, int] = {}
    long_req: list[str | None] = [None] * len(containers)
    mappings: dict[int, list[str]] = {}
    for i in long_idx:
        k = containers[i][2]
        if k:
            name = f"container-{i}-request-0"
            requests[name] = k
            long_req[i] = name
            mappings.setdefault(i, []).append(name)
    max_short: str | None = None
    short_names: set[str] = set()
    for i in short_idx:
        k = containers[i][2]
        if not k:
            continue
        total = 0
        own = None
        for r in long_req[i:]:
            if r is not None:
                total += requests[r]
                mappings.setdefault(i, []).append(r)
                if total >= k:
                    break
        if total < k:
            own = f"container-{i}-request-0"
            requests[own] = k - total
            mappings.setdefault(i, []).append(own)
            short_names.add(own)
            if max_short is None or requests[max_short] < requests[own]:
                max_short = own
    if max_short is not None and len(short_names) > 1:
        for i in short_idx:
            mappings[i] = [max_short if n in short_names else n for n in mappings.get(i, [])]
    return [sum(requests[n] for n in mappings.get(i, [])) for i in range(len(containers))]


@st.composite
def pods(draw: Any) -> list[tuple[bool, bool, int]]:
    inits = draw(st.lists(st.tuples(st.just(True), st.booleans(), st.integers(0, 4)), max_size=4))
    apps = draw(st.lists(st.tuples(st.just(False), st.just(False), st.integers(0, 4)), min_size=1, max_size=3))
    if not any(k for *_, k in inits + apps):
        apps[0] = (False, False, 1)
    return inits + apps


@settings(max_examples=150, deadline=None)
@given(pods())
def test_init_containers_agree_with_the_scheduler(spec: list[tuple[bool, bool, int]]) -> None:
    pod: dict[str, Any] = {"initContainers": [], "containers": []}
    for i, (init, side, k) in enumerate(spec):
        extra = {"restartPolicy": "Always"} if side else {}
        c = container(f"c{i}", {"nvidia.com/gpu": k} if k else {}, **extra)
        pod["initContainers" if init else "containers"].append(c)
    if not pod["initContainers"]:
        del pod["initContainers"]
    text = manifest("Pod", pod)
    r = migrate_text(text, "w.yaml", Mode())
    converted = [f for f in r.findings if f.code == "GPU000"]
    if not converted:  # reported by another rule (e.g. an init container alone): no decision to check
        return
    seen = scheduler_devices(spec)
    wrong = [i for i, (init, side, k) in enumerate(spec) if init and not side and k and seen[i] != k]
    eligible, why = converted[0].kep5004  # type: ignore[misc]
    assert eligible == (not wrong), (spec, seen, why)
    if wrong:
        assert why.startswith("init-container semantics") and f"'c{wrong[0]}'" in why
    # the scheduler's claim holds as many devices as the device plugin gives the pod
    long_total = sum(k for init, side, k in spec if not init or side)
    before = [sum(k for init, side, k in spec[:i] if init and side) for i in range(len(spec))]
    dp = max([long_total] + [k + before[i] for i, (init, side, k) in enumerate(spec) if init and not side])
    req = sum(k for init, side, k in spec if not init or side) + max(
        [0] + [max(0, k - sum(kk for ii, ss, kk in spec[i:] if not ii or ss))
               for i, (init, side, k) in enumerate(spec) if init and not side])
    assert req == dp


# ---- scan, config, KRM ------------------------------------------------------------------------------

def test_scan_json_carries_the_decision(tmp_path: Any, capsys: Any) -> None:
    from migrator.cli import main

    (tmp_path / "a.yaml").write_text(manifest("Deployment", _eligible(1), "a") + "---\n" +
                                     manifest("Deployment", _mig(1), "b"))
    code = main(["scan", str(tmp_path), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    got = {f["name"]: f.get("kep5004") for f in data["files"][0]["findings"] if f["rule"] == "GPU000"}
    assert got["a"]["eligible"] is True and got["b"]["eligible"] is False
    assert got["b"]["reason"].startswith("MIG resources")
    jsonschema = pytest.importorskip("jsonschema")
    from pathlib import Path

    schema = json.loads((Path(kep5004.__file__).parent.parent / "scan.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)


def test_scan_text_lists_the_decision(tmp_path: Any, capsys: Any) -> None:
    from migrator.cli import main

    (tmp_path / "a.yaml").write_text(manifest("Deployment", _product(1), "a"))
    main(["scan", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(out) if " converted GPU000 " in line)
    assert out[at + 1].startswith("  KEP-5004: must be rewritten: attribute selection")


def test_cli_flag_leaves_the_manifest(tmp_path: Any, capsys: Any) -> None:
    from migrator.cli import main

    f = tmp_path / "a.yaml"
    f.write_text(manifest("Deployment", _eligible(1), "a"))
    before = f.read_bytes()
    assert main(["rewrite", str(f), "--write", "--kube-version", "1.37", "--migration-path", "extended-resource"]) == 0
    assert f.read_bytes() == before
    assert main(["rewrite", str(f), "--migration-path", "sideways"]) == 2


def test_config_key(tmp_path: Any, monkeypatch: Any) -> None:
    from migrator.config import load_config
    from migrator.errors import InvalidInput

    (tmp_path / ".git").mkdir()
    (tmp_path / ".dra-migrate.yaml").write_text("migration-path: extended-resource\n")
    monkeypatch.chdir(tmp_path)
    assert load_config().flags["migration-path"] == "extended-resource"
    (tmp_path / ".dra-migrate.yaml").write_text("migration-path: sideways\n")
    with pytest.raises(InvalidInput, match="migration-path"):
        load_config()


@pytest.mark.parametrize("value,ok", [("extended-resource", True), ("rewrite", True), ("auto", True),
                                      ("sideways", False), ("true", False)])
def test_krm_option(value: str, ok: bool) -> None:
    from migrator.integrations.krm import mode_from_config

    cfg = yaml.compose(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{migrationPath: {value}}}\n")
    m, problems = mode_from_config(cfg)
    assert (not problems) == ok
    if ok:
        assert m.migration_path == value
