"""GPU007 runtime-hints: report GPU access that bypasses requests.

## What it does
Reports ``NVIDIA_VISIBLE_DEVICES=all`` in a container's env, ``runtimeClassName: nvidia`` and
CDI device annotations (``cdi.k8s.io/*``, ``management.nvidia.com/gpu``) on GPU pods: pods that ask
the device plugin for GPUs, and pods that already hold DRA claims (so the finding is the same before
and after ``rewrite --write``: the hint is still there, and still needs the decision).

## Why
These give a container GPUs outside the device plugin's (and DRA's) accounting: ``all`` overrides
isolation under both, and the runtime class may or may not still be needed with the DRA driver's
CDI injection. Someone has to decide (corpus README "Environment variables").

## Example
    env: [{name: NVIDIA_VISIBLE_DEVICES, value: all}]

## Fix safety
No fix: reported as *needs manual action* (the pod's GPU requests are still converted).
"""

from __future__ import annotations

from typing import Any, Iterable

from yaml.nodes import ScalarNode

from migrator.text.documents import get, items, str_at
from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import Intent, PodContext, PodPlan

CODE = "GPU007"
NAME = "runtime-hints"
SUMMARY = "NVIDIA_VISIBLE_DEVICES=all, runtimeClassName nvidia and CDI annotations need a decision"
FIX = FixSafety.NONE


_HINTS: dict[int, tuple[Any, Any]] = {}  # id(profiles) -> (profiles, merged runtimeHints)


def _hints(ctx: PodContext) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], frozenset[str], tuple[str, ...]]:
    """Every profile's ``runtimeHints``: (env pairs, runtimeClassContains, annotations, annotationPrefixes)."""
    vendors = ctx.tables.vendors
    kept = _HINTS.get(id(vendors))
    if kept is None or kept[0] is not vendors:
        hs = [p.runtime_hints for p in (vendors.profiles if vendors is not None else ()) if p.runtime_hints]
        merged = (tuple(dict.fromkeys(e for h in hs for e in h.env)),
                  tuple(dict.fromkeys(h.runtime_class_contains for h in hs if h.runtime_class_contains)),
                  frozenset(a for h in hs for a in h.annotations),
                  tuple(dict.fromkeys(x for h in hs for x in h.annotation_prefixes)))
        if len(_HINTS) >= 4:  # a run has one set of profiles; tests load many
            _HINTS.clear()
        kept = _HINTS[id(vendors)] = (vendors, merged)
    return kept[1]


def has_claims(ctx: PodContext) -> bool:
    """The pod already asks DRA for devices (a converted pod, or one written for DRA)."""
    return bool(items(get(ctx.pod, "resourceClaims")))


def runtime_hints(ctx: PodContext) -> bool:
    """Any hint that bypasses requests, without building the messages (the engine's pre-filter)."""
    env_hints, classes, _, _ = _hints(ctx)
    rc = get(ctx.pod, "runtimeClassName")
    if isinstance(rc, ScalarNode) and any(x in str(rc.value) for x in classes):
        return True
    return any((str_at(env, "name"), str_at(env, "value")) in env_hints
               for c in ctx.containers for env in items(get(c.node, "env")))


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding | Intent]:
    env_hints, classes, annotations, prefixes = _hints(ctx)
    hints: list[str] = []
    named: set[str] = set()
    for c in ctx.containers:
        for env in items(get(c.node, "env")):
            pair = (str_at(env, "name"), str_at(env, "value"))
            if pair in env_hints:
                hints.append(f"container {c.name!r} sets {pair[0]}={pair[1]}")
                named.add(c.name)
    container_hints = len(hints)
    rc = get(ctx.pod, "runtimeClassName")
    if isinstance(rc, ScalarNode) and any(x in str(rc.value) for x in classes):
        hints.append(f"runtimeClassName: {rc.value}")
    cdi = sorted(k for k in ctx.annotations if k.startswith(prefixes) or k in annotations)
    hints += [f"CDI annotation {k}" for k in cdi]
    if not hints or not (plan.requests or cdi or has_claims(ctx)):
        return
    one = next(iter(named)) if len(named) == 1 and len(hints) == container_hints else None
    yield ctx.finding(CODE, Status.MANUAL, "; ".join(hints) + ": GPU access outside requests, decide whether "
                      "it is still needed under DRA", one)
