"""Run the benchmarks of issue 13 and print each figure as a ratio to its floor, with its bar.

    python -m benchmarks                    # every row (tens of minutes on 2 cores: the planner at 40k)
    python -m benchmarks repo check plan    # some rows (names below)
    python -m benchmarks --quick            # smaller inputs, a smoke run (about a minute)
    python -m benchmarks --markdown         # the closing summary as a Markdown table

Rows (each command runs in fresh subprocesses, its floor or anchor side by side in the same run,
and the floor scripts are in this file):

- repo:    ``rewrite --write`` on a synthetic 10,000-file repo (10% GPU) / libyaml ``load_all`` of
           every file (bar <= 0.6, aim <= 0.4); also the floor (prefilter + parse + write the
           changed files, one core) and ``-j 1``.
- real:    the same on ``../shared/corpus``'s manifests copied 50 times (~8,650 files) (bar <= 1.0,
           aim <= 0.7); floor: parse every file + write the changed, one core. Skipped without the corpus.
- bigfile: one file of 16,000 and one of 4,000 GPU Deployments (--quick: 4,000 and 1,000):
           ``--write`` and the diff; per-pod cost when the file grows 4x (linear: bar <= 1.25x) and
           against as many one-pod files (aim <= 1.1x: the same cost per pod); peak RSS.
- check:   ``rewrite --check`` on one GPU file / python + libyaml parse of that file (bar <= 5x,
           aim <= 3x); beside a bare typer command (benchmarks/bare_typer.py).
- commit:  the pre-commit hook (``rewrite --write``) on 5 files without GPUs / python + parse
           (bar <= 3x, aim <= 2x); beside python + read.
- plan:    the planner at 5k/10k/20k/40k workloads (1 node per 5), in process and through the CLI:
           5k <= 5 s (aim 2 s), growth per doubling <= 2.1x (aim 2.05x). --quick: 500/1,000/2,000.
- memory:  peak RSS of ``rewrite --write`` at 1,000 and 10,000 files, auto-parallel and ``-j 1``
           (bar <= 1.2x, aim <= 1.05x: flat).
- codemod: ``codemod`` on the corpus' Python files (bar <= 1 s, aim <= 0.5 s); beside python +
           import libcst + parse them. Skipped without the corpus.

A command that runs past --timeout seconds is killed (its whole process group) and its row reads
"over bar (timed out at N s)". Short rows are medians of several runs (--quick: fewer); the planner rows are the
best of N (the least disturbed run on a shared machine, as timeit's docs advise).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT.parent / "shared" / "corpus"  # as tests/paths.py: ../shared relative to the repo
EXE = str(Path(sys.executable).parent / "dra-migrate")
PY = sys.executable
# As installed: a pip install (or pre-commit's) leaves bytecode next to the modules, so the commands
# run with it. A shell that sets PYTHONDONTWRITEBYTECODE would otherwise time compiling every
# module from source on every start (the hook rows were 1.3-1.4x high for that).
ENV = {k: v for k, v in dict(os.environ, PYTHONPATH=str(ROOT)).items() if k != "PYTHONDONTWRITEBYTECODE"}
RULES = ROOT / "rules" / "resources.yaml"  # the triggers of the rewrite's pre-filter (data, not code)


# ---------------------------------------------------------------------------------------------
# Running commands


class TimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out at {seconds:.0f} s")
        self.seconds = seconds


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_kib: int  #: peak RSS of the largest process of the tree (workers included)
    rc: int
    stdout: str
    cpu: float = 0.0  #: user + system seconds of the tree (less disturbed by other load than wall time)


#: Starts the command, times it and writes its rusage to argv[1]. A small fresh process of its own:
#: Linux counts the memory of the process that forked and exec'd a command in the command's
#: ru_maxrss (exec_mmap records the old mm's high-water mark), so a command started straight
#: from this benchmark, grown to hundreds of MiB by the planner's inputs, would report as much.
LAUNCH = r"""
import json, os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
seconds = time.perf_counter() - t
with open(sys.argv[1], "w") as fh:
    json.dump({"s": seconds, "rss": ru.ru_maxrss, "rc": os.waitstatus_to_exitcode(status),
               "cpu": ru.ru_utime + ru.ru_stime}, fh)
