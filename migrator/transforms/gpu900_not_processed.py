"""GPU900 not-processed: an input or a layout that could not be handled safely.

## What it does
Reports a pod the splicer would not edit (a key that shares its line with a sequence dash, a
flow collection with comments or anchors, more than 32 requests or devices in one claim, a
workload without a literal name), a file whose edited text did not verify, and a symlink not
followed. The pod or file is left exactly as it was.

## Why
A partial or guessed edit is worse than none: the contract is that every byte outside the
edited spans stays, and that a migrated pod gets the same devices.

## Example
    - nvidia.com/gpu: 1     # a resources map written as a sequence item

## Fix safety
No fix: reported as *needs manual action* (or *skipped* for symlinks).
"""

from __future__ import annotations

from migrator.model import FixSafety

CODE = "GPU900"
NAME = "not-processed"
SUMMARY = "layouts the splicer will not edit safely, failed verification, symlinks not followed"
FIX = FixSafety.NONE
