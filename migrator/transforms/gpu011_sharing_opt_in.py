"""GPU011 sharing-opt-in: with ``--sharing``, a time-sliced or MPS "GPU" becomes one shared claim.

## What it does
Only with ``--sharing timeslicing|mps``: a pod that asks for ``nvidia.com/gpu.shared`` or for
``nvidia.com/gpu`` on nodes labelled as time-sliced/MPS (GPU103's signals), one replica per
container, is converted. Without the flag GPU103 reports these pods.

- ``timeslicing`` on a target where DRAConsumableCapacity is on by default (1.36+,
  rules/kubernetes.yaml): the pod keeps a ResourceClaimTemplate of its own, and each GPU container
  gets a request of one ``gpu.nvidia.com`` device with ``capacity.requests.shares: 1``: one of the
  ``shares`` the NVIDIA DRA driver publishes per GPU with ConsumableShares (driver v0.5, gate
  ConsumableShares, Helm value ``consumableShares: <N>``: capacity ``shares`` = N, one per request by
  default, ``allowMultipleAllocations``; kubernetes-sigs/dra-driver-nvidia-gpu
  ``cmd/gpu-kubelet-plugin/consumable_shares.go``). That is the device plugin's time-slicing
  ``replicas: N``: each replica a share, pods spread over the nodes as before. A device without a
  ``shares`` capacity is never allocated to such a request (k8s.io/dynamic-resource-allocation
  v0.37.2 ``structured/internal/incubating/consumable_capacity.go``, requestsContainNonExistCapacity).
- otherwise (MPS, which ConsumableShares does not combine with, or an older target): a single
  *ResourceClaim* (not a template) with one request of one ``gpu.nvidia.com`` device and an
  opaque ``GpuConfig`` with ``sharing.strategy: TimeSlicing`` (or ``MPS``). Every replica of the
  workload references it (``resourceClaimName``), and all its GPU containers reference the same
  request.

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
Unsafe (opt-in only): with the shared claim, placement and isolation change as described above;
with shares, the driver's ``consumableShares`` must equal the time-slicing replicas.
"""

from __future__ import annotations

from typing import Any, Iterable

from migrator.k8s.kube import releases
from migrator.model import DeviceRequest, Finding, FixSafety, Status
from migrator.transforms.base import (AddRequest, DNS_LABEL, Intent, PodContext, PodPlan,
                                      RemoveResource, SetField, WireRequests, block)

CODE = "GPU011"
NAME = "sharing-opt-in"
SUMMARY = "--sharing: time-slicing/MPS replicas -> one shared ResourceClaim with GpuConfig sharing"
FIX = FixSafety.UNSAFE  # what a pod gets changes (shares, not a GPU of its own): only with --sharing
UNSAFE = FixSafety.UNSAFE


def _labelled(ctx: PodContext) -> set[str]:
    """The node-dependent resources whose sharing labels the table holds and whose profile says how
    to convert shares (``sharing.converted``)."""
    return {r for r, p in ctx.tables.sharing_nodes.items() if p.sharing.converted}


