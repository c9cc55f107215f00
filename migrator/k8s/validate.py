"""Validate what we generate like the apiserver would: JSON schema plus DRA validation rules.

Schema: kubernetes-validate's copy of the Kubernetes OpenAPI schema (strict: unknown fields
fail). Rules the schema cannot express come from ``pkg/apis/resource/validation`` and
``pkg/apis/core/validation`` as summarised in ../shared/reference/dra-api.md §1.2-§2: DNS
labels for request and claim names, at most 32 requests/selectors, exactly one of
``exactly``/``firstAvailable``, ``count`` > 0, CEL length <= 10 Ki, claim references that exist.
kubernetes-validate (jsonschema) is heavy and only the tests check schemas: it is in the ``test``
extra, imported only when a schema check runs.
"""

from __future__ import annotations

import re
from typing import Any

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_REQUESTS = 32  # DeviceRequestsMaxSize
MAX_SELECTORS = 32  # DeviceSelectorsMaxSize
MAX_FIRST_AVAILABLE = 8  # FirstAvailableDeviceRequestMaxSize
MAX_CEL = 10 * 1024  # CELSelectorExpressionMaxLength

_KUBE_FOR_API = {"resource.k8s.io/v1": "1.35.0", "resource.k8s.io/v1beta2": "1.33.0",
                 "resource.k8s.io/v1beta1": "1.32.0"}


def _label(value: Any, what: str, errors: list[str]) -> None:
    if not isinstance(value, str) or len(value) > 63 or not DNS_LABEL.match(value):
        errors.append(f"{what} {value!r} is not a DNS label")


def _subdomain(value: Any, what: str, errors: list[str]) -> None:
    if not isinstance(value, str) or len(value) > 253 or not DNS_SUBDOMAIN.match(value):
        errors.append(f"{what} {value!r} is not a DNS subdomain")


def _exact(body: dict[str, Any], where: str, errors: list[str]) -> None:
    _subdomain(body.get("deviceClassName"), f"{where}.deviceClassName", errors)
    if body.get("allocationMode", "ExactCount") == "ExactCount":
        count = body.get("count", 1)
        if not isinstance(count, int) or count <= 0:
            errors.append(f"{where}.count must be > 0")
    selectors = body.get("selectors") or []
    if len(selectors) > MAX_SELECTORS:
        errors.append(f"{where}: more than {MAX_SELECTORS} selectors")
    for sel in selectors:
        expr = (sel.get("cel") or {}).get("expression", "")
        if not expr or len(expr) > MAX_CEL:
            errors.append(f"{where}: CEL expression empty or longer than {MAX_CEL}")


def devices_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    return (spec.get("spec") or {}).get("devices") or {} if obj.get("kind") == "ResourceClaimTemplate" \
        else spec.get("devices") or {}


def template_rules(obj: dict[str, Any]) -> list[str]:
    """apiserver rules for a ResourceClaimTemplate or ResourceClaim (v1, v1beta2, v1beta1)."""
    errors: list[str] = []
    _subdomain(obj.get("metadata", {}).get("name"), "metadata.name", errors)
    devices = devices_of(obj)
    requests = devices.get("requests") or []
    if len(requests) > MAX_REQUESTS:
        errors.append(f"more than {MAX_REQUESTS} requests")
    names = [r.get("name") for r in requests]
    if len(set(names)) != len(names):
        errors.append("request names are not unique")
    flat = obj.get("apiVersion") == "resource.k8s.io/v1beta1"
    known = set(names) | {f"{r.get('name')}/{sub.get('name')}" for r in requests
                          for sub in r.get("firstAvailable") or []}
    configs = devices.get("config") or []
    if len(configs) > MAX_REQUESTS:
        errors.append(f"more than {MAX_REQUESTS} config entries")
    for cfg in configs:
        for ref in cfg.get("requests") or []:
            if ref not in known:
                errors.append(f"config names request {ref!r}, which is not in the claim")
        opaque = cfg.get("opaque") or {}
        if opaque:
            _subdomain(opaque.get("driver"), "config.opaque.driver", errors)
    for r in requests:
        where = f"request {r.get('name')!r}"
        _label(r.get("name"), where, errors)
        if flat:
            _exact(r, where, errors)
            continue
        if ("exactly" in r) == ("firstAvailable" in r):
            errors.append(f"{where}: exactly one of `exactly` or `firstAvailable` is required")
        if "exactly" in r:
            _exact(r["exactly"], where, errors)
        subs = r.get("firstAvailable") or []
        if len(subs) > MAX_FIRST_AVAILABLE:
            errors.append(f"{where}: more than {MAX_FIRST_AVAILABLE} firstAvailable entries")
        for sub in subs:
            _label(sub.get("name"), f"{where} subrequest", errors)
            _exact(sub, f"{where}/{sub.get('name')}", errors)
    return errors


