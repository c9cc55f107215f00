"""The DRA objects the rewrite writes: ResourceClaimTemplates (or one shared ResourceClaim), their
names, their device requests in the shape of each resource.k8s.io version, and the driver's
opaque config. Every module that emits a claim (the engine, the codemod) builds it here.

Shapes: kubernetes api resource/v1 and v1beta2 ``DeviceRequest.exactly`` / ``firstAvailable``;
v1beta1 (1.32) has the exact request's fields inline (dra-api.md §1).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from migrator.k8s.locate import K8sObject
from migrator.model import DeviceRequest

#: Helm 4 groups post-rendered documents into files by this annotation (helm.sh/helm v4 postrenderer).
HELM4_FILENAME = "postrenderer.helm.sh/postrender-filename"
#: KRM functions: where an item goes (kustomize kyaml kio: path and index annotations).
PATH_KEYS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_KEYS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
#: What makes a template apply before the workloads that name it (migrator/plan/gitops.py says why).
GITOPS_ANNOTATIONS = {
    # Argo CD: a lower wave syncs (and must be healthy) before higher waves.
    "argocd": {"argocd.argoproj.io/sync-wave": "-1"},
    # Helm: hooks run before the release's other resources. With no delete policy Helm uses
    # before-hook-creation, i.e. deletes and recreates the hook on every upgrade: fine for an
    # immutable, content-named template, but it is briefly absent during the upgrade.
    "helm": {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5"},
}


def template_name(obj: K8sObject, role: str | None, spec: dict[str, Any]) -> str:
    """Deterministic, content-derived, collision-free per namespace (kind and role in the hash).

    Templates are immutable and replacing one in place never rolls pods
    (rollout-model.md §3), so different content must get a different name.
    """
    import hashlib
    import json

    base = (obj.name or "workload") + (f"-{role}" if role else "")
    base = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:50].rstrip("-") or "workload"
    payload = json.dumps([obj.group, obj.kind, obj.namespace, obj.name, role, spec],
                         sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(payload.encode()).hexdigest()[:8]
    return f"{base}-gpu-{digest}"


def device_requests(requests: list[DeviceRequest], api_version: str) -> list[dict[str, Any]]:
    """The ``devices.requests`` list in the shape of ``api_version``."""
    reqs: list[dict[str, Any]] = []
    for r in requests:
        def body(extra: tuple[str, ...], r: DeviceRequest = r) -> dict[str, Any]:  # r bound: B023
            b: dict[str, Any] = {"deviceClassName": r.device_class, "count": r.count}
            if r.selectors or extra:
                b["selectors"] = [{"cel": {"expression": e}} for e in r.selectors + extra]
            if r.capacity:  # ExactDeviceRequest.capacity (KEP-5075, DRAConsumableCapacity)
                b["capacity"] = {"requests": dict(r.capacity)}
            return b

        if r.alternatives:
            reqs.append({"name": r.name, "firstAvailable": [{"name": n, **body(extra)}
                                                            for n, extra in r.alternatives]})
        elif api_version.endswith("/v1beta1"):
            reqs.append({"name": r.name, **body(())})  # 1.32 flat shape
        else:
            reqs.append({"name": r.name, "exactly": body(())})
    return reqs


def _converted(requests: list[DeviceRequest], strategy: str) -> tuple[Any, Any]:
    """(profile, its ``sharing.converted`` entry) of the requests' DeviceClass whose parameters'
    strategy is ``strategy`` (GPU011 chose it from that profile)."""
    from migrator.tables import load_tables

    classes = {r.device_class for r in requests}
    for p in load_tables().vendors.profiles:
        if p.opaque_config is not None and any(c.name in classes for c in p.device_classes):
            for conv in p.sharing.converted:
                if conv.parameters.get("strategy") == strategy:
                    return p, conv
    raise ValueError(f"no vendor profile converts sharing {strategy!r} for {', '.join(sorted(classes))}")


def template_object(obj: K8sObject, role: str | None, requests: list[DeviceRequest],
                    api_version: str, sharing: str | None = None) -> dict[str, Any]:
    """The ResourceClaimTemplate for a pod (or, with ``sharing``, the one shared ResourceClaim)."""
    devices: dict[str, Any] = {"requests": device_requests(requests, api_version)}
    if sharing:
        names = [f"{r.name}/{sub}" for r in requests for sub, _ in r.alternatives] or [r.name for r in requests]
        # the requests' profile's opaqueConfig (its sharingKind, decoded strictly by the driver) with
        # the parameters of its sharing.converted entry (rules/vendors/*.yaml); config for a
        # firstAvailable request is matched by "<request>/<subrequest>".
        prof, conv = _converted(requests, sharing)
        opaque = prof.opaque_config
        devices["config"] = [{"requests": names, "opaque": {"driver": opaque.driver, "parameters": {
            "apiVersion": opaque.api_version, "kind": opaque.sharing_kind,
            "sharing": copy.deepcopy(conv.parameters)}}}]
        spec: dict[str, Any] = {"devices": devices}
        kind, name = "ResourceClaim", template_name(obj, f"{role}-shared" if role else "shared", spec)
    else:
        spec = {"spec": {"devices": devices}}
        kind, name = "ResourceClaimTemplate", template_name(obj, role, spec)
    metadata: dict[str, Any] = {"name": name}
    if obj.namespace:
        metadata["namespace"] = obj.namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def annotate(template: dict[str, Any], gitops: str | None, helm_file: str | None,
             krm_item: dict[str, Any] | None, krm_index: dict[str, int] | None) -> None:
    """The annotations a generated object carries: the GitOps ordering, Helm 4's file, and with a
    KRM ResourceList the path and index of the item it was made for."""
    if gitops in GITOPS_ANNOTATIONS:
        template["metadata"]["annotations"] = dict(GITOPS_ANNOTATIONS[gitops])
    if helm_file:
        template["metadata"].setdefault("annotations", {})[HELM4_FILENAME] = helm_file
    if krm_item is not None and krm_index is not None:
        extra = krm_annotations(krm_item, krm_index)
        if extra:
            template["metadata"].setdefault("annotations", {}).update(extra)


def krm_next_index(objs: list[K8sObject], annotations: Any) -> dict[str, int]:
    """Per KRM file path, the next free index for generated objects (kustomize kio: path and index
    annotations say where an item goes)."""
    nxt: dict[str, int] = {}
    for o in objs:
        ann = annotations(o)
        path = next((str(ann[k]) for k in PATH_KEYS if k in ann), None)
        index = next((str(ann[k]) for k in INDEX_KEYS if k in ann), "0")
        if path is not None:
            nxt[path] = max(nxt.get(path, 0), (int(index) if index.isdigit() else 0) + 1)
    return nxt


def krm_annotations(obj_annotations: dict[str, Any], next_index: dict[str, int]) -> dict[str, str]:
    """Path and index annotations for a template generated for an item with ``obj_annotations``."""
    out: dict[str, str] = {}
    path = next((str(obj_annotations[k]) for k in PATH_KEYS if k in obj_annotations), None)
    if path is None:
        return out
    index = next_index.get(path, 0)
    next_index[path] = index + 1
    for k in PATH_KEYS:
        if k in obj_annotations:
            out[k] = path
    for k in INDEX_KEYS:
        if k in obj_annotations or (k.startswith("internal") and any(p.startswith("internal") for p in out)):
            out[k] = str(index)
    return out