"""


def run(cmd: list[str], timeout: float) -> Run:
    """Wall time, CPU time and peak RSS of a command; past ``timeout`` its whole process group is killed.

    The command's own wait4 rusage (from LAUNCH): Linux folds the children it reaped (the
    workers) into ru_maxrss, so the figure is the largest process of the tree."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r", suffix=".json") as usage:
        p = subprocess.Popen([PY, "-c", LAUNCH, usage.name, *cmd], stdout=out, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, cwd=ROOT, env=ENV, start_new_session=True)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            _killpg(p.pid)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            p.wait()
        except BaseException:
            _killpg(p.pid)
            raise
        finally:
            timer.cancel()
        _killpg(p.pid)  # workers a killed or crashed command left behind
        if expired.is_set():
            raise TimedOut(timeout)
        u = json.loads(usage.read())
        out.seek(0)
        return Run(u["s"], u["rss"], u["rc"], out.read().decode("utf-8", "replace"), u["cpu"])


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def child_json(code: str, *args: str, timeout: float) -> dict:
    """Run a Python snippet in a fresh interpreter; its last stdout line is JSON."""
    r = run([PY, "-c", code, *args], timeout)
    if r.rc != 0:
        raise RuntimeError(f"benchmark child failed (exit {r.rc}): {code.strip().splitlines()[0]} ...")
    return json.loads(r.stdout.strip().splitlines()[-1])


def interleaved(commands: dict[str, Callable[[], float]], n: int) -> dict[str, float]:
    """Median of n runs of each, taken in turn so that a burst of load hits them alike."""
    runs: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(n):
        for k, f in commands.items():
            runs[k].append(f())
    return {k: statistics.median(v) for k, v in runs.items()}


# ---------------------------------------------------------------------------------------------
# Rows and verdicts


@dataclass(frozen=True)
class Row:
    key: str
    what: str
    value: float | None = None  #: the judged figure (a ratio, or seconds when unit is " s")
    unit: str = ""
    detail: str = ""
    bar: float | None = None
    aim: float | None = None
    timed_out: float | None = None
    skipped: str | None = None
    info: bool = False  #: a figure printed beside the rows, not judged

    def figure(self) -> str:
        if self.skipped is not None:
            return "—"
        if self.timed_out is not None:
            return f"> {self.timed_out:.0f} s"
        return f"{self.value:.2f}{self.unit}" if self.value is not None else ""

    def bounds(self) -> str:
        def f(v: float | None) -> str:
            return "—" if v is None else f"≤ {v:g}{self.unit}"
        return f"bar {f(self.bar)}, aim {f(self.aim)}"


def verdict(row: Row) -> str:
    if row.skipped is not None:
        return f"skipped ({row.skipped})"
    if row.timed_out is not None:
        return f"over bar (timed out at {row.timed_out:.0f} s)"
    if row.value is None or (row.bar is None and row.aim is None):
        return ""
    if row.bar is not None and row.value > row.bar:
        return "OVER BAR"
    if row.aim is None:
        return "PASS"
    reached = row.value <= row.aim
    if row.bar is None:
        return "aim reached" if reached else "aim not reached"
    return "PASS, aim reached" if reached else "PASS (aim not reached)"


def render(row: Row) -> str:
    if row.info:
        return f"{'':9}{row.what}: {row.detail}"
    if row.skipped is not None:
        return f"{row.key:<9}{row.what}: {verdict(row)}"
    detail = f": {row.detail}" if row.detail else ""
    return f"{row.key:<9}{row.what}{detail} -> {row.figure()}   [{row.bounds()}]   {verdict(row)}"


# ---------------------------------------------------------------------------------------------
# Inputs


_repos: dict[tuple[str, int], Path] = {}
_scratch: list[Path] = []


def scratch() -> Path:
    """This run's temporary directory (made on first use, removed at the end of main)."""
    if not _scratch:
        _scratch.append(Path(tempfile.mkdtemp(prefix="dra-bench-")))
    return _scratch[0]


def synthetic(files: int) -> Path:
    """The synthetic repo of ``files`` files (generated once per run; never written to)."""
    key = ("synthetic", files)
    if key not in _repos:
        from benchmarks.repogen import generate

        generate(scratch() / f"synthetic-{files}", files)
        _repos[key] = scratch() / f"synthetic-{files}"
    return _repos[key]


