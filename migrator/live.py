"""Read a cluster snapshot live, read-only, through the kubernetes Python client.

Only GET requests on list endpoints: nodes, ResourceSlices, DeviceClasses, pods, ResourceClaims
and PodDisruptionBudgets (what ``plan --cluster`` reads from a file). The newest
resource.k8s.io version the server serves is used (v1, then v1beta2, v1beta1).
"""

from __future__ import annotations

import os
from typing import Any

from migrator.cluster import Snapshot, snapshot_from_objects
from migrator.errors import MigratorError

CORE = [("/api/v1/nodes", "Node"), ("/api/v1/pods", "Pod"),
        ("/apis/policy/v1/poddisruptionbudgets", "PodDisruptionBudget")]
RESOURCE = [("resourceslices", "ResourceSlice"), ("deviceclasses", "DeviceClass"),
            ("resourceclaims", "ResourceClaim"), ("resourceclaimtemplates", "ResourceClaimTemplate")]
RESOURCE_VERSIONS = ("v1", "v1beta2", "v1beta1")


def _get(api: Any, path: str) -> dict[str, Any] | None:
    """One GET through the client's own auth and TLS handling; None for 404."""
    import json

    method, url, headers, _, _ = api.param_serialize(
        method="GET", resource_path=path, header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"])
    resp = api.call_api(method, url, header_params=headers)
    resp.read()
    if resp.status == 404:
        return None
    if resp.status >= 300:
        raise MigratorError(f"{path}: the API server answered {resp.status} {resp.reason}")
    return json.loads(resp.data)


def snapshot_from_context(context: str) -> Snapshot:
    try:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        # KUBECONFIG is read here, not when the client module was imported
        path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        api = config.new_client_from_config(config_file=path, context=context)
    except (ConfigException, FileNotFoundError, OSError) as exc:
        raise MigratorError(f"--context {context!r}: {exc}") from None
    objs: list[dict[str, Any]] = []
    try:
        for path, kind in CORE:
            data = _get(api, path) or {}
            objs += [dict(i, kind=kind) for i in data.get("items") or []]
        for version in RESOURCE_VERSIONS:
            probe = _get(api, f"/apis/resource.k8s.io/{version}/deviceclasses")
            if probe is None:
                continue
            for plural, kind in RESOURCE:
                data = probe if plural == "deviceclasses" else _get(api, f"/apis/resource.k8s.io/{version}/{plural}") or {}
                objs += [dict(i, kind=kind, apiVersion=f"resource.k8s.io/{version}") for i in data.get("items") or []]
            break
    except MigratorError:
        raise
    except Exception as exc:  # connection refused, TLS, timeouts: one line, no traceback
        raise MigratorError(f"--context {context!r}: cannot read the cluster: {str(exc).splitlines()[0]}") from None
    return snapshot_from_objects(objs)
