"""Vendor profiles (rules/vendors/*.yaml, migrator/vendors.py).

Three groups: the shipped profiles load and their selectors mean what the resource names meant;
nvidia.yaml agrees with every NVIDIA literal the code and rules/*.yaml use today (so the engine
rewire can swap one for the other); bad profiles, generated, fail with one line naming the file
and the line of the offending field, and duplicates within or across profiles are rejected.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.vendors import VendorError, builtin_profiles, load_profile, load_profiles

ROOT = Path(__file__).resolve().parent.parent
VENDORS = ROOT / "rules" / "vendors"
SHIPPED = sorted(VENDORS.glob("*.yaml"))


def _data(name: str) -> dict[str, Any]:
    return yaml.safe_load((VENDORS / name).read_text(encoding="utf-8"))


def _write(tmp: Path, name: str, data: Any) -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000), encoding="utf-8")
    return p


def _error(paths: list[Path]) -> VendorError:
    with pytest.raises(VendorError) as info:
        load_profiles(paths)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    return info.value


def _line_text(err: VendorError) -> str:
    assert err.line, f"no line in {err}"
    return Path(err.path).read_text(encoding="utf-8").splitlines()[err.line - 1]


# ---- the shipped profiles ---------------------------------------------------------------------------

def test_shipped_profiles_load_together():
    profiles = builtin_profiles(str(VENDORS))
    assert {p.vendor for p in profiles.profiles} == {"nvidia", "amd", "intel"}
    for p in profiles.profiles:
        assert p.path.endswith(f"{p.vendor}.yaml")


@pytest.mark.parametrize("resource, vendor, kind, device_class", [
    ("nvidia.com/gpu", "nvidia", "whole", "gpu.nvidia.com"),
    ("nvidia.com/mig-1g.10gb", "nvidia", "partition", "mig.nvidia.com"),
    ("nvidia.com/mig-3g.40gb.me", "nvidia", "partition", "mig.nvidia.com"),
    ("nvidia.com/mig-7g.80gb-gfx", "nvidia", "partition", "mig.nvidia.com"),
    ("nvidia.com/mig-weird", "nvidia", "unknown", None),
    ("nvidia.com/gpu.shared", "nvidia", "share", None),
    ("amd.com/gpu", "amd", "whole", "gpu.amd.com"),
    ("amd.com/cpx_nps4", "amd", "partition", "gpu.amd.com"),
    ("amd.com/spx_nps1", "amd", "partition", "gpu.amd.com"),
    ("amd.com/xpx_nps8", "amd", "unknown", None),
    ("gpu.intel.com/i915", "intel", "whole", "gpu.intel.com"),
    ("gpu.intel.com/xe", "intel", "whole", "gpu.intel.com"),
    ("gpu.intel.com/millicores", "intel", "share", None),
    ("gpu.intel.com/memory.max", "intel", "share", None),
    ("gpu.intel.com/tiles", "intel", "share", None),
    ("gpu.intel.com/monitoring", "intel", "report", None),
    ("gpu.intel.com/something-new", "intel", "unknown", None),
])
def test_resource_rows(resource, vendor, kind, device_class):
    hit = builtin_profiles(str(VENDORS)).for_resource(resource)
    assert hit is not None
    profile, row = hit
    assert (profile.vendor, row.kind, row.device_class) == (vendor, kind, device_class)
    if kind in ("share", "report", "unknown"):
        assert row.reason  # reported with a true reason, never converted


@pytest.mark.parametrize("resource", ["example.com/fpga", "nvidia.com", "amd.com", "rdma/ib", "cpu",
                                      "intel.com/gpu", "xilinx.com/fpga-xilinx_u200"])
def test_unknown_vendors_are_no_profiles(resource):
    assert builtin_profiles(str(VENDORS)).for_resource(resource) is None


def _format(profile: Any, row: Any, resource: str) -> str:
    if row.pattern is None:
        return row.selector
    fields = dict(row.pattern.match(resource).groupdict())
    if row.profile_replace and "profile" in fields:
        fields["profile"] = re.sub(row.profile_replace[0], row.profile_replace[1], fields["profile"])
    return row.selector.format(**fields)


def _device(domain: str, driver_name: str, attrs: dict[str, Any] | None = None) -> dict[str, Any]:
    from migrator.k8s.cel import device_value

    return device_value(driver_name, {domain: dict(attrs or {})}, {domain: {}})


# resource -> (attributes of a device it is, attributes of devices it is not)
SEMANTICS = {
    "nvidia.com/mig-1g.10gb": ({"profile": "1g.10gb"}, [{"profile": "1g.10gb+me"}, {"profile": "2g.20gb"}, {}]),
    "nvidia.com/mig-1g.10gb.me": ({"profile": "1g.10gb+me"}, [{"profile": "1g.10gb"}, {"type": "gpu"}]),
    "nvidia.com/mig-1c.3g.40gb": ({"profile": "1c.3g.40gb"}, [{"profile": "3g.40gb"}]),
    "amd.com/cpx_nps4": ({"partitionProfile": "cpx_nps4", "type": "amdgpu-partition"},
                         [{"partitionProfile": "cpx_nps1"}, {"partitionProfile": "spx_nps1"}, {},
                          {"computePartition": "cpx"}, {"computePartition": "cpx", "memoryPartition": "nps1"}]),
    "amd.com/dpx_nps2": ({"computePartition": "dpx", "memoryPartition": "nps2"},
                         [{"computePartition": "dpx", "memoryPartition": "nps1"}, {"memoryPartition": "nps2"}]),
    "amd.com/gpu": ({"type": "amdgpu"}, [{"type": "amdgpu-partition"}, {"type": "vfio"}, {}]),
    "gpu.intel.com/i915": ({"driver": "i915"}, [{"driver": "xe"}, {"driver": "vfio-pci"}, {}]),
    "gpu.intel.com/xe": ({"driver": "xe"}, [{"driver": "i915"}, {"driver": "xe-vfio-pci"}, {"driver": ""}]),
}


@pytest.mark.parametrize("resource", sorted(SEMANTICS))
def test_selectors_keep_what_the_name_chose(resource):
    """The selector a resource becomes matches the devices the name meant and no other, and never
    aborts allocation on a device that lacks the attributes (dra-api.md §1.7)."""
    from migrator.k8s.cel import Evaluator

    profile, row = builtin_profiles(str(VENDORS)).for_resource(resource)
    expr = _format(profile, row, resource)
    yes, nos = SEMANTICS[resource]
    ev = Evaluator()
    assert ev.evaluate(expr, _device(profile.attribute_domain, profile.driver, yes)) is True
    for no in nos:
        assert ev.evaluate(expr, _device(profile.attribute_domain, profile.driver, no)) is False, no


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_selector_compiles_and_is_guarded(path):
    from migrator.k8s.cel import Evaluator, static_problems

    profile = load_profile(path)
    ev = Evaluator()
    empty = _device(profile.attribute_domain, profile.driver)
    samples = {"profile": "1g.10gb", "compute": "cpx", "memory": "nps4"}
    for row in profile.resources:
        if not row.selector:
            continue
        expr = row.selector.format(**{g: samples.get(g, "x") for g in (row.pattern.groupindex if row.pattern else {})})
        assert not static_problems(expr), (row.line, static_problems(expr))
        assert ev.evaluate(expr, empty) is False, row.line


# ---- nvidia.yaml == the literals the code uses today -------------------------------------------------

@pytest.fixture(scope="module")
def nvidia():
    return load_profile(VENDORS / "nvidia.yaml")


def test_the_tables_are_built_from_every_profile():
    """rules/vendors/*.yaml are the device tables now: each converting row once, NVIDIA's first."""
    from migrator.tables import load_tables
    from migrator.vendors import builtin_profiles

    t = load_tables(str(ROOT / "rules"))
    profiles = sorted(builtin_profiles(str(ROOT / "rules" / "vendors")).profiles,
                      key=lambda p: (p.vendor != "nvidia", p.path))
    want = [(p.vendor, r.name, r.pattern.pattern if r.pattern else None, r.device_class, r.selector, r.profile_replace)
            for p in profiles for r in p.resources if r.kind in ("whole", "partition")]
    assert [(d.vendor, d.name, d.pattern.pattern if d.pattern else None, d.device_class, d.selector, d.profile_replace)
            for d in t.devices] == want
    assert want[0][:2] == ("nvidia", "nvidia.com/gpu") and {w[0] for w in want} == {"nvidia", "amd", "intel"}
    for p in profiles:
        for r in p.resources:
            if r.kind == "unknown":
                assert any(q.pattern == r.pattern.pattern for q, _, _ in t.unknown_rows)
            elif r.kind == "share" and p.sharing.converted:
                assert r.name in t.shared_resources and r.name not in t.reported
            elif r.kind in ("share", "report"):
                assert t.reported[r.name][2] == r.kind and r.name not in t.shared_resources
    assert t.shared_resources == {"nvidia.com/gpu.shared"}
    assert {"nvidia.com/", "amd.com/", "gpu.intel.com/"} <= set(t.triggers)
    assert t.vendor_of("amd.com/gpu").vendor == "amd" and t.vendor_of("xilinx.com/fpga") is None
    (hami,) = [p for p in profiles if p.vendor == "nvidia"][0].foreign
    assert (set(hami.resources), set(hami.annotations)) == (t.hami_resources, t.hami_annotations)


def test_nvidia_sharing_labels_match(nvidia):
    from migrator.tables import load_tables

    t = load_tables(str(ROOT / "rules"))
    today = [s for s in t.sharing_labels if s.label.startswith("nvidia.com/")]
    assert len(today) < len(t.sharing_labels)  # the GKE rows are cloud facts, not NVIDIA's
    assert [(s.label, s.value.pattern, s.meaning, s.domain, s.all, s.minimum, s.mig, s.exists) for s in today] == \
           [(s.label, s.value.pattern, s.meaning, s.domain, s.all, s.minimum, s.mig, s.exists)
            for s in nvidia.sharing.labels]


def test_nvidia_classes_match_cluster_and_kep5004(nvidia):
    from migrator.proof import kep5004
    from migrator.proof.cluster import default_classes
    from migrator.vendors import builtin_profiles

    mine = {c.name: c.selector for c in nvidia.device_classes if c.role in ("whole", "partition")}
    assert {k: v for k, v in default_classes().items() if k in mine} == mine
    facts = kep5004.facts()  # every profile's mapping classes (KEP-5004)
    mine = {c.extended_resource_name: c for p in builtin_profiles(str(ROOT / "rules" / "vendors")).profiles
            for c in p.device_classes if c.extended_resource_name and c.kep5004}
    assert set(mine) == set(facts.classes) >= {"nvidia.com/gpu", "amd.com/gpu"}
    for res, v in facts.classes.items():
        c = mine[res]
        assert (c.name, c.kep5004.shipped_by) == (v.device_class, v.shipped_by)
    assert [(p.pattern, why) for p, why in nvidia.kep5004_unmapped] == \
        [(p.pattern, why) for p, why in facts.unmapped][:len(nvidia.kep5004_unmapped)]


def test_nvidia_node_labels_match_selection(nvidia):
    from migrator.k8s.selection import cel_domain, families, label_rules

    rules = label_rules(str(ROOT / "rules"))
    clouds = {r["label"] for f in (ROOT / "rules" / "clouds").glob("*.yaml")
              for r in (yaml.safe_load(f.read_text()) or {}).get("labels", [])}
    today = {k: v for k, v in rules.items() if k not in clouds}
    kinds = {"product": "product", "memory-mib": "memory-mib", "architecture": "values",
             "version-part": "version-part", "version": "version", "any-gpu": "any-device"}
    mine = {r.label: r for r in nvidia.node_labels}
    assert set(mine) == set(today)
    for label, rule in today.items():
        r = mine[label]
        assert kinds[rule.translate] == r.translate, label
        assert r.remove == rule.remove, label
        if rule.translate in ("version-part", "version"):
            assert (r.attribute, r.part) == (rule.attribute, rule.part), label
        if rule.translate == "architecture":
            assert (r.attribute, dict(r.values)) == ("architecture", rule.values)  # plan reads the same table
    # the fixed parts of the CEL selection.py writes
    product = mine["nvidia.com/gpu.product"]
    assert (product.attribute, product.sanitize) == ("productName", (" ", "-"))
    assert mine["nvidia.com/gpu.memory"].capacity == "memory"
    A, C = cel_domain(str(ROOT / "rules"))
    assert A == f"device.attributes['{nvidia.attribute_domain}']" and C == f"device.capacity['{nvidia.attribute_domain}']"
    fam = families(str(ROOT / "rules"))
    assert set(nvidia.label_families) == {p for p in fam.prefixes if p.startswith("nvidia.com/")}
    assert set(nvidia.cutover_labels) == set(fam.cutover)
    assert fam.product_pattern.pattern == nvidia.partitions.product_pattern.pattern
    assert fam.product_label == "nvidia.com/gpu.product"
    assert [m.pattern for m in fam.product_marks] == ["-MIG-"] and fam.partition == "MIG"


def test_nvidia_nodes_and_runbook_match(nvidia):
    from migrator.proof.nodes import node_facts
    from migrator.plan.topology import CLUSTERPOLICY, operator_profile, stacks

    f = node_facts()
    n = nvidia.nodes
    assert yaml.safe_load((ROOT / "rules" / "nodes.yaml").read_text())["vendor"] == nvidia.vendor
    assert (n.resource, n.strategy.label, n.strategy.single, frozenset(n.strategy.whole), n.partition_product.label) == \
           (f.resource, f.strategy_label, f.strategy_single, f.strategy_whole, f.product_label) == \
           ("nvidia.com/gpu", "nvidia.com/mig.strategy", "single", frozenset({"none", "mixed"}), "nvidia.com/gpu.product")
    # the vendor's labels first, then the clouds' (rules/nodes.yaml): the Karpenter one is AWS's, the GKE one Google's
    assert f.count_labels == ("nvidia.com/gpu.count", "karpenter.k8s.aws/instance-gpu-count")
    assert f.whole_evidence == ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator")
    assert n.present_label == "nvidia.com/gpu.present"  # migrator/proof/nodes.py classify
    # the planner switches the operator's vendor's nodes by the ClusterPolicy stack's labels, and by
    # the profile's cutoverLabels where it has no stack: the same pair
    cp = stacks()[CLUSTERPOLICY]
    assert operator_profile().vendor == nvidia.vendor
    assert (nvidia.device_plugin_off, nvidia.dra_on) == (cp.device_plugin_off, cp.dra_on)


def test_nvidia_opaque_sharing_matches_engine(nvidia):
    from migrator.dra import template_object
    from migrator.k8s.locate import K8sObject
    from migrator.model import DeviceRequest

    obj = K8sObject(0, None, "apps/v1", "Deployment", "w", "ns")  # type: ignore[arg-type]
    converted = {c.strategy: c for c in nvidia.sharing.converted}
    assert set(converted) == {"timeslicing", "mps"}  # the --sharing choices (GPU011 reads the strategy here)
    for flag, strategy in ((k, c.parameters["strategy"]) for k, c in converted.items()):
        req = DeviceRequest("shared", nvidia.device_classes[0].name, 1, (), "nvidia.com/gpu")
        out = template_object(obj, None, [req], "resource.k8s.io/v1", sharing=strategy)
        (config,) = out["spec"]["devices"]["config"]
        params = config["opaque"]["parameters"]
        assert config["opaque"]["driver"] == nvidia.opaque_config.driver
        assert (params["apiVersion"], params["kind"]) == (nvidia.opaque_config.api_version, nvidia.opaque_config.sharing_kind)
        assert params["sharing"] == converted[flag].parameters
    assert nvidia.sharing.consumable.capacity == "shares" and nvidia.sharing.consumable.request == "1"


@pytest.mark.parametrize("resource", ["nvidia.com/gpu", "nvidia.com/mig-1g.5gb", "nvidia.com/mig-2g.20gb.me",
                                      "nvidia.com/gpu.shared"])
def test_nvidia_resource_regexes_in_code_agree(nvidia, resource):
    """codemod.gpu_key (read from the profiles) and plan.model.GPU_RESOURCE (by hand) agree."""
    from migrator.integrations.codemod import gpu_key
    from migrator.plan.model import GPU_RESOURCE

    row = nvidia.resource(resource)
    converts = row.kind in ("whole", "partition")
    assert bool(GPU_RESOURCE.match(resource)) == converts
    assert gpu_key(resource) == converts
    assert any(resource.startswith(p) for p in nvidia.resource_prefixes)
    assert resource in nvidia.tolerations.names or any(p.match(resource) for p in nvidia.tolerations.patterns)


# ---- bad profiles: generated, each a one-line error at the right line --------------------------------

def _set(d: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        d = d[step]
    d[path[-1]] = value


def _del(d: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        d = d[step]
    del d[path[-1]]


# (profile, mutation, path, value or None to delete, message regex, text the named line holds)
BAD = [
    ("nvidia.yaml", "set", ("vendor",), "NVIDIA!", r"not a lowercase DNS label", "vendor:"),
    ("nvidia.yaml", "set", ("driver",), "Gpu_Nvidia", r"not a DNS subdomain", "driver:"),
    ("nvidia.yaml", "del", ("driver",), None, r"needs 'driver'", ""),
    ("nvidia.yaml", "set", ("colour",), "red", r"unknown field colour", "colour:"),
    ("nvidia.yaml", "set", ("resources", 0, "kind"), "entire", r"kind: 'entire' is not one of", "kind:"),
    ("nvidia.yaml", "set", ("resources", 0, "deviceClass"), "gpus.nvidia.com", r"is not in deviceClasses", "deviceClass:"),
    ("nvidia.yaml", "del", ("resources", 0, "source"), None, r"needs a source", "name:"),
    ("nvidia.yaml", "set", ("resources", 1, "pattern"), "nvidia\\.com/mig-(", r"not a regular expression|anchored", "pattern:"),
    ("nvidia.yaml", "set", ("resources", 1, "pattern"), "nvidia\\.com/mig-(?P<profile>.+)$", r"anchored", "pattern:"),
    ("nvidia.yaml", "set", ("resources", 1, "selector"), "device.attributes['gpu.nvidia.com'].profile == '{prof}'",
     r"uses \{prof\}", "selector:"),
    ("nvidia.yaml", "set", ("resources", 1, "selector"), "'profiel' in device.attributes['gpu.nvidia.com']",
     r"refers to attributes 'profiel'", "selector:"),
    ("nvidia.yaml", "set", ("resources", 0, "name"), "example.com/gpu", r"outside resourcePrefixes", "name:"),
    ("nvidia.yaml", "set", ("resources", 2, "deviceClass"), "gpu.nvidia.com", r"reported, not converted", ""),
    ("nvidia.yaml", "del", ("resources", 2, "reason"), None, r"needs a reason", "name:"),
    ("nvidia.yaml", "set", ("resources", 3, "name"), "nvidia.com/gpu", r"exactly one of name or pattern", ""),
    ("nvidia.yaml", "set", ("deviceClasses", 0, "role"), "main", r"role: 'main' is not one of", "role:"),
    ("nvidia.yaml", "set", ("deviceClasses", 0, "extendedResourceName"), "kubernetes.io/gpu", r"not an extended resource",
     "extendedResourceName:"),
    ("nvidia.yaml", "set", ("attributes", "profile", "type"), "text", r"is not one of string", "type:"),
    ("nvidia.yaml", "set", ("attributes", "profile", "roles"), ["mig"], r"'mig' is not one of whole", "- mig"),
    ("nvidia.yaml", "set", ("nodeLabels", 0, "translate"), "magic", r"translate: 'magic' is not one of", "translate:"),
    ("nvidia.yaml", "set", ("nodeLabels", 3, "attribute"), "productName", r"needs a version attribute", "attribute:"),
    ("nvidia.yaml", "set", ("nodeLabels", 3, "part"), "build", r"part \(major, minor or patch\)", ""),
    ("nvidia.yaml", "set", ("nodeLabels", 1, "capacity"), "memroy", r"'memroy' is not in capacities", "capacity:"),
    ("nvidia.yaml", "set", ("nodeLabels", 1, "label"), "nvidia.com/gpu.product", r"duplicate node label", ""),
    ("nvidia.yaml", "set", ("sharing", "labels", 2, "domain"), "half-open", r"is not one of closed", "domain:"),
    ("nvidia.yaml", "del", ("sharing", "labels", 2, "all"), None, r"needs all", "label:"),
    ("nvidia.yaml", "set", ("sharing", "labels", 1, "valuePattern"), "-SHARED$", r"duplicate sharing label", ""),
    ("nvidia.yaml", "set", ("sharing", "consumable", "capacity"), "memory", r"not a consumable capacity", "capacity:"),
    ("nvidia.yaml", "set", ("opaqueConfig", "sharingKind"), "MpsConfig", r"not in kinds", "sharingKind:"),
    ("nvidia.yaml", "set", ("tolerations", "names"), ["nvidia.com/gpu"], r"has no toleration key", "tolerations:"),
    ("nvidia.yaml", "set", ("partitions", "profileAttribute"), "profil", r"not in attributes", "profileAttribute:"),
    ("nvidia.yaml", "set", ("nodes", "resource"), "nvidia.com/gpu.shared", r"not a resources row of kind whole", "resource:"),
    ("nvidia.yaml", "set", ("cutoverLabels", "draOn"), "nvidia.com/dra-kubelet-plugin", r"must be key=value", "draOn:"),
    ("nvidia.yaml", "set", ("labelFamilies", "prefixes"), ["nvidia.com/gpu.", "nvidia.com/gpu."], r"listed twice", ""),
    ("nvidia.yaml", "set", ("resources", 0, "fix"), "add it", r"fix goes with kind unknown only", "fix:"),
    ("nvidia.yaml", "set", ("ray", "numGpus"), ["nvidia.com/gpu.shared"], r"not a resources name of kind whole", ""),
    ("nvidia.yaml", "del", ("ray", "source"), None, r"needs a source", "ray:"),
    ("nvidia.yaml", "set", ("sharing", "consumable", "helmValue"), "", r"must be a non-empty string", "helmValue:"),
    ("amd.yaml", "set", ("resources", 1, "selector"), "device.attributes['gpu.amd.com'].computePartition == '{gpu}'",
     r"uses \{gpu\}", "selector:"),
    ("amd.yaml", "set", ("nodeLabels", 0, "valueFormat"), "0x{id}", r"valueFormat uses \{id\}", "valueFormat:"),
    ("amd.yaml", "del", ("nodeLabels", 4, "reason"), None, r"needs a reason", "label:"),
    ("intel.yaml", "set", ("resourcePrefixes",), ["gpu.intel.com"], r"must end with '/'", ""),
    ("intel.yaml", "set", ("deviceTypes", "attribute"), "kind", r"is not in attributes", "attribute:"),
    ("intel.yaml", "del", ("deviceClasses", 0, "extendedResourceName"), None, r"kep5004 needs extendedResourceName", ""),
]


@pytest.mark.parametrize("name, op, path, value, message, line_has", BAD,
                         ids=[f"{b[0]}:{b[1]}:{'.'.join(map(str, b[2]))}" for b in BAD])
def test_bad_profile_is_one_line_at_its_line(tmp_path, name, op, path, value, message, line_has):
    data = _data(name)
    if op == "set":
        _set(data, path, value)
    else:
        _del(data, path)
    p = _write(tmp_path, name, data)
    err = _error([p])
    assert err.path == str(p)
    assert re.search(message, err.message), err
    assert str(err).startswith(f"{p}:")
    if line_has:
        assert line_has in _line_text(err), (err, _line_text(err))


def _mappings_with_source(d: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(d, dict):
        if "source" in d:
            out.append(at)
        for k, v in d.items():
            out += _mappings_with_source(v, at + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += _mappings_with_source(v, at + (i,))
    return out


MAPPINGS = [(f.name, at) for f in SHIPPED for at in _mappings_with_source(_data(f.name)) if at != ()]


@pytest.mark.parametrize("name, at", MAPPINGS, ids=[f"{n}:{'.'.join(map(str, a))}" for n, a in MAPPINGS])
def test_every_mapping_needs_its_source(tmp_path, name, at):
    data = _data(name)
    _del(data, at + ("source",))
    err = _error([_write(tmp_path, name, data)])
    assert "needs a source" in err.message and err.line


def test_generated_unknown_fields_are_named(tmp_path):
    """An unknown key anywhere a mapping sits is rejected at its own line (typos are not ignored)."""
    data = _data("nvidia.yaml")
    spots = [at for at in _mappings_with_source(data)] + [("nodes",), ("partitions", "resourceFromProfile")]
    for i, at in enumerate(spots):
        d = copy.deepcopy(data)
        target = d
        for step in at:
            target = target[step]
        target[f"zz-typo-{i}"] = 1
        err = _error([_write(tmp_path, f"typo{i}.yaml", d)])
        assert f"zz-typo-{i}" in err.message and f"zz-typo-{i}:" in _line_text(err), err


# ---- duplicates -----------------------------------------------------------------------------------

def _other(tmp: Path, **changes: Any) -> Path:
    """A fictional vendor that claims nothing the shipped ones do, with ``changes`` applied."""
    data = {
        "vendor": "acme", "name": "Acme", "source": "https://example.com/acme", "driver": "gpu.acme.example",
        "resourcePrefixes": ["acme.example/"], "triggers": ["acme.example/"],
        "deviceTypes": {"attribute": "type", "whole": "gpu", "source": "acme docs"},
        "deviceClasses": [{"name": "gpu.acme.example", "role": "whole", "selector": "device.driver == 'gpu.acme.example'",
                           "source": "acme docs"}],
        "attributes": {"type": {"type": "string", "roles": ["whole"], "source": "acme docs"}},
        "resources": [{"name": "acme.example/gpu", "kind": "whole", "deviceClass": "gpu.acme.example", "source": "acme docs"}],
        "tolerations": {"names": ["acme.example/gpu"], "source": "admission.go"},
    }
    for path, value in changes.items():
        _set(data, tuple(int(s) if s.isdigit() else s for s in path.split("__")), value)
    return _write(tmp, "acme.yaml", data)


def test_a_fictional_vendor_loads_beside_the_shipped_ones(tmp_path):
    profiles = load_profiles(SHIPPED + [_other(tmp_path)])
    assert profiles.for_resource("acme.example/gpu")[0].vendor == "acme"


DUPLICATES = [
    ({"vendor": "nvidia"}, r"duplicate vendor 'nvidia'"),
    ({"driver": "gpu.intel.com"}, r"duplicate driver 'gpu.intel.com'"),
    ({"deviceClasses__0__name": "mig.nvidia.com", "resources__0__deviceClass": "mig.nvidia.com"}, r"duplicate DeviceClass"),
    ({"deviceClasses__0__extendedResourceName": "amd.com/gpu"}, r"duplicate extendedResourceName 'amd.com/gpu'"),
    ({"resourcePrefixes": ["acme.example/", "nvidia.com/"]}, r"duplicate resource prefix"),
    ({"resourcePrefixes": ["gpu.intel.com/x/"], "resources__0__name": "gpu.intel.com/x/gpu",
      "tolerations__names": ["gpu.intel.com/x/gpu"]}, r"duplicate resource prefix"),
    ({"nodeLabels": [{"label": "nvidia.com/gpu.product", "translate": "none", "reason": "r", "source": "s"}]},
     r"duplicate node label 'nvidia.com/gpu.product'"),
    ({"labelFamilies": {"prefixes": ["amd.com/gpu."], "source": "s"}}, r"duplicate label family"),
    ({"cutoverLabels": {"labels": ["nvidia.com/dra-kubelet-plugin"], "source": "s"}}, r"duplicate cutover label"),
    ({"annotationRequests": {"keys": ["gpu-fraction"], "source": "s"}}, r"duplicate annotation request"),
]


@pytest.mark.parametrize("changes, message", DUPLICATES, ids=[m for _, m in DUPLICATES])
def test_duplicates_across_profiles(tmp_path, changes, message):
    p = _other(tmp_path, **changes)
    err = _error(SHIPPED + [p])
    assert re.search(message, err.message), err
    assert err.path == str(p) and ("also in" in err.message or "overlaps" in err.message)


def test_the_same_file_twice_is_a_duplicate(tmp_path):
    p = _write(tmp_path, "nv2.yaml", _data("nvidia.yaml"))
    err = _error([VENDORS / "nvidia.yaml", p])
    assert "duplicate vendor 'nvidia'" in err.message and str(VENDORS / "nvidia.yaml") in err.message


def test_a_name_another_profile_matches_is_a_duplicate(tmp_path):
    # a profile whose resource namespace differs but whose pattern also matches nvidia.com/gpu
    p = _other(tmp_path, resourcePrefixes=["acme.example/"],
               resources=[{"name": "acme.example/gpu", "kind": "whole", "deviceClass": "gpu.acme.example", "source": "s"},
                          {"pattern": "^acme\\.example/|^nvidia\\.com/gpu$", "kind": "unknown", "reason": "r", "source": "s"}])
    err = _error([VENDORS / "nvidia.yaml", p])
    assert "duplicate resource" in err.message and "nvidia.com/gpu" in err.message


@pytest.mark.parametrize("rows, message", [
    ([{"name": "acme.example/gpu", "kind": "whole", "deviceClass": "gpu.acme.example", "source": "s"},
      {"name": "acme.example/gpu", "kind": "share", "reason": "r", "source": "s"}], "duplicate resource name"),
    ([{"name": "acme.example/gpu", "kind": "whole", "deviceClass": "gpu.acme.example", "source": "s"},
      {"pattern": "^acme\\.example/g", "kind": "partition", "deviceClass": "gpu.acme.example", "source": "s"}],
     "also matched by the pattern"),
    ([{"name": "acme.example/gpu", "kind": "whole", "deviceClass": "gpu.acme.example", "source": "s"},
      {"pattern": "^acme\\.example/x", "kind": "unknown", "reason": "r", "source": "s"},
      {"pattern": "^acme\\.example/x", "kind": "unknown", "reason": "r", "source": "s"}], "duplicate resource pattern"),
])
def test_duplicates_within_a_profile(tmp_path, rows, message):
    err = _error([_other(tmp_path, resources=rows)])
    assert message in err.message and err.line


def test_duplicate_yaml_key_is_rejected_with_both_lines(tmp_path):
    text = (VENDORS / "nvidia.yaml").read_text(encoding="utf-8")
    p = tmp_path / "dup.yaml"
    p.write_text(text.replace("driver: gpu.nvidia.com\n", "driver: gpu.nvidia.com\ndriver: gpu.other.com\n", 1))
    err = _error([p])
    assert "duplicate key 'driver'" in err.message and _line_text(err).startswith("driver: gpu.other.com")


# ---- unreadable files -------------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"", "is a mapping"),
    (b"- a\n- b\n", "is a mapping"),
    (b"vendor: [unclosed\n", "not valid YAML"),
    (b"\xff\xfe\x00binary", "not UTF-8"),
    (b"a: &x [1]\nb: *x\n", "anchors and aliases"),
    (b"a: &a [x,x,x]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\nd: [*c,*c,*c]\n", "anchors and aliases"),
    (b"<<: {vendor: x}\n", "plain strings"),
    (b"? [complex]\n: key\n", "plain strings"),
    (b"x" * (2 << 20), "at most"),
    (b"a: " + b"[" * 999 + b"]" * 999 + b"\n", "levels deep"),
    (b"".join(b" " * i + b"k:\n" for i in range(990)), "levels deep"),
    (b"a: " + b"[" * 20000 + b"\n", "not valid YAML"),
])
def test_unreadable_profile(tmp_path, content, message):
    p = tmp_path / "bad.yaml"
    p.write_bytes(content)
    err = _error([p])
    assert message in err.message and err.path == str(p)


def test_missing_file(tmp_path):
    err = _error([tmp_path / "absent.yaml"])
    assert "cannot read" in err.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_input_is_a_profile_or_one_line_error(tmp_path, content):
    p = tmp_path / "fuzz.yaml"
    p.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    try:
        load_profiles([p])
    except VendorError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(p))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_shipped_profile_never_crashes(tmp_path, data):
    """Random field replacements in a real profile: loaded, or one VendorError naming a line."""
    name = data.draw(st.sampled_from([f.name for f in SHIPPED]))
    d = _data(name)
    paths = []

    def walk(x: Any, at: tuple[Any, ...]) -> None:
        paths.append(at)
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, at + (k,))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, at + (i,))

    walk(d, ())
    at = data.draw(st.sampled_from([p for p in paths if p]))
    value = data.draw(st.one_of(st.none(), st.integers(), st.booleans(), st.text(max_size=20),
                                st.lists(st.text(max_size=5), max_size=3),
                                st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)))
    _set(d, at, value)
    p = _write(tmp_path, name, d)
    try:
        load_profiles([p])
    except VendorError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(p))


# Inline literals the code still holds (rules/vendors/INVENTORY.md): each profile value must still be
# spelled where the inventory says. When the rewire reads them from the profile, a row here goes.
INLINE = [
    ("migrator.k8s.selection", lambda p: f".replace('{p.node_labels[0].sanitize[0]}', '{p.node_labels[0].sanitize[1]}')"),
]


@pytest.mark.parametrize("module, spelled", INLINE, ids=[f"{m}:{i}" for i, (m, _) in enumerate(INLINE)])
def test_inline_nvidia_literals_are_the_profile_values(nvidia, module, spelled):
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module))
    assert spelled(nvidia) in source, spelled(nvidia)


@pytest.mark.parametrize("key", ["\x85\x85", "a\u2028b", "tab\there", "nul\x00"])
def test_a_line_break_in_a_profile_key_stays_one_line(tmp_path, key) -> None:
    """YAML reads NEL, LS and PS as line breaks: quoted back in the error they must not split it
    (the CLI prints one line per line of an error)."""
    d = _data("amd.yaml")
    _set(d, ("capacities",), {key: 0})
    err = _error([_write(tmp_path, "amd.yaml", d)])
    assert len(str(err).splitlines()) == 1 and "capacities" in str(err), str(err)
