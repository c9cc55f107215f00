"""Rollout planning: the order of templates, node cut-overs and workload switches (rollout-model.md §8)."""
