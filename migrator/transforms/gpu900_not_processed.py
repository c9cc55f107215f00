"""GPU900 not-processed: an input or a layout that could not be handled safely.

## What it does
Reports a pod whose manifest has a field of a type the API would reject, among those the rules,
``verify`` and ``plan`` read (``nodeSelector`` a string, ``limits`` a list, a null container,
``replicas: two``, a pod template that is a list), naming the field. Reports a pod the splicer
would not edit (a key that shares its line with a sequence dash, a flow collection with comments
or anchors, more than 32 requests or devices in one claim, a workload without a literal name), a
file whose edited text did not verify, a pod the tool failed on unexpectedly, and a symlink not
followed. The pod or file is left exactly as it was; the other pods and files are still processed.

## Why
A partial or guessed edit is worse than none: the contract is that every byte outside the
edited spans stays, and that a migrated pod gets the same devices. A field of the wrong type
reads as absent to a lenient reader: a ``nodeSelector`` that is a string would be "no node
selection", and the pod could be converted to a claim that any GPU satisfies.

## Example
    - nvidia.com/gpu: 1     # a resources map written as a sequence item
    nodeSelector: "nvidia.com/gpu.product=A100"   # a string, not a mapping

## Fix safety
No fix: reported as *needs manual action* (or *skipped* for symlinks).
"""

from __future__ import annotations

from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan, block

CODE = "GPU900"
NAME = "not-processed"
SUMMARY = "wrongly typed fields, layouts the splicer will not edit safely, failed verification, symlinks"
FIX = FixSafety.NONE


def shape_message(problem_message: str, what: str = "converted") -> str:
    return f"not {what}: {problem_message} (the API server would reject it); fix the manifest, then run again"


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    p = ctx.shape
    if p is None:
        return
    yield block(Finding(CODE, Status.MANUAL, shape_message(p.message), ctx.path, p.line or ctx.ref.line,
                             ctx.ref.obj.ref, ctx.ref.where))
