"""The rule files, the codemod, the core modules, the planner and the CLI hold no vendor facts: the profiles do.

A scan of every string constant in ``migrator/transforms/*.py``, ``migrator/integrations/codemod.py``, the
core modules in ``CORE``, ``migrator/plan/*.py`` and ``migrator/commands.py`` (Python ``ast``;
f-string parts included) for the values of ``rules/vendors/nvidia.yaml``. ``migrator/vendors.py``
loads the profiles and is not scanned. Docstrings, comments and a module's ``SUMMARY`` (the rule's
one-line documentation) are documentation and may name NVIDIA objects; everything else must come
from a profile, so that a profile with the same kinds of fields gets the same behaviour (issue 12
item 3). That includes the CLI's ``help=`` strings: they say "device-plugin GPU resources", not one
vendor's names. (The planner's GPU Operator facts, which are NVIDIA's operator, come from
rules/gpu-operator.yaml and the profile it names.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from migrator.vendors import builtin_profiles

ROOT = Path(__file__).resolve().parent.parent
#: the core modules that read the facts from the loaded profiles (issue 12 item 3)
CORE = ["proof/nodes", "k8s/selection", "proof/cluster", "k8s/validate", "proof/equivalence", "dra", "engine", "tables",
        "proof/kep5004"]
FILES = sorted((ROOT / "migrator" / "transforms").glob("*.py")) + [ROOT / "migrator" / "integrations" / "codemod.py"] + \
    [ROOT / "migrator" / f"{m}.py" for m in CORE] + \
    sorted((ROOT / "migrator" / "plan").glob("*.py")) + [ROOT / "migrator" / "commands.py"]


def _documentation(tree: ast.Module) -> set[int]:
    """ids of the docstring and SUMMARY constants (and the constants inside them)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SUMMARY" for t in stmt.targets):
            out |= {id(n) for n in ast.walk(stmt.value)}
    return out


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _documentation(tree)
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def _facts() -> tuple[list[str], list[re.Pattern[str]], set[str]]:
    """(substrings, word patterns, whole constants) that spell an NVIDIA fact."""
    p = builtin_profiles().by_vendor("nvidia")
    assert p is not None
    subs = {p.driver, p.attribute_domain, *p.resource_prefixes, *(c.name for c in p.device_classes),
            *(r.name for r in p.resources if r.name)}
    if p.opaque_config is not None:
        subs |= {p.opaque_config.api_version, *p.opaque_config.kinds}
    subs |= {c.driver_gate for c in p.sharing.converted if c.driver_gate}
    if p.sharing.consumable is not None:
        subs |= {x for x in (p.sharing.consumable.driver_gate, p.sharing.consumable.helm_value) if x}
    if p.runtime_hints is not None:
        subs |= {name for name, _ in p.runtime_hints.env} | set(p.runtime_hints.annotations)
    words = [re.compile(r"(?i)nvidia")]
    if p.partitions is not None:
        words.append(re.compile(rf"\b{re.escape(p.partitions.name)}\b"))
        subs.add(p.partitions.resource_prefix or p.partitions.device_class)
    whole = {str(c.parameters["strategy"]) for c in p.sharing.converted if "strategy" in c.parameters}
    if p.sharing.consumable is not None and p.sharing.consumable.min_driver:
        whole.add(p.sharing.consumable.min_driver)
    return sorted(s for s in subs if s), words, whole


def test_the_core_modules_are_scanned():
    """Each CORE module exists (a renamed module would silently leave the scan)."""
    assert all(p.is_file() for p in FILES) and {p.stem for p in FILES} >= {c.split('/')[-1] for c in CORE}


def test_the_scan_sees_the_facts():
    """The scan would catch the literals the rules held before (a broken scan passes everything)."""
    subs, words, whole = _facts()
    for old in ['a.resource == "nvidia.com/gpu"', 'device_class="mig.nvidia.com"', '"TimeSlicingSettings"',
                'STRATEGY = {"timeslicing": "TimeSlicing", "mps": "MPS"}', '"single-strategy MIG"',
                'x = "GpuConfig sharing"', 'def attr(self, name, domain="gpu.nvidia.com"): pass',
                'k.startswith("nvidia.com/")', 'm = "-MIG-" in product', '"no NVIDIA GPU"',
                'DRA_ON_LABEL = "nvidia.com/dra-kubelet-plugin=true"',
                'f"kubectl delete clusterpolicies.nvidia.com {x}"', '"(no selectors, firstAvailable, MIG profiles)"',
                'labels.get("nvidia.com/gpu.family")', 'typer.Option(help="what nvidia.com/gpu is")']:
        tree = ast.parse(old)
        found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                 and (any(s in n.value for s in subs) or any(w.search(n.value) for w in words) or n.value in whole)]
        assert found, old


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT / "migrator")))
def test_no_vendor_literal_outside_documentation(path):
    subs, words, whole = _facts()
    bad = [f"{path.name}:{line}: {text!r}" for line, text in _strings(path)
           if any(s in text for s in subs) or any(w.search(text) for w in words) or text in whole]
    assert not bad, "vendor facts belong in rules/vendors/*.yaml:\n" + "\n".join(bad)


