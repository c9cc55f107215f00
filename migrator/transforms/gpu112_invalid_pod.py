"""GPU112 invalid-pod: GPU pod specs the API server would reject are reported, never converted.

## What it does
Skips a pod spec with GPUs when two of its containers share a name (across ``initContainers``,
``containers`` and ``ephemeralContainers``), or when an ephemeral container asks for a GPU
(in ``limits`` or ``requests``). Counts the API server rejects are GPU102's.

## Why
Such a manifest never ran, so there is no device assignment to preserve, and a rewrite would
hide the error behind a new one. Container names must be unique across all three lists
(k8s.io/kubernetes pkg/apis/core/validation/validation.go ``validateContainers``,
``validateInitContainers`` and ``validateEphemeralContainers``: "Duplicate value"); the requests
made per container are named after them. Ephemeral containers may not set resources at all
("Resources are not allowed for ephemeral containers", ``EphemeralContainerCommon.Resources``;
dra-api.md §2), and cannot reference claims either.

## Example
    containers: [{name: main, resources: {limits: {nvidia.com/gpu: 1}}}]
    initContainers: [{name: main, image: busybox}]

## Fix safety
No fix: reported as *skipped* with the reason.
"""

from __future__ import annotations

from typing import Iterable

from yaml.nodes import MappingNode, ScalarNode

from migrator.text.documents import get, items, scalar_value
from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block, ephemeral_gpus

CODE = "GPU112"
NAME = "invalid-pod"
SUMMARY = "GPU pod specs the API server rejects (duplicate container names, GPUs in ephemeral containers)"
FIX = FixSafety.NONE

SECTIONS = ("initContainers", "containers", "ephemeralContainers")


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    ephemeral = ephemeral_gpus(ctx)
    if not ctx.gpu_asks() and not ephemeral:
        return
    for name, res in ephemeral:
        yield block(ctx.finding(CODE, Status.SKIPPED,
                                     f"ephemeral container {name!r} asks for {res}; the API allows no resources "
                                     "in ephemeral containers (nor claims): remove them, then migrate", name))
    seen: dict[str, str] = {}
    for section in SECTIONS:
        for c in items(get(ctx.pod, section)):
            name_node = get(c, "name") if isinstance(c, MappingNode) else None
            if not isinstance(name_node, ScalarNode):
                continue
            name = str(scalar_value(name_node))
            if name in seen:
                yield block(ctx.finding(CODE, Status.SKIPPED,
                                             f"container name {name!r} is used in {seen[name]} and {section}; the API "
                                             "requires names unique across init, app and ephemeral containers: "
                                             "rename one, then migrate", name))
            else:
                seen[name] = section
