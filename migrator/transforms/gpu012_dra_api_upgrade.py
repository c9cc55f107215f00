"""GPU012 dra-api-upgrade: older resource.k8s.io objects in the repo are upgraded to the target API.

## What it does
ResourceClaim, ResourceClaimTemplate and DeviceClass objects written for
``resource.k8s.io/v1alpha3`` (1.31), ``v1beta1`` (1.32) or ``v1beta2`` (1.33) get the target
``apiVersion`` (``v1`` by default). Requests in the flat v1alpha3/v1beta1 shape move their
``deviceClassName``, ``selectors``, ``allocationMode``, ``count``, ``adminAccess``,
``tolerations`` and ``capacity`` under ``exactly``. Objects newer than ``--kube-version`` and
fields that no longer exist (v1alpha3 ``controller``, ``suitableNodes``) are reported. The message
says what the target release does with the old version (``rules/kubernetes.yaml``: deprecated,
removed, or served only with ``--runtime-config``: the beta versions are off by default).

## Why
Kubernetes 1.34 serves ``resource.k8s.io/v1``; the beta versions are deprecated and will be
removed, and a repo that mixes versions is hard to review (dra-api.md §1; k8s.io/api
resource/v1beta1 vs v1 ``DeviceRequest``/``ExactDeviceRequest``).

## Example
    apiVersion: resource.k8s.io/v1beta1
    ... requests: [{name: gpu, deviceClassName: gpu.nvidia.com}]
Use instead:
    apiVersion: resource.k8s.io/v1
    ... requests: [{name: gpu, exactly: {deviceClassName: gpu.nvidia.com}}]

## Fix safety
Safe: the same request in the newer shape.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, ScalarNode

from migrator.text.documents import get, items, to_python
from migrator.k8s.locate import K8sObject
from migrator.mode import Mode
from migrator.transforms.base import EditObject, ObjectContext
from migrator.model import Finding, FixSafety, Status
from migrator.text.shape import CLAIM_OBJECTS, check_node

CODE = "GPU012"
NAME = "dra-api-upgrade"
SUMMARY = "resource.k8s.io v1alpha3/v1beta1/v1beta2 claims, templates, classes -> the target version"
FIX = FixSafety.SAFE

ORDER = ["resource.k8s.io/v1alpha3", "resource.k8s.io/v1beta1", "resource.k8s.io/v1beta2", "resource.k8s.io/v1"]
FLAT = ("deviceClassName", "selectors", "allocationMode", "count", "adminAccess", "tolerations", "capacity")
KINDS = ("ResourceClaim", "ResourceClaimTemplate", "DeviceClass")

Op = tuple[Any, ...]


def _requests(obj: K8sObject) -> list[Any]:
    spec = get(obj.node, "spec")
    if obj.kind == "ResourceClaimTemplate":
        spec = get(spec, "spec")
    return items(get(get(spec, "devices"), "requests"))


def check_object(octx: ObjectContext) -> list[Finding | EditObject]:
    findings, ops = _check(octx.obj, octx.mode, octx.path)
    return [*findings, *([EditObject(tuple(ops))] if ops else [])]


def _check(obj: K8sObject, mode: Mode, path: str) -> tuple[list[Finding], list[Op]]:
    if obj.group != "resource.k8s.io" or obj.kind not in KINDS or obj.api_version not in ORDER:
        return [], []
    have, want = ORDER.index(obj.api_version), ORDER.index(mode.api_version)
    line = obj.line
    if have == want:
        return [], []
    if have > want:
        return [Finding(CODE, Status.MANUAL, f"{obj.api_version} is newer than the target "
                        f"{mode.api_version} (target Kubernetes {mode.kube_version}): {_lifecycle(obj.api_version, mode)}",
                        path, line, obj.ref)], []
    if obj.kind in CLAIM_OBJECTS:  # the requests are restructured below: their shape must be the API's
        problem = check_node(obj.node, CLAIM_OBJECTS[obj.kind], "")
        if problem is not None:
            from migrator.transforms.gpu900_not_processed import shape_message

            return [Finding("GPU900", Status.MANUAL, shape_message(problem.message, "upgraded"), path,
                            problem.line or line, obj.ref)], []
    spec = get(obj.node, "spec")
    gone = [f for f, node in (("spec.controller", get(spec, "controller")),
                              ("spec.suitableNodes", get(spec, "suitableNodes"))) if node is not None]
    if gone:
        return [Finding(CODE, Status.MANUAL, f"{obj.api_version} field(s) {', '.join(gone)} have no "
                        f"{mode.api_version} equivalent; upgrade by hand", path, line, obj.ref)], []
    ops: list[Op] = []
    api = get(obj.node, "apiVersion")
    assert isinstance(api, ScalarNode)
    ops.append(("replace", api, mode.api_version))
    flat_source = have <= ORDER.index("resource.k8s.io/v1beta1")
    flat_target = want <= ORDER.index("resource.k8s.io/v1beta1")
    if flat_source and not flat_target:
        for req in _requests(obj):
            if not isinstance(req, MappingNode):
                continue
            keys = [k.value for k, _ in req.value if isinstance(k, ScalarNode)]
            moving = [k for k in keys if k in FLAT]
            if not moving or "exactly" in keys:
                continue
            data = to_python(req)
            for k in moving:
                ops.append(("delete", req, k))
            ops.append(("add", req, "exactly", {k: data[k] for k in moving}))
    return [Finding(CODE, Status.CONVERTED, f"upgraded {obj.api_version} -> {mode.api_version} "
                    f"({_lifecycle(obj.api_version, mode)})", path, line, obj.ref)], ops


def _lifecycle(api: str, mode: Mode) -> str:
    """What the target release does with ``api`` (rules/kubernetes.yaml)."""
    from migrator.k8s.kube import parse_version, releases

    a = releases().api(api)
    target = mode.kube_version
    if a is None:
        return "unknown to rules/kubernetes.yaml"
    v = parse_version(target)
    name = api.rsplit("/", 1)[1]

    def minor(m: tuple[int, int]) -> str:
        return f"{m[0]}.{m[1]}"

    if v[:2] < a.introduced:
        return f"Kubernetes {target} does not serve {name} (from {minor(a.introduced)})"
    if not a.served(v):
        assert a.removed is not None
        return f"Kubernetes {target} no longer serves {name} (removed in {minor(a.removed)})"
    parts = []
    if a.deprecated:
        parts.append(f"deprecated {'since' if a.is_deprecated(v) else 'in'} {minor(a.deprecated)}")
    if a.removed:
        parts.append(f"removed in {minor(a.removed)}")
    head = f"Kubernetes {target} serves {name}" + ("" if a.default else " only with --runtime-config")
    return head + ("; " + ", ".join(parts) if parts else "")
