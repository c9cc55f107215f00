"""GPU010 ray-gpus: a Ray group whose GPUs move to claims keeps telling Ray how many it has.

## What it does
For a RayCluster/RayJob/RayService head or worker group whose Ray container's
``nvidia.com/gpu`` moves into a claim, sets ``rayStartParams.num-gpus`` to that count (as a
string, like every rayStartParams value) unless the group already sets it.

## Why
KubeRay's autoscaler reads a group's GPU count from ``rayStartParams.num-gpus`` and, when that
is absent, from the Ray container's resource limits (ray-project/ray
``python/ray/autoscaler/_private/kuberay/autoscaling_config.py`` ``_get_num_gpus``). With the
limit gone the group would advertise 0 GPUs and GPU tasks would never scale it up.

## Example
    rayStartParams: {}          ->  rayStartParams: {num-gpus: "1"}

## Fix safety
Safe: Ray sees the count it saw before.
"""

from __future__ import annotations

from typing import Iterable

from yaml.nodes import MappingNode

from migrator.text.documents import get
from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, SetField

CODE = "GPU010"
NAME = "ray-gpus"
SUMMARY = "Ray groups keep their GPU count: rayStartParams.num-gpus is set when the limit moves"
FIX = FixSafety.SAFE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    ref = ctx.ref
    if ref.obj.group != "ray.io" or ref.path[-2:] != ("template", "spec") or not plan.requests:
        return
    # the resources KubeRay counts as GPUs: each profile's ray.numGpus
    ray = {name for p in ctx.tables.vendors.profiles for name in p.ray_num_gpus}
    count = sum(a.count or 0 for a in ctx.asks if a.section == "containers" and a.index == 0
                and a.resource in ray)
    if not count:
        return
    group = ref.obj.node
    for step in ref.path[:-2]:
        group = group.value[step] if isinstance(step, int) else get(group, step)  # type: ignore[union-attr]  # a located path: no None on it
    if not isinstance(group, MappingNode):
        return
    params = get(group, "rayStartParams")
    if isinstance(params, MappingNode) and get(params, "num-gpus") is not None:
        return
    yield SetField("ray_num_gpus", (group, str(count)))
    yield ctx.finding(CODE, Status.INFO, f"rayStartParams.num-gpus set to {count}: Ray's autoscaler read it "
                                         "from the container limit")
