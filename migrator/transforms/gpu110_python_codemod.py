"""GPU110 python-codemod: Python that builds pod specs with device-plugin GPUs (``dra-migrate codemod``).

## What it does
Rewrites kubernetes-client objects (``V1ResourceRequirements`` in a ``V1Container`` in, or named
in, a ``V1PodSpec``) and plain dict pod specs whose GPU counts are literals, as ``rewrite`` does
for YAML, and writes the ResourceClaimTemplates beside the module. Reports every other GPU
mention with file:line: counts in variables, helpers (KFP ``set_gpu_limit``,
``set_accelerator_limit``, ``add_resource_limit``; hera ``Resources(gpus=...)``), GPU init
containers, tolerations or claims that are not list literals.

## Why
Pipelines and operators build pods in code; a YAML-only migration misses them. Guessing a
value the code computes at run time could change how many GPUs a pod gets.

## Example
    client.V1ResourceRequirements(limits={"nvidia.com/gpu": 2})
Use instead: ``claims=[client.CoreV1ResourceClaim(name="gpu", request="trainer")]`` and, on the
pod spec, ``resource_claims=[client.V1PodResourceClaim(...)]``.

## Fix safety
Safe for what it converts; the rest is reported (*needs manual action*).
"""

from __future__ import annotations

from migrator.model import FixSafety

CODE = "GPU110"
NAME = "python-codemod"
SUMMARY = "Python pod specs (kubernetes client models, dicts) with literal GPU counts; the rest reported"
FIX = FixSafety.SAFE
