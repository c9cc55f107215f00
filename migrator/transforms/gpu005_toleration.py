"""GPU005 toleration: add the GPU taint toleration the admission plugin used to add.

## What it does
Adds ``{key: <resource>, operator: Exists, effect: NoSchedule}`` for each extended resource the
rewrite took out of the pod (``nvidia.com/gpu``, ``nvidia.com/mig-1g.5gb``, ...), exactly the
tolerations the admission plugin added, unless the pod already tolerates that key with any value
(``Exists`` on the key, or on every key; an ``Equal`` toleration tolerates one value only). A MIG
pod gets the ``nvidia.com/mig-<profile>`` key, not ``nvidia.com/gpu``: under the plugin it could
not land on nodes tainted ``nvidia.com/gpu`` either (``verify`` shows it).

## Why
The ExtendedResourceToleration admission plugin (on in GKE and EKS) adds a toleration for each
extended resource a pod *requests* (kubernetes/kubernetes#55839). A pod rewritten to claims no
longer requests ``nvidia.com/gpu``, so it would stay Pending on tainted GPU nodes. Every NVIDIA
DRA demo adds it explicitly (dra-driver ``demo/specs/quickstart/v1/*.yaml``; dra-api.md §2).

## Example
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]

## Fix safety
Safe: the pod now needs a GPU device, which only GPU nodes have.
"""

from __future__ import annotations

from typing import Iterable

from yaml.nodes import ScalarNode

from migrator.documents import get, items
from migrator.model import Finding, FixSafety
from migrator.transforms.base import PodContext, PodPlan

CODE = "GPU005"
NAME = "toleration"
SUMMARY = "add the nvidia.com/gpu NoSchedule toleration that ExtendedResourceToleration added"
FIX = FixSafety.SAFE


def _tolerated(ctx: PodContext, key: str) -> bool:
    """The pod already tolerates every NoSchedule taint on ``key``, whatever its value.

    Only ``Exists`` does: ``Equal`` (the default operator) tolerates one value, and the admission
    plugin's toleration tolerated them all (core/v1 Toleration.ToleratesTaint).
    """
    for tol in items(get(ctx.pod, "tolerations")):
        k, op, effect = get(tol, "key"), get(tol, "operator"), get(tol, "effect")
        kv = k.value if isinstance(k, ScalarNode) else ""
        ev = effect.value if isinstance(effect, ScalarNode) else ""
        opv = op.value if isinstance(op, ScalarNode) else "Equal"
        if ev not in ("", "NoSchedule"):
            continue
        if opv == "Exists" and kv in (key, ""):
            return True
    return False


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding]:
    if not plan.requests:
        return ()
    keys = sorted({r.resource for r in plan.requests})
    plan.tolerations = [k for k in keys if not _tolerated(ctx, k)]
    return ()
