"""GPU009 mig-single: ``nvidia.com/gpu`` on single-strategy MIG nodes becomes a MIG device of that profile.

## What it does
When the pod selects nodes by a GFD product label of the form ``<product>-MIG-<profile>``
(``nodeSelector`` or a one-term required affinity with ``In`` and one value), the whole-GPU
requests made by GPU001/GPU004 become ``mig.nvidia.com`` requests with selectors on
``profile == '<profile>'`` and on the parent's ``productName``; GPU008 then drops the label.

## Why
Under the device plugin's *single* MIG strategy every MIG device is advertised as
``nvidia.com/gpu`` and GFD appends ``-MIG-<profile>`` to ``nvidia.com/gpu.product``
(dra-api.md §5.1, §5.3). Under DRA the same slice is a ``mig.nvidia.com`` device whose
``profile`` attribute is that profile and whose ``productName`` is the parent GPU's
(NVIDIA DRA driver v25.12 ``deviceinfo.go``). A ``gpu.nvidia.com`` request would take a whole
GPU instead of a slice.

## Example
    nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3-MIG-1g.10gb}
    resources: {limits: {nvidia.com/gpu: 1}}
Use instead: a request ``{exactly: {deviceClassName: mig.nvidia.com, count: 1, selectors:
[profile == '1g.10gb' && productName (dashes) == 'NVIDIA-H100-80GB-HBM3']}}``

## Fix safety
Safe: the same slice, on the same GPU model.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable

from migrator.model import Finding, FixSafety, Status
from migrator.transforms.base import PodContext, PodPlan

CODE = "GPU009"
NAME = "mig-single"
SUMMARY = "nvidia.com/gpu on single-strategy MIG nodes (-MIG-<profile> product label) -> mig.nvidia.com"
FIX = FixSafety.SAFE

_MIG_PRODUCT = re.compile(r"^(?P<parent>[A-Za-z0-9][A-Za-z0-9._-]*?)-MIG-(?P<profile>(?:\d+c\.)?\d+g\.\d+gb(?:[+-][a-z.]+)?)$")


def single_strategy_product(ctx: PodContext) -> tuple[str, str] | None:
    values = {v for label, v in ctx.node_selection if label == "nvidia.com/gpu.product" and "-MIG-" in v}
    if len(values) != 1:
        return None
    m = _MIG_PRODUCT.match(next(iter(values)))
    return (m.group("parent"), m.group("profile")) if m else None


def check(ctx: PodContext, plan: PodPlan) -> Iterable[Finding]:
    if not any(label == "nvidia.com/gpu.product" and "-MIG-" in v for label, v in ctx.node_selection):
        return
    found = single_strategy_product(ctx)
    if found is None:
        yield plan.block(ctx.finding(CODE, Status.MANUAL,
                                     "node selection names several or unparseable -MIG- products; "
                                     "choose the MIG profile by hand"))
        return
    parent, profile = found
    from migrator.selection import A, q

    selectors = (f"('profile' in {A} && {A}.profile == {q(profile)})",
                 f"('productName' in {A} && {A}.productName.replace(' ', '-') == {q(parent)})")
    plan.requests = [dataclasses.replace(r, device_class="mig.nvidia.com", selectors=r.selectors + selectors)
                     if r.device_class == "gpu.nvidia.com" else r for r in plan.requests]
    plan.mig_single = True
    yield ctx.finding(CODE, Status.INFO, f"single-strategy MIG: nvidia.com/gpu here is a {profile} slice of "
                                         f"{parent}; requested from mig.nvidia.com")