def corpus_manifests() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def real(copies: int) -> Path:
    """The corpus' manifests copied ``copies`` times under copy-NN/ (paths kept inside each copy)."""
    key = ("real", copies)
    if key not in _repos:
        dst = scratch() / f"real-{copies}"
        for src in corpus_manifests():
            rel = src.relative_to(CORPUS)
            for c in range(copies):
                target = dst / f"copy-{c:02d}" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
        _repos[key] = dst
    return _repos[key]


def fresh(repo: Path) -> Path:
    """A scratch copy of ``repo`` for a run that writes."""
    work = scratch() / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(repo, work)
    return work


def manifests(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def changes_of(repo: Path, timeout: float) -> tuple[Path, int]:
    """What ``rewrite --write`` changes in ``repo``: a JSON file {relative path: new text} for the
    floor script (which then writes the same files with the same bytes), and how many."""
    work = fresh(repo)
    run([EXE, "rewrite", "--write", "-q", str(work)], timeout)
    changed = {}
    for f in manifests(work):
        rel = str(f.relative_to(work))
        new = f.read_bytes()
        if new != (repo / rel).read_bytes():
            changed[rel] = new.decode("utf-8")
    out = scratch() / f"changes-{repo.name}.json"
    out.write_text(json.dumps(changed), encoding="utf-8")
    return out, len(changed)


# ---------------------------------------------------------------------------------------------
# Floor and anchor scripts (each times its own loop; walking the tree is outside the clock)


LOAD_ALL = r"""
import json, sys, time
from pathlib import Path
import yaml
files = sorted(p for p in Path(sys.argv[1]).rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
t = time.perf_counter()
for f in files:
    try:
        list(yaml.load_all(f.read_text(encoding="utf-8", errors="replace"), Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        pass  # a Helm template in the corpus: the rewrite reports it, the anchor skips it
print(json.dumps({"seconds": time.perf_counter() - t, "files": len(files)}))
"""

#: Read every file; with the pre-filter, parse only those holding a trigger string; parse the rest
#: with libyaml; write the files the rewrite changes (same bytes), atomically as the tool does
#: (temp file in the same directory, then rename). One process, one core.
FLOOR_WRITE = r"""
import json, os, sys, tempfile, time
from pathlib import Path
import yaml
root, changed, prefilter = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), sys.argv[3] == "1"
triggers = tuple(yaml.safe_load(Path(sys.argv[4]).read_text())["triggers"])
files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
t = time.perf_counter()
for f in files:
    text = f.read_text(encoding="utf-8", errors="replace")
    if prefilter and not any(s in text for s in triggers):
        continue
    try:
        list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        pass
    new = changed.get(str(f.relative_to(root)))
    if new is not None:
        fd, tmp = tempfile.mkstemp(dir=f.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        os.replace(tmp, f)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

#: python + a libyaml parse of the files given (the whole process is timed from outside)
PARSE_FILES = ("import sys, yaml\nfor f in sys.argv[1:]:\n"
               "    list(yaml.load_all(open(f, encoding='utf-8').read(), Loader=yaml.CSafeLoader))")
#: python + reading the files given
READ_FILES = "import sys\nfor f in sys.argv[1:]:\n    open(f, encoding='utf-8').read()"
#: python + import libcst + libcst's parse of the files given
CST_PARSE = "import sys, libcst\nfor f in sys.argv[1:]:\n    libcst.parse_module(open(f, encoding='utf-8').read())"

PARSE_ONE = r"""
import json, sys, time
import yaml
text = open(sys.argv[1], encoding="utf-8").read()
t = time.perf_counter()
list(yaml.load_all(text, Loader=yaml.CSafeLoader))
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

PLAN_CHILD = r"""
import gc, json, sys, time
from benchmarks.plangen import cluster
from migrator.proof.cluster import snapshot_from_objects
from migrator.mode import Mode
from migrator.plan.build import build_plan
gc.set_threshold(200_000, 100, 100)   # as the CLI does
w, n = int(sys.argv[1]), int(sys.argv[2])
files, objs = cluster(w, n)
snap = snapshot_from_objects(objs)
t, c = time.perf_counter(), time.process_time()
plan = build_plan(files, snap, Mode())
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c, "proof": plan.proof.ok,
                  "steps": len(plan.steps)}))
"""


# ---------------------------------------------------------------------------------------------
# The rows


@dataclass(frozen=True)
class Opts:
    quick: bool
    timeout: float


def _n(quick: bool, full: int, short: int) -> int:
    return short if quick else full


def _write_rows(key: str, what: str, repo: Path, prefilter: bool, floor_name: str, bar: float, aim: float,
                o: Opts) -> Iterator[Row]:
    """rewrite --write (auto and -j 1) and the floor, each / libyaml load_all of the same repo."""
    files = len(manifests(repo))
    try:
        changes, n_changed = changes_of(repo, o.timeout)
        def anchor() -> float:
            return float(child_json(LOAD_ALL, str(repo), timeout=o.timeout)["seconds"])

        def floor() -> float:
            return float(child_json(FLOOR_WRITE, str(fresh(repo)), str(changes), "1" if prefilter else "0",
                                    str(RULES), timeout=o.timeout)["seconds"])

        def ours(*j: str) -> float:
            return run([EXE, "rewrite", "--write", "-q", *j, str(fresh(repo))], o.timeout).seconds
        rounds = _n(o.quick, 3, 1)
        m = interleaved({"anchor": anchor, "floor": floor, "auto": ours, "j1": lambda: ours("-j", "1")}, rounds)
    except TimedOut as exc:
        yield Row(key, what, timed_out=exc.seconds, bar=bar, aim=aim)
        return
    a = m["anchor"]
    yield Row(key, f"rewrite --write, {what} ({files:,} files, {n_changed:,} changed)", m["auto"] / a,
              detail=f"{m['auto']:.2f} s / libyaml load_all {a:.2f} s (median of {rounds})", bar=bar, aim=aim)
    yield Row(key, f"floor ({floor_name})", info=True, detail=f"{m['floor']:.2f} s = {m['floor'] / a:.2f} of load_all; "
              f"rewrite --write = {m['auto'] / m['floor']:.2f}x the floor")
    yield Row(key, "-j 1", info=True, detail=f"{m['j1']:.2f} s = {m['j1'] / a:.2f} of load_all")


def bench_repo(o: Opts) -> Iterator[Row]:
    files = _n(o.quick, 10_000, 2_000)
    yield from _write_rows("repo", "synthetic, 10% GPU", synthetic(files), True,
                           "prefilter + parse + write the changed, one core", 0.6, 0.4, o)


def bench_real(o: Opts) -> Iterator[Row]:
    if not CORPUS.is_dir():
        yield Row("real", "rewrite --write, real manifests", skipped=f"{CORPUS} not found")
        return
    copies = _n(o.quick, 50, 5)
    yield from _write_rows("real", f"../shared/corpus x{copies}", real(copies), False,
                           "parse every file + write the changed, one core", 1.0, 0.7, o)


def bench_bigfile(o: Opts) -> Iterator[Row]:
    from benchmarks.bigfile import DOC, write

    small, big = (1000, 4000) if o.quick else (4000, 16_000)
    one_pod = small  # the same Deployment, one per file
    d = scratch() / "big"
    d.mkdir(exist_ok=True)
    cost: dict[tuple[str, int], float] = {}
    rss: dict[int, int] = {}
    try:
        for n in (small, big):
            src = write(d / f"big{n}.yaml", n)
            base = child_json(PARSE_ONE, str(src), timeout=o.timeout)["seconds"]
            for mode, args in (("write", ["--write"]), ("diff", ["--diff"])):
                work = d / "work.yaml"
                shutil.copyfile(src, work)
                r = run([EXE, "rewrite", "-q", *args, str(work)], o.timeout)
                cost[mode, n] = r.seconds / n
                rss[n] = max(rss.get(n, 0), r.rss_kib)
                yield Row("bigfile", f"{n:,} Deployments in one file, {mode}", info=True,
                          detail=f"{r.seconds:.2f} s, CPU {r.cpu:.2f} s ({r.seconds / base:.1f}x libyaml's parse "
                                 f"of the file, {base:.2f} s); {cost[mode, n] * 1e3:.2f} ms per pod; "
                                 f"peak RSS {r.rss_kib / 1024:.0f} MiB")
        pods = d / "one-pod"
        shutil.rmtree(pods, ignore_errors=True)
        pods.mkdir()
        for i in range(one_pod):
            (pods / f"d{i:05d}.yaml").write_text(DOC.format(i=i), encoding="utf-8")
        for mode, args in (("write", ["--write"]), ("diff", ["--diff"])):
            work = fresh(pods)
            r = run([EXE, "rewrite", "-q", "-j", "1", *args, str(work)], o.timeout)
            cost[mode, 1] = r.seconds / one_pod
            yield Row("bigfile", f"{one_pod:,} one-pod files, {mode}, -j 1", info=True,
                      detail=f"{r.seconds:.2f} s, CPU {r.cpu:.2f} s; {cost[mode, 1] * 1e3:.2f} ms per pod")
    except TimedOut as exc:
        yield Row("bigfile", "one big file", timed_out=exc.seconds, bar=1.25)
        return
    for mode in ("write", "diff"):
        yield Row("bigfile", f"{mode}: per-pod cost, {big:,} vs {small:,} Deployments (linear)",
                  cost[mode, big] / cost[mode, small], "x", bar=1.25,
                  detail=f"{cost[mode, big] * 1e3:.2f} / {cost[mode, small] * 1e3:.2f} ms")
        yield Row("bigfile", f"{mode}: per-pod cost, {big:,} in one file vs one-pod files",
                  cost[mode, big] / cost[mode, 1], "x", aim=1.1,
                  detail=f"{cost[mode, big] * 1e3:.2f} / {cost[mode, 1] * 1e3:.2f} ms")
    yield Row("bigfile", "peak RSS", info=True,
              detail=f"{rss[small] / 1024:.0f} MiB at {small:,}, {rss[big] / 1024:.0f} MiB at {big:,} "
                     f"({rss[big] / rss[small]:.2f}x for {big // small}x the pods)")


def _ms(s: float) -> str:
    return f"{s * 1000:.0f} ms"


def bench_check(o: Opts) -> Iterator[Row]:
    repo = synthetic(40)
    one = str(next(p for p in manifests(repo) if "nvidia.com/gpu" in p.read_text()))
    n = _n(o.quick, 15, 7)
    t = o.timeout
    try:
        m = interleaved({
            "pass": lambda: run([PY, "-c", "pass"], t).seconds,
            "floor": lambda: run([PY, "-c", PARSE_FILES, one], t).seconds,
            "typer": lambda: run([PY, str(HERE / "bare_typer.py"), one], t).seconds,
            "ours": lambda: run([EXE, "rewrite", "--check", "-q", one], t).seconds,
        }, n)
    except TimedOut as exc:
        yield Row("check", "rewrite --check on one file", timed_out=exc.seconds, unit="x", bar=5, aim=3)
        return
    yield Row("check", "rewrite --check on one GPU file / python + libyaml parse of it", m["ours"] / m["floor"], "x",
              detail=f"{_ms(m['ours'])} / {_ms(m['floor'])} (medians of {n})", bar=5, aim=3)
    yield Row("check", "beside", info=True,
              detail=f"{m['ours'] / m['typer']:.2f} of a bare typer command that parses it ({_ms(m['typer'])}); "
                     f"python -c pass {_ms(m['pass'])}")


def bench_commit(o: Opts) -> Iterator[Row]:
    repo = synthetic(40)
    files = [str(p) for p in manifests(repo) if "nvidia.com/" not in p.read_text()][:5]
    n = _n(o.quick, 15, 7)
    t = o.timeout
    try:
        m = interleaved({
            "read": lambda: run([PY, "-c", READ_FILES, *files], t).seconds,
            "parse": lambda: run([PY, "-c", PARSE_FILES, *files], t).seconds,
            # the hook's entry (.pre-commit-hooks.yaml): these files are left as they are
            "ours": lambda: run([EXE, "rewrite", "--write", *files], t).seconds,
        }, n)
    except TimedOut as exc:
        yield Row("commit", "a commit of non-GPU YAML", timed_out=exc.seconds, unit="x", bar=3, aim=2)
        return
    yield Row("commit", f"hook (rewrite --write) on {len(files)} non-GPU files / python + parse them",
              m["ours"] / m["parse"], "x", detail=f"{_ms(m['ours'])} / {_ms(m['parse'])} (medians of {n})",
              bar=3, aim=2)
    yield Row("commit", "floor", info=True,
              detail=f"python + read them {_ms(m['read'])}: the hook takes {m['ours'] / m['read']:.2f}x")


def _plan_inputs(w: int, nodes: int) -> tuple[Path, Path]:
    import yaml

    from benchmarks.plangen import cluster

    d = scratch() / f"plan-{w}"
    shutil.rmtree(d, ignore_errors=True)
    (d / "manifests").mkdir(parents=True)
    files, objs = cluster(w, nodes)
    for name, text in files:
        (d / "manifests" / name).write_text(text, encoding="utf-8")
    snap = d / "cluster.yaml"
    with snap.open("w", encoding="utf-8") as fh:
        yaml.dump({"apiVersion": "v1", "kind": "List", "items": objs}, fh, Dumper=yaml.CSafeDumper)
    return d / "manifests", snap


def bench_plan(o: Opts) -> Iterator[Row]:
    sizes = [500, 1000, 2000] if o.quick else [5000, 10_000, 20_000, 40_000]
    tries = dict(zip(sizes, [1, 1, 1] if o.quick else [3, 3, 2, 1], strict=True))
    for where in ("in process", "CLI"):
        best: dict[int, float | TimedOut | None] = {}
        for w in sizes:
            if any(isinstance(v, TimedOut) for v in best.values()):
                best[w] = None  # a smaller size timed out: a bigger one would too
                continue
            try:
                if where == "in process":
                    rs = [child_json(PLAN_CHILD, str(w), str(w // 5), timeout=o.timeout) for _ in range(tries[w])]
                    b = min(rs, key=lambda r: r["seconds"])
                    proof = "holds" if b["proof"] else "FAILS"
                    sec, extra = b["seconds"], f"CPU {b['cpu']:.2f} s; {b['steps']:,} steps, proof {proof}"
                else:
                    manifests_dir, snap = _plan_inputs(w, w // 5)
                    rs2 = [run([EXE, "plan", "--cluster", str(snap), str(manifests_dir)], o.timeout)
                           for _ in range(tries[w])]
                    fastest = min(rs2, key=lambda r: r.seconds)
                    sec, extra = fastest.seconds, f"CPU {fastest.cpu:.2f} s; exit {fastest.rc}"
                best[w] = sec
                yield Row("plan", f"{where}, {w:,} workloads / {w // 5:,} nodes", info=True,
                          detail=f"{sec:.2f} s (best of {tries[w]}); {extra}")
            except TimedOut as exc:
                best[w] = exc
        if 5000 in best:
            v = best[5000]
            yield Row("plan", f"{where}, 5,000 workloads", v if isinstance(v, float) else None, " s",
                      timed_out=v.seconds if isinstance(v, TimedOut) else None, bar=5, aim=2)
        for a, b in itertools.pairwise(sizes):
            va, vb = best[a], best[b]
            what = f"{where}, growth {a:,} -> {b:,}"
            if isinstance(va, float) and isinstance(vb, float):
                yield Row("plan", what, vb / va, "x", bar=2.1, aim=2.05)
            elif isinstance(vb, TimedOut) or isinstance(va, TimedOut):
                late = vb if isinstance(vb, TimedOut) else va
                assert isinstance(late, TimedOut)
                yield Row("plan", what, unit="x", timed_out=late.seconds, bar=2.1, aim=2.05)
            else:
                yield Row("plan", what, skipped="a smaller size timed out")


def bench_memory(o: Opts) -> Iterator[Row]:
    small, big = (1000, 5000) if o.quick else (1000, 10_000)
    for label, args in (("auto-parallel", []), ("-j 1", ["-j", "1"])):
        try:
            kib = {n: run([EXE, "rewrite", "--write", "-q", *args, str(fresh(synthetic(n)))], o.timeout).rss_kib
                   for n in (small, big)}
        except TimedOut as exc:
            yield Row("memory", f"peak RSS, {label}", timed_out=exc.seconds, unit="x", bar=1.2, aim=1.05)
            continue
        yield Row("memory", f"peak RSS {small:,} -> {big:,} files, {label}", kib[big] / kib[small], "x",
                  detail=f"{kib[small] / 1024:.0f} -> {kib[big] / 1024:.0f} MiB", bar=1.2, aim=1.05)


def bench_codemod(o: Opts) -> Iterator[Row]:
    if not CORPUS.is_dir():
        yield Row("codemod", "codemod on the corpus' Python files", skipped=f"{CORPUS} not found")
        return
    d = scratch() / "codemod"
    shutil.rmtree(d, ignore_errors=True)
    sources = sorted(CORPUS.rglob("*.py"))
    for src in sources:  # a copy: the corpus is never written to, even by mistake
        target = d / src.relative_to(CORPUS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    files = [str(d / s.relative_to(CORPUS)) for s in sources]
    n = _n(o.quick, 5, 3)
    try:
        m = interleaved({"floor": lambda: run([PY, "-c", CST_PARSE, *files], o.timeout).seconds,
                         "ours": lambda: run([EXE, "codemod", "-q", str(d)], o.timeout).seconds}, n)
    except TimedOut as exc:
        yield Row("codemod", "codemod on the corpus' Python files", timed_out=exc.seconds, unit=" s", bar=1, aim=0.5)
        return
    yield Row("codemod", f"codemod (diff) on the corpus' {len(files)} Python files", m["ours"], " s",
              detail=f"median of {n}", bar=1, aim=0.5)
    yield Row("codemod", "beside", info=True, detail=f"python + import libcst + parse them {m['floor']:.2f} s: "
              f"the codemod takes {m['ours'] / m['floor']:.2f}x")


BENCHES: dict[str, Callable[[Opts], Iterator[Row]]] = {
    "repo": bench_repo, "real": bench_real, "bigfile": bench_bigfile, "check": bench_check,
    "commit": bench_commit, "plan": bench_plan, "memory": bench_memory, "codemod": bench_codemod,
}


def _machine() -> str:
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, "
            f"Python {platform.python_version()}, {platform.platform()}; load average {load}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", help=f"any of {', '.join(BENCHES)} (default: all)")
    ap.add_argument("--quick", action="store_true", help="smaller inputs (a smoke run)")
    ap.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="kill a command after S seconds: its row is over bar (default 600; --quick 120)")
    ap.add_argument("--markdown", action="store_true", help="print the closing summary as a Markdown table")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a row is over its bar")
    args = ap.parse_args(argv)
    import compileall

    compileall.compile_dir(str(ROOT / "migrator"), quiet=1)  # the bytecode an install has (see ENV)
    unknown = [w for w in args.which if w not in BENCHES]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from {', '.join(BENCHES)})")
    o = Opts(args.quick, args.timeout or (120 if args.quick else 600))
    print(_machine(), flush=True)
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: python -m benchmarks "
          f"{' '.join(argv if argv is not None else sys.argv[1:])}", flush=True)
    judged: list[Row] = []
    try:
        for name in args.which or list(BENCHES):
            t = time.perf_counter()
            for row in BENCHES[name](o):
                print(render(row), flush=True)
                if not row.info:
                    judged.append(row)
            print(f"({name}: {time.perf_counter() - t:.0f} s)", flush=True)
    finally:
        for d in _scratch:
            shutil.rmtree(d, ignore_errors=True)
    over = [r for r in judged if verdict(r).lower().startswith("over")]
    print()
    if args.markdown:
        print("| row | what | figure | bar | aim | verdict |\n|---|---|---|---|---|---|")
        for r in judged:
            b = "—" if r.bar is None else f"≤ {r.bar:g}{r.unit}"
            a = "—" if r.aim is None else f"≤ {r.aim:g}{r.unit}"
            print(f"| {r.key} | {r.what} | {r.figure()} | {b} | {a} | {verdict(r)} |")
    else:
        print(f"summary: {len(judged)} rows, {len(over)} over bar"
              + "".join(f"\n  {r.key}: {r.what}: {r.figure()} {verdict(r)}" for r in over))
    return 1 if args.strict and over else 0


if __name__ == "__main__":
    raise SystemExit(main())