# ---- the same fields in another profile give the same behaviour ---------------------------------

ACME = ROOT / "tests" / "vendors" / "acme" / "acme.yaml"
EXTRA = """
  - {pattern: '^acme\\.example/npu-', kind: unknown, reason: "an Acme NPU the profile does not know",
     fix: add it to acme.yaml, source: fixture}
ray: {numGpus: [acme.example/npu], source: fixture}
runtimeHints: {env: [{name: ACME_VISIBLE_NPUS, value: all}], source: fixture}
"""


@pytest.fixture
def acme(tmp_path: Path):
    """The fictional vendor's profile with ray, runtimeHints and an unknown row with a fix."""
    from migrator.tables import reset_vendor_files

    text = ACME.read_text(encoding="utf-8").replace("tolerations:", EXTRA.lstrip("\n") + "tolerations:")
    path = tmp_path / "acme.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        yield str(path)
    finally:
        reset_vendor_files()


def _migrate(text: str, profile: str):
    import textwrap

    from migrator.engine import migrate_text
    from migrator.mode import Mode

    return migrate_text(textwrap.dedent(text), "t.yaml", Mode(vendor_files=(profile,)))


def test_ray_num_gpus_follows_the_profile(acme):
    result = _migrate("""
    apiVersion: ray.io/v1
    kind: RayCluster
    metadata: {name: r}
    spec:
      headGroupSpec:
        rayStartParams: {}
        template:
          spec:
            containers: [{name: head, image: ray, resources: {limits: {acme.example/npu: 2}}}]
    """, acme)
    assert 'rayStartParams: {num-gpus: "2"}' in result.text
    assert any(f.code == "GPU010" for f in result.findings)


def test_runtime_hints_and_unknown_fix_follow_the_profile(acme):
    result = _migrate("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
      - name: c
        image: x
        env: [{name: ACME_VISIBLE_NPUS, value: all}]
        resources: {limits: {acme.example/npu: 1}}
    """, acme)
    (hint,) = [f for f in result.findings if f.code == "GPU007"]
    assert "container 'c' sets ACME_VISIBLE_NPUS=all" in hint.message
    result = _migrate("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers: [{name: c, image: x, resources: {limits: {acme.example/npu-x: 1}}}]
    """, acme)
    (unknown,) = [f for f in result.findings if f.code == "GPU002"]
    assert unknown.message.endswith("container 'c': unknown Acme resource 'acme.example/npu-x'; add it to acme.yaml")


def test_expected_devices_follow_the_profile():
    """The plan's devices of a device-plugin node (plan/build.py expected_devices) come from the
    profile's resource, driver, domain, device types, partitions and nodeLabels: the NVIDIA profile
    with every name moved to example.com infers the same devices from the moved labels."""
    import dataclasses

    from migrator.proof.cluster import Node
    from migrator.plan.build import expected_devices

    p = builtin_profiles().by_vendor("nvidia")
    assert p is not None and p.nodes is not None and p.partitions is not None

    def moved(text: str) -> str:
        return text.replace("nvidia.com/", "example.com/").replace("gpu.nvidia.com", "gpu.example.com")

    other = dataclasses.replace(
        p, driver=moved(p.driver), attribute_domain=moved(p.attribute_domain),
        nodes=dataclasses.replace(p.nodes, resource=moved(p.nodes.resource)),
        partitions=dataclasses.replace(p.partitions, resource_prefix=moved(p.partitions.resource_prefix or "")),
        node_labels=tuple(dataclasses.replace(r, label=moved(r.label)) if r.label else r for r in p.node_labels))
    labels = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB", "nvidia.com/gpu.family": "ampere",
              "nvidia.com/gpu.compute.major": "8", "nvidia.com/gpu.compute.minor": "0",
              "nvidia.com/cuda.driver-version.full": "550.54.15", "nvidia.com/gpu.memory": "40960"}
    alloc = {"nvidia.com/gpu": "2", "nvidia.com/mig-1g.5gb.me": "1"}
    mine = expected_devices(Node("n", labels, allocatable=alloc), p)
    theirs = expected_devices(Node("n", {moved(k): v for k, v in labels.items()},
                                   allocatable={moved(k): v for k, v in alloc.items()}), other)
    assert [d.name for d in mine] == ["expected-gpu-0", "expected-gpu-1", "expected-mig-1g.5gb.me-0"]
    assert mine[0].attributes[p.attribute_domain] == {
        "type": "gpu", "productName": "NVIDIA-A100-SXM4-40GB", "architecture": "Ampere",
        "cudaComputeCapability": ("version", "8.0.0"), "driverVersion": ("version", "550.54.15")}
    assert mine[2].attributes[p.attribute_domain]["profile"] == "1g.5gb+me"
    assert [(d.name, d.driver, d.attributes[other.attribute_domain], d.capacity[other.attribute_domain])
            for d in theirs] == \
        [(d.name, other.driver, d.attributes[p.attribute_domain], d.capacity[p.attribute_domain]) for d in mine]
