"""GPU004 init-containers: init containers reuse the app containers' GPUs, as under the device plugin.

## What it does
An ordinary init container that asks for k devices of a resource references requests of the
containers that run after it (the app containers and the native sidecars declared after it)
whose counts cover k: one request of exactly k if there is one, else the smallest covering set.
Only when those hold fewer than k does the template get one extra request, sized by the
largest shortfall over all init containers, which the needy init containers also reference.
Native sidecars (``restartPolicy: Always``) hold their own devices (GPU001/GPU002).

## Why
The scheduler and the kubelet's device manager give a pod
max(max over init containers i of (k_i + sidecars declared before i), app containers + all
sidecars) devices: init containers run one at a time before the app containers and their
devices are reused. A request per init container would make the pod hold more GPUs than
before, on nodes that may not have them. With this wiring the pod holds exactly the same
number (KEP-753 sidecar arithmetic; kubelet devicemanager ``devicesToReuse``).

## Example
    initContainers: [{name: warmup, resources: {limits: {nvidia.com/gpu: 1}}}]
    containers: [{name: main, resources: {limits: {nvidia.com/gpu: 1}}}]
Use instead: one request ``main`` (count 1); both containers reference it.

## Fix safety
Safe: the number of devices the pod holds is unchanged. An init container may see more
devices than it asked for when no request matches its count exactly (reported as info).
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import DeviceRequest, Finding, FixSafety, Status
from migrator.transforms.base import (AddRequest, Intent, PodContext, PodPlan, RemoveResource, WireRequests, resolve_device)

CODE = "GPU004"
NAME = "init-containers"
SUMMARY = "init containers reference the app containers' requests; never more GPUs per pod"
FIX = FixSafety.SAFE


def _cover(pool: list[DeviceRequest], k: int) -> list[DeviceRequest] | None:
    exact = [r for r in pool if r.count == k]
    if exact:
        return exact[:1]
    bigger = sorted((r for r in pool if r.count > k), key=lambda r: r.count)
    if bigger:
        return bigger[:1]
    chosen, total = [], 0
    for r in sorted(pool, key=lambda r: -r.count):
        chosen.append(r)
        total += r.count
        if total >= k:
            return chosen
    return None


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    inits = [c for c in ctx.containers if c.section == "initContainers"]
    ordinary = [c for c in inits if not c.sidecar]
    by_request = {r.name: r for r in plan.requests}
    needs: list[tuple[int, str, str, int]] = []  # (init index, name, resource, k)
    for ask in ctx.gpu_asks():
        container = next(c for c in ctx.containers if c.section == ask.section and c.index == ask.index)
        if container in ordinary and ask.count:
            needs.append((ask.index, ask.container, ask.resource, ask.count))
            yield RemoveResource(ask.section, ask.index, ask.resource)
    shortfall: dict[str, tuple[int, str]] = {}
    wiring: dict[int, list[str]] = {}
    for index, name, resource, k in needs:
        pool = []
        for (section, ci), names in plan.wiring.items():
            later_sidecar = section == "initContainers" and ci > index
            if section == "containers" or later_sidecar:
                pool += [by_request[n] for n in names if by_request[n].resource == resource]
        cover = _cover(pool, k)
        if cover is None:
            missing = k - sum(r.count for r in pool)
            if missing > shortfall.get(resource, (0, ""))[0]:
                shortfall[resource] = (missing, name)
            wiring.setdefault(index, []).extend(r.name for r in pool)
            wiring[index].append(f"extra:{resource}")
        else:
            wiring.setdefault(index, []).extend(r.name for r in cover)
            seen = sum(r.count for r in cover)
            if seen != k:
                yield ctx.finding(CODE, Status.INFO,
                                  f"init container {name!r} asked for {k} x {resource}; it shares the "
                                  f"app containers' {seen} (the pod still holds the same number)", name)
    extra_names: dict[str, str] = {}
    for resource, (missing, name) in shortfall.items():
        resolved = resolve_device(resource, ctx.tables)
        assert resolved is not None
        req = DeviceRequest(plan.unique_request_name(name), resolved[0], missing, resolved[1], resource)
        yield AddRequest(req)
        extra_names[resource] = req.name
    for index, names in wiring.items():
        out = [extra_names[n[6:]] if n.startswith("extra:") else n for n in names]
        yield WireRequests(("initContainers", index), tuple(dict.fromkeys(out)))
