"""Kubernetes objects as data: where the pod specs are (locate, podspec), one object reference
for before/after pairs (pairing), quantities, tolerations, node selection -> CEL (selection),
the CEL subset (cel) and schema checks (validate)."""