def pod_rules(pod: dict[str, Any], templates: dict[str, dict[str, Any]]) -> list[str]:
    """Claim wiring of a pod spec: names, references, duplicates, requests that exist."""
    errors: list[str] = []
    claims = pod.get("resourceClaims") or []
    names = [c.get("name") for c in claims]
    if len(set(names)) != len(names):
        errors.append("pod resourceClaims names are not unique")
    by_name = {c.get("name"): c for c in claims}
    for c in claims:
        _label(c.get("name"), "pod claim name", errors)
        if ("resourceClaimName" in c) == ("resourceClaimTemplateName" in c):
            errors.append(f"pod claim {c.get('name')!r}: exactly one source is required")
    for section in ("initContainers", "containers"):
        for ctr in pod.get(section) or []:
            refs = (ctr.get("resources") or {}).get("claims") or []
            seen: set[tuple[str, str]] = set()
            whole: set[str] = set()
            for ref in refs:
                name, req = ref.get("name"), ref.get("request", "")
                if name not in by_name:
                    errors.append(f"container {ctr.get('name')!r}: claim {name!r} is not in resourceClaims")
                    continue
                if (name, req) in seen or (req == "" and name in {n for n, _ in seen}) or name in whole:
                    errors.append(f"container {ctr.get('name')!r}: duplicate claim reference {name!r}")
                seen.add((name, req))
                if req == "":
                    whole.add(name)
                tname = by_name[name].get("resourceClaimTemplateName") or by_name[name].get("resourceClaimName")
                if req and tname in templates:
                    reqs = devices_of(templates[tname]).get("requests", [])
                    if req not in {r.get("name") for r in reqs}:
                        errors.append(f"container {ctr.get('name')!r}: request {req!r} not in template {tname!r}")
    return errors


def schema_errors(obj: dict[str, Any], kube_version: str | None = None) -> list[str]:
    """Strict JSON-schema check against the Kubernetes schema of the target version."""
    import kubernetes_validate

    version = kube_version or _KUBE_FOR_API.get(obj.get("apiVersion", ""), "1.35.0")
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"schema: {exc.message} at {'/'.join(str(p) for p in exc.path)}"]
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
        return [f"schema: {exc}"]
    return []


def selector_problems(obj: dict[str, Any], devices: list[dict[str, Any]] | None = None) -> list[str]:
    """Every CEL selector compiles, stays within the limits and never aborts allocation.

    "Never aborts": evaluated against a device of each profile's driver that has none of the
    profiles' attributes (rules/vendors/*.yaml ``driver``, ``attributeDomain``) and against
    ``devices`` (sample devices), it must return a bool: an unguarded reference to a
    missing attribute is an evaluation error, and the scheduler then aborts allocation
    (dra-api.md §1.7). Cost: ``cel.cost_bound`` bounds the estimate of loop-free selectors (ours
    have no macros or regexes) and says so when it cannot.
    """
    from migrator.k8s.cel import Evaluator, device_value, static_problems

    from migrator.tables import load_tables

    ev = Evaluator()
    profiles = load_tables().vendors.profiles
    domains: dict[str, dict[str, Any]] = {p.attribute_domain: {} for p in profiles}
    empties = [device_value(p.driver, dict(domains), dict(domains)) for p in profiles]
    problems: list[str] = []
    requests = devices_of(obj).get("requests") or []
    for r in requests:
        bodies = r.get("firstAvailable") or [r.get("exactly", r)]
        for body in bodies:
            for sel in body.get("selectors") or []:
                expr = (sel.get("cel") or {}).get("expression", "")
                problems += [f"request {r.get('name')!r}: {p}" for p in static_problems(expr)]
                for dev in empties + list(devices or []):
                    try:
                        ev.evaluate(expr, dev)
                    except RuntimeError as exc:
                        problems.append(f"request {r.get('name')!r}: selector errors on a device "
                                        f"({exc}): guard the attribute")
                        break
    return problems
