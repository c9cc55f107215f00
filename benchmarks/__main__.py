"""Run the benchmarks and print the ratios the scale issue asks for.

    python -m benchmarks            # everything (a few minutes on 2 cores)
    python -m benchmarks plan       # only the planner
    python -m benchmarks --quick    # smaller inputs, for a smoke run

Each measurement runs in a fresh subprocess (so imports, caches and memory are not shared) and
is compared with its baseline measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run_child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PLAN_CHILD = r"""
import gc, json, sys, time
from benchmarks.plangen import cluster
from migrator.cluster import snapshot_from_objects
from migrator.mode import Mode
from migrator.plan.build import build_plan
gc.set_threshold(200_000, 100, 100)   # as the CLI does
w, n = int(sys.argv[1]), int(sys.argv[2])
files, objs = cluster(w, n)
snap = snapshot_from_objects(objs)
t = time.perf_counter()
plan = build_plan(files, snap, Mode())
print(json.dumps({"seconds": time.perf_counter() - t, "proof": plan.proof.ok, "steps": len(plan.steps)}))
"""


def bench_plan(quick: bool) -> list[str]:
    sizes = [(1250, 250), (2500, 500)] if quick else [(2500, 500), (5000, 1000)]
    results = []
    for w, n in sizes:
        r = run_child(PLAN_CHILD, str(w), str(n))
        results.append((w, n, r))
    lines = [f"plan {w} workloads / {n} nodes: {r['seconds']:.2f} s, {r['steps']} steps, proof "
             f"{'holds' if r['proof'] else 'FAILS'}" for w, n, r in results]
    growth = results[1][2]["seconds"] / results[0][2]["seconds"]
    lines.append(f"plan growth when the input doubles: {growth:.2f}x (required <= 2.2x)")
    return lines


BENCHES = {"plan": bench_plan}


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("which", nargs="*", choices=[[], *BENCHES], default=[])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")
    for name in args.which or list(BENCHES):
        t = time.perf_counter()
        for line in BENCHES[name](args.quick):
            print(line, flush=True)
        print(f"({name}: {time.perf_counter() - t:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
