"""GPU102 placeholders: do not convert counts or resource names that are still templates.

## What it does
Skips a pod when a GPU count (``$GPU_PER_NODE``, ``${N}``, ``{{ .Values.gpus }}``) or a resource
name (``{{ $gpuType }}``, ``FILLED_BY_VALIDATOR``) is a placeholder, or when a count is not a
whole number.

## Why
The DRA ``count`` must be a number the apiserver accepts, and the device class depends on the
resource name. Guessing either could change how many or which devices the pod gets. Render
the template first (Helm post-renderer, envsubst) and run on the output.

## Example
    limits: {nvidia.com/gpu: $GPU_PER_NODE}

## Fix safety
No fix: reported as *skipped* with the reason.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.tables import is_placeholder
from migrator.transforms.base import PodContext, PodPlan, device_rule

CODE = "GPU102"
NAME = "placeholders"
SUMMARY = "GPU counts or resource names that are template placeholders are reported, not guessed"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding]:
    for ask in ctx.asks:
        if is_placeholder(ask.resource, ctx.tables) and ask.resource not in ctx.tables.hami_resources:
            yield plan.block(ctx.finding(CODE, Status.SKIPPED,
                                         f"container {ask.container!r}: resource name {ask.resource!r} "
                                         "is a placeholder; render the template, then migrate", ask.container))
            continue
        if device_rule(ask.resource, ctx.tables) is None:
            continue
        if ask.count is None:
            raw = str(ask.raw)
            what = "a placeholder" if is_placeholder(raw, ctx.tables) else "not a whole number"
            yield plan.block(ctx.finding(CODE, Status.SKIPPED,
                                         f"container {ask.container!r}: {ask.resource} count {raw!r} is "
                                         f"{what}; render it, then migrate", ask.container))
        elif ask.mismatch:
            yield plan.block(ctx.finding(CODE, Status.SKIPPED,
                                         f"container {ask.container!r}: {ask.resource} limits and requests "
                                         "differ (the API requires them equal); fix the manifest first", ask.container))