def sharing_signal(ctx: PodContext) -> bool:
    if any(a.resource in ctx.tables.shared_resources and a.count for a in ctx.asks):
        return True
    labelled = _labelled(ctx)
    if not any(a.resource in labelled and a.count for a in ctx.asks):
        return False
    # only selections that name a sharing value (In): "may include shared nodes" (NotIn, Exists, Gt)
    # is no reason to share one GPU between every replica; GPU103 reports those
    return any(rule.label == label and rule.value.search(value) and not rule.mig
               for label, value in ctx.node_selection for rule in ctx.tables.sharing_labels)


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if not ctx.mode.sharing or not sharing_signal(ctx):
        return
    labelled = _labelled(ctx)
    asks = [a for a in ctx.asks if a.count and (a.resource in labelled or a.resource in ctx.tables.shared_resources)]
    profiles = {p.vendor: p for a in asks if (p := ctx.tables.vendor_of(a.resource)) is not None}
    if len(profiles) != 1:  # one shared claim is one driver's device
        yield block(ctx.finding(CODE, Status.MANUAL, "--sharing converts the shares of one vendor's devices only"))
        return
    (prof,) = profiles.values()
    resource, whole_class = prof.nodes.resource if prof.nodes is not None else asks[0].resource, prof.whole_class
    partition = prof.partitions.resource_prefix if prof.partitions is not None else None
    part = prof.partitions.name if prof.partitions is not None else "partitions"
    if any(a.count != 1 for a in asks) or any(a.section == "initContainers" for a in asks) or \
            any(a.count and partition and a.resource.startswith(partition) for a in ctx.asks):
        yield block(ctx.finding(CODE, Status.MANUAL,
                                     "--sharing converts one shared replica per app container only; "
                                     f"this pod asks for more, for {part}, or in init containers"))
        return
    if ctx.mode.sharing == "timeslicing" and prof.sharing.consumable is not None and \
            releases().gate("DRAConsumableCapacity", ctx.mode.kube_version):
        yield from _shares(ctx, plan, asks, prof)
        return
    conv = next((c for c in prof.sharing.converted if c.strategy == ctx.mode.sharing), None)
    if conv is None:
        yield block(ctx.finding(CODE, Status.MANUAL, f"--sharing {ctx.mode.sharing}: the {prof.name} profile has "
                                                     "no such sharing.converted entry"))
        return
    strategy = conv.parameters["strategy"]
    yield SetField("sharing", strategy, UNSAFE)
    yield AddRequest(DeviceRequest("shared", whole_class, 1, (), resource), None, UNSAFE)
    for a in asks:
        yield WireRequests((a.section, a.index), tuple(plan.wiring.get((a.section, a.index), [])) + ("shared",),
                           UNSAFE)
        yield RemoveResource(a.section, a.index, a.resource, UNSAFE)
    gate = conv.driver_gate
    yield ctx.finding(CODE, Status.INFO,
                      f"--sharing: one shared ResourceClaim with {prof.opaque_config.sharing_kind} {strategy}; "
                      "every replica shares one GPU on the node where the claim is allocated (at most 256 pods); "
                      f"the DRA driver needs its alpha feature gate {gate}", warn=True)


def _shares(ctx: PodContext, plan: PodPlan, asks: list[Any], prof: Any) -> Iterable[Finding | Intent]:
    cons = prof.sharing.consumable
    yield SetField("shares", True, UNSAFE)
    per: dict[tuple[str, int], int] = {}
    for a in asks:
        per[(a.section, a.index)] = per.get((a.section, a.index), 0) + 1
    for a in asks:
        base = a.container if DNS_LABEL.match(a.container) else f"{a.section.lower()[:4]}-{a.index}"
        if per[(a.section, a.index)] > 1:
            base = f"{base}-{a.resource.split('/', 1)[1].replace('.', '-')}"
        req = DeviceRequest(plan.unique_request_name(base), prof.whole_class, 1, (), a.resource,
                            capacity=((cons.capacity, cons.request),))
        yield AddRequest(req, (a.section, a.index), UNSAFE)
        yield RemoveResource(a.section, a.index, a.resource, UNSAFE)
    # "v0.5.0 or later" reads as the minor release it is
    since = cons.min_driver[:-2] if cons.min_driver and cons.min_driver.endswith(".0") else cons.min_driver
    yield ctx.finding(CODE, Status.INFO,
                      f"--sharing timeslicing on Kubernetes {ctx.mode.kube_version}: one consumable share of a GPU "
                      f"per container (capacity.requests.{cons.capacity}: {cons.request}), as a time-slicing replica; "
                      f"the DRA driver must publish {cons.capacity}: {since} or later with its feature gate "
                      f"{cons.driver_gate} and the Helm value {cons.helm_value} set to the time-slicing replicas",
                      warn=True)
