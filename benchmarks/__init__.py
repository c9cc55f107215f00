"""Benchmarks for dra-migrate: `python -m benchmarks` (see BENCHMARKS.md)."""
