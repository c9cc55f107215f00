"""rules/kubernetes.yaml against the running apiservers: the gates it says are on by default are
the ones each apiserver reports on, and the resource.k8s.io versions it says are served by default
are the ones served without --runtime-config (the fixture enables the betas; the table says which)."""

from __future__ import annotations

import re
from typing import Any

from migrator.k8s.kube import parse_version, releases


def _enabled_gates(cp: Any) -> dict[str, bool]:
    # kube-apiserver exports kubernetes_feature_enabled{name=...,stage=...} 0|1 for every gate
    # (k8s.io/component-base/metrics/prometheus/feature)
    import ssl
    import urllib.request

    from controlplane import TOKEN

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the fixture's self-signed loopback server
    req = urllib.request.Request(f"{cp.server}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        body = r.read().decode()
    out = {}
    for m in re.finditer(r'^kubernetes_feature_enabled\{name="([^"]+)",stage="[^"]*"\} (\d)', body, re.M):
        out[m.group(1)] = m.group(2) == "1"
    return out


def test_the_gate_table_matches_the_apiserver(control_plane: Any) -> None:
    live = _enabled_gates(control_plane)
    assert live, "no kubernetes_feature_enabled metric"
    v = parse_version(control_plane.version)
    wrong = {}
    for name, gate in releases().gates.items():
        if name in live and live[name] != gate.enabled(v):
            wrong[name] = {"table": gate.enabled(v), "apiserver": live[name]}
    # the gates the scheduler or controllers own are not all registered in the apiserver; the ones
    # it knows must agree, and the ones the rewrite depends on must be among them
    assert {"DRAPrioritizedList", "DRAExtendedResource", "DRAAdminAccess"} <= set(live)
    compared = set(live) & set(releases().gates)
    assert {"MaxUnavailableStatefulSet", "DRAConsumableCapacity", "DRADeviceTaints"} <= compared, compared
    assert wrong == {}, f"{control_plane.version}: {wrong}"


def test_the_served_versions_match_the_apiserver(control_plane: Any) -> None:
    from kubernetes import client

    groups = client.ApisApi(control_plane.api_client).get_api_versions()
    served = {f"resource.k8s.io/{v.version}" for g in groups.groups if g.name == "resource.k8s.io"
              for v in g.versions}
    v = parse_version(control_plane.version)
    table = {a.name for a in releases().apis if a.served(v)}
    # the fixture turns on the betas (--runtime-config): everything the table says this release
    # has (alpha versions stay off) is served, and nothing else
    assert served == {a for a in table if "alpha" not in a}, (control_plane.version, served, table)
    assert releases().write_version(control_plane.minor) in served
