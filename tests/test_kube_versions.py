"""--kube-version 1.32 to 1.38: what each release serves and which gates are on (rules/kubernetes.yaml)
decides the version written, the upgrade messages and the gated fields; the table itself is checked
against the Kubernetes sources where the e2e build has downloaded them (and against the running
apiservers in tests/e2e/test_kube_releases.py)."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from migrator.engine import migrate_text
from migrator.k8s.kube import parse_version, releases
from migrator.mode import KUBE_VERSIONS, Mode, api_version_for

VERSIONS = ["resource.k8s.io/v1alpha3", "resource.k8s.io/v1beta1", "resource.k8s.io/v1beta2", "resource.k8s.io/v1"]


def mode(kube: str) -> Mode:
    return Mode(api_version=api_version_for(kube), kube_version=kube)


def template(api: str) -> str:
    flat = api.endswith(("v1alpha3", "v1beta1"))
    req = "{name: gpu, deviceClassName: gpu.nvidia.com}" if flat else \
        "{name: gpu, exactly: {deviceClassName: gpu.nvidia.com}}"
    return textwrap.dedent(f"""\
        apiVersion: {api}
        kind: ResourceClaimTemplate
        metadata: {{name: t}}
        spec:
          spec:
            devices:
              requests: [{req}]
        """)


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("api", VERSIONS)
def test_old_objects_are_upgraded_to_what_the_target_serves(kube: str, api: str) -> None:
    r = releases()
    want = r.write_version(kube)
    assert r.api(want).served(parse_version(kube))
    out = migrate_text(template(api), "t.yaml", mode(kube))
    (f,) = [f for f in out.findings if f.code == "GPU012"] or [None]
    doc = yaml.safe_load(out.text)
    if VERSIONS.index(api) > VERSIONS.index(want):  # newer than the target: left, reported
        assert doc["apiVersion"] == api and f is not None and f.status.value == "manual"
        assert f"does not serve {api.rsplit('/', 1)[1]}" in f.message
        return
    assert doc["apiVersion"] == want
    if api == want:
        assert f is None
        return
    a = r.api(api)
    v = parse_version(kube)
    assert f is not None and f.status.value == "converted", out.findings
    if not a.served(v):
        assert "no longer serves" in f.message
    elif a.is_deprecated(v):
        assert "deprecated since" in f.message
    if a.served(v) and not a.default:
        assert "only with --runtime-config" in f.message


PREFERS = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 10
            preference:
              matchExpressions:
              - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-H100-80GB-HBM3]}
      containers:
      - name: c
        resources: {limits: {nvidia.com/gpu: 1}}
    """)

SERVED = textwrap.dedent("""\
    apiVersion: resource.k8s.io/v1
    kind: DeviceClass
    metadata: {name: gpu.example.com}
    spec:
      selectors: [{cel: {expression: "device.driver == 'gpu.nvidia.com'"}}]
      extendedResourceName: nvidia.com/gpu
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
      - name: c
        resources: {limits: {nvidia.com/gpu: 1}}
    """)


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_gated_output_follows_the_gate_table(kube: str) -> None:
    r = releases()
    out = migrate_text(PREFERS, "p.yaml", mode(kube)).text
    assert ("firstAvailable" in out) == r.gate("DRAPrioritizedList", kube), (kube, out)
    out = migrate_text(SERVED, "s.yaml", mode(kube))
    (f,) = [f for f in out.findings if f.code == "GPU108"]
    gate = r.gates["DRAExtendedResource"]
    if not gate.exists(parse_version(kube)):  # no KEP-5004 in that release: converted
        assert f.status.value == "info" and "resourceClaims" in out.text, (kube, f.message)
        return
    assert f.status.value == "skipped" and "resourceClaims" not in out.text
    assert ("only where the DRAExtendedResource feature gate is enabled" in f.message) == \
        (not r.gate("DRAExtendedResource", kube)), (kube, f.message)


@pytest.mark.parametrize("patch,on", [("1.35.0", True), ("1.35.3", True), ("1.35.4", False), ("1.35.9", False),
                                      ("1.36.0", False), ("1.36.5", False), ("1.37.0", True), ("v1.38.2-eks.1", True)])
def test_patch_ranges(patch: str, on: bool) -> None:
    assert releases().gate("MaxUnavailableStatefulSet", patch) is on


# ---- the table against the sources ----------------------------------------------------------

def _modules() -> Path:
    root = os.environ.get("DRA_MIGRATE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "dra-migrate")
    return Path(root) / "go" / "mod" / "k8s.io"


def _sources(prefix: str) -> list[Path]:
    base = _modules()
    return sorted(base.glob(f"{prefix}@v*")) if base.is_dir() else []


@pytest.mark.parametrize("module", _sources("api") or [pytest.param(None, marks=pytest.mark.skip(
    reason="no k8s.io/api module in the e2e build cache (python3 e2e/build.py all downloads it)"))])
def test_served_versions_match_the_api_lifecycle(module: Path | None) -> None:
    assert module is not None
    for a in releases().apis:
        group_version = a.name.rsplit("/", 1)[1]
        if "alpha" in group_version:  # an alpha's lifecycle is a plan (see rules/kubernetes.yaml)
            continue
        f = module / "resource" / group_version / "zz_generated.prerelease-lifecycle.go"
        text = f.read_text() if f.is_file() else ""
        m = re.search(r"func \(in \*ResourceClaim\) APILifecycleIntroduced\(\) \(major, minor int\) "
                      r"\{\s*return (\d+), (\d+)", text)
        if not m:  # alpha (no lifecycle), or the type is gone from this version
            continue
        assert a.introduced == (int(m.group(1)), int(m.group(2))), (module.name, a.name)
        for field_, got in (("Deprecated", a.deprecated), ("Removed", a.removed)):
            m = re.search(rf"func \(in \*ResourceClaim\) APILifecycle{field_}\(\) \(major, minor int\) "
                          r"\{\s*return (\d+), (\d+)", text)
            assert got == ((int(m.group(1)), int(m.group(2))) if m else None), (module.name, a.name, field_)


@pytest.mark.parametrize("module", _sources("kubernetes") or [pytest.param(None, marks=pytest.mark.skip(
    reason="no k8s.io/kubernetes module in the e2e build cache (python3 e2e/build.py all downloads it)"))])
def test_gate_defaults_match_kube_features(module: Path | None) -> None:
    """For the release of each downloaded kubernetes module, every gate of the table is on by default
    exactly when the versioned spec for that release says so."""
    assert module is not None
    release = parse_version(module.name.split("@")[1])
    text = (module / "pkg" / "features" / "kube_features.go").read_text()
    for name, gate in releases().gates.items():
        block = re.search(rf"^\t{name}: \{{(.*?)^\t\}},", text, re.M | re.S)
        assert block, name
        specs = [(parse_version(v), d == "true") for v, d in
                 re.findall(r'Version: version.MustParse\("([\d.]+)"\), Default: (true|false)', block.group(1))]
        default = [d for v, d in specs if v[:2] <= release[:2]][-1]
        assert gate.enabled(release) == default, (module.name, name)
        assert gate.since[:2] == specs[0][0][:2], (module.name, name, "since")
