"""GPU005 toleration: add the GPU taint toleration the admission plugin used to add.

## What it does
Adds ``{key: <resource>, operator: Exists, effect: NoSchedule}`` for each extended resource the
rewrite takes out of the pod (``nvidia.com/gpu``, ``nvidia.com/mig-1g.5gb``,
``nvidia.com/gpu.shared`` under ``--sharing``; from app, init and sidecar containers; a ``0``
count too), exactly the toleration the admission plugin added for it, unless the pod already
tolerates every taint that toleration tolerated: an ``Exists`` toleration on that key or on every
key (empty key), with effect ``NoSchedule`` or empty. An ``Equal`` toleration (the default
operator) tolerates one value only, ``Lt``/``Gt`` only numbers, and ``NoExecute`` or
``PreferNoSchedule`` other taints: none of them makes the added one redundant. A MIG pod gets the
``nvidia.com/mig-<profile>`` key, not ``nvidia.com/gpu``: under the plugin it could not land on
nodes tainted ``nvidia.com/gpu`` either (``verify`` shows it).

## Why
The ExtendedResourceToleration admission plugin (on in GKE and EKS) adds that toleration for
each extended resource a pod *requests*, in containers and init containers, whatever the
quantity (kubernetes/kubernetes plugin/pkg/admission/extendedresourcetoleration/admission.go;
#55839). A pod rewritten to claims no longer requests the resource, so without it the pod
would stay Pending on tainted GPU nodes. Every NVIDIA DRA demo adds it explicitly (dra-driver
``demo/specs/quickstart/v1/*.yaml``; dra-api.md §2). The rewritten pod then tolerates exactly
the taints the original one did once admitted (migrator/k8s/tolerations.py; tests/test_tolerations.py
checks this over generated tolerations and taints).

## Example
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]

## Fix safety
Safe: the pod now needs a GPU device, which only GPU nodes have.
"""

from __future__ import annotations

from typing import Iterable

from migrator.text.documents import get, to_python
from migrator.model import Finding, FixSafety
from migrator.k8s.tolerations import covers_plugin_toleration, is_extended_resource
from migrator.transforms.base import Intent, PodContext, PodPlan, SetField

CODE = "GPU005"
NAME = "toleration"
SUMMARY = "add the NoSchedule toleration ExtendedResourceToleration added for each resource taken out"
FIX = FixSafety.SAFE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    removed = sorted({resource for _, _, resource in plan.removals if is_extended_resource(resource)})
    if not removed:
        return
    tolerations = to_python(get(ctx.pod, "tolerations"))
    yield SetField("tolerations", [r for r in removed if not covers_plugin_toleration(tolerations, r)])
