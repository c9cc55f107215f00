"""GPU001 whole-gpu: ``nvidia.com/gpu: N`` becomes a request for N ``gpu.nvidia.com`` devices.

## What it does
For every app container and native sidecar that asks for ``nvidia.com/gpu: N`` (N > 0, int or
quoted, in limits, requests or both): adds a request named after the container to the pod's
ResourceClaimTemplate (``exactly: {deviceClassName: gpu.nvidia.com, count: N}``), points the
container at it (``resources.claims: [{name: gpu, request: <container>}]``) and removes the
extended resource from ``limits`` and ``requests``. Several GPU containers get one request each
in the same template, so none sees another's GPUs.

## Why
DRA replaces the device plugin's counted resource with claims (dra-api.md §1-2, §7). A
template (not a ResourceClaim) gives every replica its own claim, as the device plugin gave
every pod its own GPUs. Keeping ``nvidia.com/gpu`` next to the claim would ask twice.

## Example
    resources: {limits: {nvidia.com/gpu: 2, cpu: 4}}
Use instead:
    resources: {limits: {cpu: 4}, claims: [{name: gpu, request: main}]}

## Fix safety
Safe: the pod holds the same number of devices of the same class.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, add_request, app_or_sidecar, device_rule

CODE = "GPU001"
NAME = "whole-gpu"
SUMMARY = "nvidia.com/gpu: N -> ResourceClaimTemplate request (gpu.nvidia.com, count N)"
FIX = FixSafety.SAFE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if plan.sharing or plan.shares:  # GPU011 made the shared requests
        return
    warned: set[str] = set()
    for ask in ctx.gpu_asks():
        rule = device_rule(ask.resource, ctx.tables)
        if rule is not None and rule.kind == "whole" and ask.count and app_or_sidecar(ctx, ask):
            yield from add_request(ctx, plan, ask)
            if rule.node_dependent and ctx.tables.strategy_profile(ask.resource) is None and \
                    ask.resource not in warned:
                # a resource whose nodes say what it is (nodes.strategy: MIG strategy, sharing) has
                # its own rules; for the others the profile only says the name can mean less than a
                # whole device
                warned.add(ask.resource)
                vendor = ctx.tables.vendors.by_vendor(rule.vendor).name
                yield ctx.finding(CODE, Status.INFO, f"{ask.resource} can mean less than a whole device on some "
                                  f"nodes (its {vendor} profile: nodeDependent, e.g. partitions or shared "
                                  "devices advertised under this name); the claim asks for whole devices: check "
                                  "what those nodes' device plugin advertised", ask.container, warn=True)
