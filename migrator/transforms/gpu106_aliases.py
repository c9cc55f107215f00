"""GPU106 aliases: never half-edit a block that YAML aliases share.

## What it does
Reports a pod when a node the rewrite would edit (the pod spec, a GPU container, its
``resources``, ``limits`` or ``requests``, or the pod's ``tolerations``/``resourceClaims``) is
used through a YAML alias (``*name``) or a merge key (``<<:``).

## Why
Editing the anchored text changes every place that uses it: two containers sharing one
``resources: &r`` block would end up naming the same request, i.e. sharing one set of GPUs.

## Example
    - name: a
      resources: &gpu {limits: {nvidia.com/gpu: 1}}
    - name: b
      resources: *gpu

## Fix safety
No fix: reported as *needs manual action*; expand the alias, then run again.
"""

from __future__ import annotations

from typing import Iterable

from yaml.nodes import Node

from migrator.text.documents import get, has_merge
from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU106"
NAME = "aliases"
SUMMARY = "GPU blocks shared through YAML aliases or merge keys are reported, never half-edited"
FIX = FixSafety.NONE


def _edit_nodes(ctx: PodContext) -> list[Node]:
    nodes: list[Node] = [ctx.pod]
    for key in ("containers", "initContainers", "tolerations", "resourceClaims"):
        n = get(ctx.pod, key)
        if n is not None:
            nodes.append(n)
    gpu_containers = {(a.section, a.index) for a in ctx.gpu_asks()}
    for c in ctx.containers:
        if (c.section, c.index) in gpu_containers:
            res = get(c.node, "resources")
            nodes += [c.node] + [n for n in (res, get(res, "limits"), get(res, "requests"),
                                             get(res, "claims")) if n is not None]
    return nodes


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    if not ctx.gpu_asks():
        return
    for node in _edit_nodes(ctx):
        if id(node) in ctx.shared or has_merge(node):
            yield block(ctx.finding(CODE, Status.MANUAL,
                                         f"line {node.start_mark.line + 1}: the GPU block is shared through "
                                         "a YAML alias or merge key; expand it, then run again"))
            return
