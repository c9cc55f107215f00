"""GPU011 sharing-opt-in: with ``--sharing``, a time-sliced or MPS "GPU" becomes one shared claim.

## What it does
Only with ``--sharing timeslicing|mps``: a pod that asks for ``nvidia.com/gpu.shared`` or for
``nvidia.com/gpu`` on nodes labelled as time-sliced/MPS (GPU103's signals), one replica per
container, is converted to a single *ResourceClaim* (not a template) with one request of one
``gpu.nvidia.com`` device and an opaque ``GpuConfig`` with ``sharing.strategy: TimeSlicing``
(or ``MPS``). Every replica of the workload references it (``resourceClaimName``), and all its
GPU containers reference the same request. Without the flag GPU103 reports these pods.

## Why
The device plugin's replicas have no one-to-one DRA form: DRA shares a device by letting
several pods and containers use one claim, configured by the driver's GpuConfig (NVIDIA DRA
driver v25.12 ``api/nvidia.com/resource/v1beta1``; dra-api.md §4.3, §5.2). The change is real:
all pods sharing the claim run on the one node where it is allocated (at most 256 pods per claim,
``ResourceClaimReservedForMaxSize``), and the driver needs its alpha feature gate
``TimeSlicingSettings`` or ``MPSSupport``, both off by default.

## Example
    limits: {nvidia.com/gpu.shared: 1}
Use instead: ``resourceClaims: [{name: gpu, resourceClaimName: <workload>-shared-gpu-<hash>}]``

## Fix safety
Unsafe (opt-in only): placement and isolation change as described above.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import DeviceRequest, Finding, FixSafety, Status
from migrator.transforms.base import PodContext, PodPlan

CODE = "GPU011"
NAME = "sharing-opt-in"
SUMMARY = "--sharing: time-slicing/MPS replicas -> one shared ResourceClaim with GpuConfig sharing"
FIX = FixSafety.SAFE  # applied only when the user opts in

STRATEGY = {"timeslicing": "TimeSlicing", "mps": "MPS"}


def sharing_signal(ctx: PodContext) -> bool:
    if any(a.resource in ctx.tables.shared_resources and a.count for a in ctx.asks):
        return True
    if not any(a.resource == "nvidia.com/gpu" and a.count for a in ctx.asks):
        return False
    # only selections that name a sharing value (In): "may include shared nodes" (NotIn, Exists, Gt)
    # is no reason to share one GPU between every replica; GPU103 reports those
    return any(rule.label == label and rule.value.search(value) and not rule.mig
               for label, value in ctx.node_selection for rule in ctx.tables.sharing_labels)


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding]:
    if not ctx.mode.sharing or not sharing_signal(ctx):
        return
    asks = [a for a in ctx.asks if a.count and (a.resource == "nvidia.com/gpu" or
                                                a.resource in ctx.tables.shared_resources)]
    if any(a.count != 1 for a in asks) or any(a.section == "initContainers" for a in asks) or \
            any(a.count and a.resource.startswith("nvidia.com/mig-") for a in ctx.asks):
        yield plan.block(ctx.finding(CODE, Status.MANUAL,
                                     "--sharing converts one shared replica per app container only; "
                                     "this pod asks for more, for MIG, or in init containers"))
        return
    strategy = STRATEGY[ctx.mode.sharing]
    plan.sharing = strategy
    plan.requests.append(DeviceRequest("shared", "gpu.nvidia.com", 1, (), "nvidia.com/gpu"))
    for a in asks:
        plan.wiring.setdefault((a.section, a.index), []).append("shared")
        plan.removals.append((a.section, a.index, a.resource))
    gate = "TimeSlicingSettings" if strategy == "TimeSlicing" else "MPSSupport"
    yield ctx.finding(CODE, Status.INFO,
                      f"--sharing: one shared ResourceClaim with GpuConfig {strategy}; every replica "
                      "shares one GPU on the node where the claim is allocated (at most 256 pods); "
                      f"the DRA driver needs its alpha feature gate {gate}", warn=True)
