"""GPU000 converted: a pod template whose device-plugin GPUs became a DRA claim.

## What it does
Reports each pod template the rewrite converted (``dra-migrate codemod``: each pod spec built in
Python), naming the ResourceClaimTemplate (or, with ``--sharing``, the shared ResourceClaim) it
now uses and every request in it: ``converted to ResourceClaimTemplate web-gpu-1a2b3c4d (main: 1 x
gpu.nvidia.com)``. It is the summary of the converters (GPU001-GPU011) for that pod, written
once after all of them ran and the edit was spliced; notes of its own (GPU003, GPU008, ...) may
follow it. A pod that could not be edited, or whose file failed verification, gets GPU900
instead: GPU000 means the new text exists and was checked.

## Why
A reviewer (and ``scan --fail-on any``, SARIF, the PR preview) needs one line per converted
workload saying what it now asks for, not only the pods that were left alone.

## Example
    resources: {limits: {nvidia.com/gpu: 1}}
Use instead:
    resources: {claims: [{name: gpu, request: main}]}   # + resourceClaims and the template

## Fix safety
Safe: the converters it summarises keep the devices the pod holds (`dra-migrate verify` proves it
on a cluster snapshot).
"""

from __future__ import annotations

from migrator.model import FixSafety

CODE = "GPU000"
NAME = "converted"
SUMMARY = "a pod template converted to a DRA claim (names the template and its requests)"
FIX = FixSafety.SAFE
