"""Taints, tolerations and the ExtendedResourceToleration admission plugin, as Kubernetes has them.

One model for the rewrite (GPU005) and ``verify`` (cluster.tolerates, equivalence.Prover):

- ``tolerates_taint``: k8s.io/api core/v1 toleration.go ``(*Toleration).ToleratesTaint``: an
  empty effect matches every effect; an empty key matches every key (with ``Exists``); an empty
  operator is ``Equal``, which matches one value; ``Exists`` matches every value; ``Lt``/``Gt``
  compare decimal integers (taint value < / > toleration value) and match nothing else
  (feature gate TaintTolerationComparisonOperators: a pod using them exists only where it is on);
  any other operator matches nothing.
- ``admission_tolerations``: kubernetes/kubernetes plugin/pkg/admission/extendedresourcetoleration
  admission.go ``Admit``: for every extended resource (pkg/apis/core/helper
  ``IsExtendedResourceName``) named in the ``requests`` of a container or init container (not an
  ephemeral one), sorted, ``AddOrUpdateTolerationInPod`` with ``{key: <resource>, operator:
  Exists, effect: NoSchedule}``: nothing when an identical toleration exists, a replacement when
  one matches on key, operator, value and effect (``MatchToleration``), else appended. Requests
  are read after defaulting (core/v1 defaults.go ``SetDefaults_Pod``: a limit without a request
  sets the request), so a resource in ``limits`` only counts too, whatever its quantity (``0``
  included: the plugin looks at names, not amounts).
- ``covers_plugin_toleration``: the pod already tolerates every taint the plugin's toleration
  would have (key ``<resource>``, any value, effect ``NoSchedule``): only an ``Exists`` toleration
  on that key or on every key, with effect ``NoSchedule`` or empty, does; ``Equal`` matches one
  value and ``Lt``/``Gt`` numbers only, and no finite set of them covers every value.
"""

from __future__ import annotations

import re
from typing import Any

NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE = "NoSchedule", "NoExecute", "PreferNoSchedule"

# k8s.io/apimachinery pkg/util/validation IsQualifiedName
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# k8s.io/apimachinery pkg/api/validate/content IsDecimalInteger (no leading zeros, optional '-')
_DECIMAL_INTEGER = re.compile(r"^(0|-?[1-9][0-9]*)$")


def _text(v: Any) -> str:
    return "" if v is None else v if isinstance(v, str) else str(v)


def _qualified_name(name: str) -> bool:
    prefix, sep, local = name.rpartition("/")
    if sep and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        return False
    return len(local) <= 63 and bool(_NAME.match(local))


def is_extended_resource(name: str) -> bool:
    """pkg/apis/core/helper IsExtendedResourceName: outside *kubernetes.io/, not ``requests.``, qualified."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return _qualified_name("requests." + name)


def plugin_toleration(resource: str) -> dict[str, str]:
    return {"key": resource, "operator": "Exists", "effect": NO_SCHEDULE}


def _int64(text: str) -> int | None:
    if not _DECIMAL_INTEGER.match(text):
        return None
    v = int(text)
    return v if -(2**63) <= v < 2**63 else None


def tolerates_taint(tol: dict[str, Any], key: str, value: str, effect: str) -> bool:
    """core/v1 ToleratesTaint for one toleration (a dict as in the pod spec) and one taint."""
    t_effect, t_key = _text(tol.get("effect")), _text(tol.get("key"))
    if t_effect and t_effect != effect:
        return False
    if t_key and t_key != key:
        return False
    op = _text(tol.get("operator"))
    if op in ("", "Equal"):
        return _text(tol.get("value")) == value
    if op == "Exists":
        return True
    if op in ("Lt", "Gt"):
        tv, nv = _int64(_text(tol.get("value"))), _int64(value)
        if tv is None or nv is None:
            return False
        return nv < tv if op == "Lt" else nv > tv
    return False


def _match(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # MatchToleration: key, effect, operator and value as written (no defaulting of the operator)
    return all(_text(a.get(f)) == _text(b.get(f)) for f in ("key", "effect", "operator", "value"))


def requested_extended_resources(pod: dict[str, Any]) -> list[str]:
    """The extended resources the plugin sees in ``pod`` (a pod spec as plain data), sorted."""
    names: set[str] = set()
    for section in ("containers", "initContainers"):
        containers = pod.get(section)
        for c in containers if isinstance(containers, list) else []:
            res = c.get("resources") if isinstance(c, dict) else None
            if not isinstance(res, dict):
                continue
            for which in ("requests", "limits"):  # limits default the requests
                m = res.get(which)
                for k in m if isinstance(m, dict) else {}:
                    if isinstance(k, str) and is_extended_resource(k):
                        names.add(k)
    return sorted(names)


def admission_tolerations(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """``pod``'s tolerations after the ExtendedResourceToleration plugin admitted it."""
    raw = pod.get("tolerations")
    tolerations = [t for t in raw if isinstance(t, dict)] if isinstance(raw, list) else []
    for resource in requested_extended_resources(pod):
        new = plugin_toleration(resource)
        if any(_match(new, t) and _text(t.get("tolerationSeconds")) == "" for t in tolerations):
            continue  # Semantic.DeepEqual: already there
        if any(_match(new, t) for t in tolerations):
            tolerations = [new if _match(new, t) else t for t in tolerations]
        else:
            tolerations = tolerations + [new]
    return tolerations


def covers_plugin_toleration(tolerations: Any, resource: str) -> bool:
    """Some toleration in ``tolerations`` tolerates every taint ``plugin_toleration(resource)`` does."""
    for tol in tolerations if isinstance(tolerations, list) else []:
        if not isinstance(tol, dict):
            continue
        if _text(tol.get("effect")) in ("", NO_SCHEDULE) and _text(tol.get("operator")) == "Exists" \
                and _text(tol.get("key")) in ("", resource):
            return True
    return False
