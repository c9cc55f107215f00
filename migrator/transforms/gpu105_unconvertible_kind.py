"""GPU105 unconvertible-kind: find GPU pod specs in kinds we must not rewrite, and say why.

## What it does
Reports GPU requests in pod specs of kinds marked ``convert: false`` in ``rules/workloads.yaml``
(Argo templates, KServe InferenceService predictors, Knative Services) and in kinds missing
from the table that embed a pod spec (found by shape). ``--convert-unknown`` converts the
latter anyway.

## Why
An operator copies into its pods only the fields its CRD schema knows; an older schema prunes
``resourceClaims`` silently, and the pod would start with no GPU at all. For kinds whose
"container" is not a pod spec there is nowhere to put the claim.

## Example
    kind: Workflow   # argoproj.io: spec.templates[].container.resources.limits

## Fix safety
No fix: reported as *needs manual action* with the reason.
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU105"
NAME = "unconvertible-kind"
SUMMARY = "GPU pod specs in kinds that cannot carry resourceClaims (or are unknown) are reported"
FIX = FixSafety.NONE


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    ref = ctx.ref
    if ref.convert or (not ref.known and ctx.mode.convert_unknown):
        return
    if not any(a.count for a in ctx.gpu_asks()) and not any(
            a.resource in ctx.tables.shared_resources for a in ctx.asks):
        return
    yield block(ctx.finding(CODE, Status.MANUAL, f"not converted: {ref.reason}"))
