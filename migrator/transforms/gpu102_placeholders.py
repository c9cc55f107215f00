"""GPU102 placeholders: do not convert counts or resource names that are still templates.

## What it does
Skips a pod when a GPU count (``$GPU_PER_NODE``, ``${N}``, ``{{ .Values.gpus }}``) or a resource
name (``{{ $gpuType }}``, ``FILLED_BY_VALIDATOR``) is a placeholder, and, with the true reason,
when the API server would reject or read differently the counts as written: a count that is not
a Kubernetes quantity (``true``, ``two``), is negative, is not a whole number (``1.5``, ``500m``),
or carries a YAML tag (``!custom 2``); a GPU only in ``requests`` (the API requires a limit for an
extended resource); ``limits`` and ``requests`` that differ.

Counts are read as the API server reads quantities (migrator/k8s/quantity.py): ``2``, ``"2"``,
``2.0``, ``2000m``, ``1e0``, ``"2e0"`` are all 2 and convert to ``count: 2``. A binary suffix is
read as the API server reads it, a whole number (``1Ki`` is 1024 GPUs, ``"32"`` is 32): never
"not a number"; a count above the 32 devices one claim can hold is then reported (GPU900),
never converted to a smaller one.

## Why
The DRA ``count`` must be the number the pod held, and the device class depends on the resource
name. Guessing either could change how many or which devices the pod gets. A pod the API server
rejects never ran: converting it would hide the error. Render templates first (Helm
post-renderer, envsubst) and run on the output. Sources: k8s.io/apimachinery pkg/api/resource
quantity.go (``ParseQuantity``); k8s.io/kubernetes pkg/apis/core/validation/validation.go
(``ValidateResourceQuantityValue``: an extended resource "must be an integer";
``ValidateResourceRequirements``: "Limit must be set for non overcommitable resources", and a
request "must be equal to" the limit).

## Example
    limits: {nvidia.com/gpu: $GPU_PER_NODE}

## Fix safety
No fix: reported as *skipped* with the reason.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.tables import is_placeholder
from migrator.transforms.base import Intent, PodContext, PodPlan, block, device_rule

CODE = "GPU102"
NAME = "placeholders"
SUMMARY = "GPU counts or names that are placeholders, or that the API server rejects, are reported, not guessed"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    for ask in ctx.asks:
        if is_placeholder(ask.resource, ctx.tables) and ask.resource not in ctx.tables.hami_resources:
            yield block(ctx.finding(CODE, Status.SKIPPED,
                                         f"container {ask.container!r}: resource name {ask.resource!r} "
                                         "is a placeholder; render the template, then migrate", ask.container))
            continue
        if device_rule(ask.resource, ctx.tables) is None:
            continue
        if ask.count is None:
            raw = str(ask.raw)
            if is_placeholder(raw, ctx.tables):
                why = f"count {raw!r} is a placeholder; render it, then migrate"
            else:
                why = f"{ask.problem}; fix the manifest first"
            yield block(ctx.finding(CODE, Status.SKIPPED,
                                         f"container {ask.container!r}: {ask.resource} {why}", ask.container))
        elif not ask.in_limits:
            yield block(ctx.finding(CODE, Status.SKIPPED,
                                         f"container {ask.container!r}: {ask.resource} is only in requests; the API "
                                         "requires a limit for an extended resource (\"Limit must be set for non "
                                         "overcommitable resources\"): set it in limits, then migrate", ask.container))
        elif ask.mismatch:
            yield block(ctx.finding(CODE, Status.SKIPPED,
                                         f"container {ask.container!r}: {ask.resource} limits and requests "
                                         "differ (the API requires them equal); fix the manifest first", ask.container))
