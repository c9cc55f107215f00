"""GPU104 annotation-requests: report GPUs asked for without a resource.

## What it does
Reports a pod whose template asks for a GPU share by annotation (KAI Scheduler's
``gpu-fraction``, ``gpu-memory``) instead of ``resources``.

## Why
A resource-based migrator would call such a pod "no GPU" and move on, and the share would be
lost when the cluster switches to DRA (NVIDIA/KAI-Scheduler ``docs/gpu-sharing``; corpus
README trap 4).

## Example
    metadata: {annotations: {gpu-fraction: "0.5"}}

## Fix safety
No fix: reported as *needs manual action*.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU104"
NAME = "annotation-requests"
SUMMARY = "GPU shares requested by annotation (KAI gpu-fraction/gpu-memory) need manual action"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    found = sorted(k for k in ctx.annotations if k in ctx.tables.annotation_requests)
    if found:
        yield block(ctx.finding(CODE, Status.MANUAL,
                                     "GPU share requested by annotation (" + ", ".join(
                                         f"{k}={ctx.annotations[k]}" for k in found) +
                                     "): no resource to convert; choose the DRA form by hand"))
