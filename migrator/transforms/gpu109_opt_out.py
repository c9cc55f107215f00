"""GPU109 opt-out: an object or pod template annotated ``dra-migrate/skip: "true"`` is left alone.

## What it does
Skips every pod spec of an object whose ``metadata.annotations`` (or whose pod template's
annotations) set ``dra-migrate/skip`` to ``"true"``, and says so.

## Why
Some workloads must stay on the device plugin for a while (a vendor image pinned to it, a
DaemonSet that is part of the GPU stack). The annotation keeps the decision next to the object,
reviewable, instead of in a command line.

## Example
    metadata: {annotations: {dra-migrate/skip: "true"}}

## Fix safety
No fix: reported as *skipped*.
"""

from __future__ import annotations

from typing import Iterable

from migrator.text.documents import get, str_at
from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU109"
NAME = "opt-out"
SUMMARY = 'objects or pod templates annotated dra-migrate/skip: "true" are left alone'
FIX = FixSafety.NONE
ANNOTATION = "dra-migrate/skip"


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    own = str_at(get(get(ctx.ref.obj.node, "metadata"), "annotations"), ANNOTATION)
    value = ctx.annotations.get(ANNOTATION) or own
    if value is not None and value.strip().lower() == "true":
        yield block(ctx.finding(CODE, Status.SKIPPED, f"opted out by the annotation {ANNOTATION}: \"true\""))
