"""Run the benchmarks and print the ratios the scale issue asks for.

    python -m benchmarks              # everything (a few minutes on 2 cores)
    python -m benchmarks repo check   # some of: repo, check, plan, memory
    python -m benchmarks --quick      # smaller inputs, for a smoke run

Each measurement runs in fresh subprocesses (imports, caches and memory are not shared) and is
compared with its baseline measured side by side in the same run:

- repo:   ``dra-migrate rewrite --write`` over a 10,000-file repo, against the time PyYAML's C
          loader (libyaml) takes just to parse every file of the same repo (required <= 1.0, aim <= 0.5);
- check:  ``dra-migrate rewrite --check`` on one file, against a bare typer command that only
          parses the same file with the C loader (benchmarks/bare_typer.py; required <= 1.5x);
- plan:   the planner on 5,000 workloads / 1,000 nodes, and its growth when the input doubles (<= 2.2x);
- memory: peak RSS of ``rewrite --write`` at 1,000 and 10,000 files (flat).
- bigfile: one file of 1,000 / 2,000 / 4,000 GPU Deployments, ``rewrite --write`` and the diff,
          against the C loader's parse of the same file, and the growth when the file doubles (linear: ~2x).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXE = str(Path(sys.executable).parent / "dra-migrate")
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def child_json(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=ENV,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (KiB, the largest process of the tree) of a command."""
    code = ("import json, resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "dt = time.perf_counter() - t\n"
            "print(json.dumps({'s': dt, 'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'rc': p.returncode}))")
    r = child_json(code, *cmd)
    return r["s"], r["rss"]


PARSE_ALL = r"""
import json, sys, time
from pathlib import Path
import yaml
files = sorted(Path(sys.argv[1]).rglob("*.yaml"))
t = time.perf_counter()
for f in files:
    list(yaml.load_all(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
print(json.dumps({"seconds": time.perf_counter() - t, "files": len(files)}))
"""


def make_repo(files: int) -> Path:
    from benchmarks.repogen import generate

    root = Path(tempfile.mkdtemp(prefix="dra-bench-"))
    generate(root / "repo", files)
    return root / "repo"


def bench_repo(quick: bool) -> list[str]:
    files = 2000 if quick else 10_000
    repo = make_repo(files)
    base = child_json(PARSE_ALL, str(repo))["seconds"]
    runs = []
    for _ in range(1 if quick else 3):
        work = repo.parent / "work"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(repo, work)
        seconds, _ = timed([EXE, "rewrite", "--write", "-q", str(work)])
        runs.append(seconds)
    ours = statistics.median(runs)
    shutil.rmtree(repo.parent, ignore_errors=True)
    return [f"repo: {files} files: PyYAML C loader parse {base:.2f} s; rewrite --write {ours:.2f} s "
            f"(median of {len(runs)}); ratio {ours / base:.2f} (required <= 1.0, aim <= 0.5)"]


def bench_check(quick: bool) -> list[str]:
    repo = make_repo(40)
    one = next(p for p in sorted(repo.rglob("*.yaml")) if "nvidia.com/gpu" in p.read_text())
    n = 5 if quick else 15
    bare = [timed([sys.executable, str(HERE / "bare_typer.py"), str(one)])[0] for _ in range(n)]
    ours = [timed([EXE, "rewrite", "--check", "-q", str(one)])[0] for _ in range(n)]
    b, o = statistics.median(bare), statistics.median(ours)
    shutil.rmtree(repo.parent, ignore_errors=True)
    return [f"check: one file: bare typer + C-loader parse {b * 1000:.0f} ms; rewrite --check {o * 1000:.0f} ms "
            f"(medians of {n}); ratio {o / b:.2f} (required <= 1.5, aim <= 1.2)"]


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
    # Best of three per size: single runs on a shared 2-core machine varied 1.95x-2.68x in growth,
    # and the minimum is the run least disturbed by other load (as timeit's docs advise).
    results = [(w, n, min((child_json(PLAN_CHILD, str(w), str(n)) for _ in range(3)), key=lambda r: r["seconds"]))
               for w, n in sizes]
    lines = [f"plan: {w} workloads / {n} nodes: {r['seconds']:.2f} s (best of 3), {r['steps']} steps, proof "
             f"{'holds' if r['proof'] else 'FAILS'}" for w, n, r in results]
    growth = results[1][2]["seconds"] / results[0][2]["seconds"]
    lines.append(f"plan: growth when the input doubles: {growth:.2f}x (required <= 2.2x)")
    return lines


def bench_memory(quick: bool) -> list[str]:
    out = []
    rss = {}
    for files in ([500, 2000] if quick else [1000, 10_000]):
        repo = make_repo(files)
        _, kib = timed([EXE, "rewrite", "--write", "-q", str(repo)])
        rss[files] = kib
        shutil.rmtree(repo.parent, ignore_errors=True)
        out.append(f"memory: {files} files: peak RSS {kib / 1024:.0f} MiB")
    a, b = rss.values()
    out.append(f"memory: ratio {b / a:.2f} for {max(rss) // min(rss)}x the files (flat: close to 1)")
    return out


PARSE_ONE = r"""
import json, sys, time
import yaml
text = open(sys.argv[1], encoding="utf-8").read()
t = time.perf_counter()
list(yaml.load_all(text, Loader=yaml.CSafeLoader))
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def bench_bigfile(quick: bool) -> list[str]:
    from benchmarks.bigfile import write

    sizes = [500, 1000, 2000] if quick else [1000, 2000, 4000]
    tmp = Path(tempfile.mkdtemp(prefix="dra-bench-big-"))
    lines: list[str] = []
    prev: dict[str, float] = {}
    for n in sizes:
        src = write(tmp / f"big{n}.yaml", n)
        base = min(child_json(PARSE_ONE, str(src))["seconds"] for _ in range(3))
        row = {}
        for label, args in (("write", ["--write"]), ("diff", [])):
            best = float("inf")
            for _ in range(3):  # best of three: the least disturbed run on a shared machine
                work = tmp / f"work{n}.yaml"
                shutil.copyfile(src, work)
                best = min(best, timed([EXE, "rewrite", "-q", *args, str(work)])[0])
            row[label] = best
        growth = "".join(f", {k} growth {row[k] / prev[k]:.2f}x" for k in row if k in prev)
        lines.append(f"bigfile: {n} Deployments in one file: C-loader parse {base:.2f} s; rewrite --write "
                     f"{row['write']:.2f} s ({row['write'] / base:.1f}x), diff {row['diff']:.2f} s "
                     f"({row['diff'] / base:.1f}x){growth} (linear: ~2x per doubling)")
        prev = row
    shutil.rmtree(tmp, ignore_errors=True)
    return lines


BENCHES = {"repo": bench_repo, "check": bench_check, "plan": bench_plan, "memory": bench_memory, "bigfile": bench_bigfile}


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", help=f"any of {', '.join(BENCHES)} (default: all)")
    ap.add_argument("--quick", action="store_true", help="smaller inputs")
    args = ap.parse_args()
    unknown = [w for w in args.which if w not in BENCHES]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}", flush=True)
    for name in args.which or list(BENCHES):
        t = time.perf_counter()
        for line in BENCHES[name](args.quick):
            print(line, flush=True)
        print(f"({name}: {time.perf_counter() - t:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
