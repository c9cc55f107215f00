"""The codemod's speed on the corpus, and where libcst breaks on nested input.

    python -m benchmarks.codemod_limits            # codemod over ../shared/corpus against libcst's parse alone
    python -m benchmarks.codemod_limits --crash    # bisect libcst's SIGSEGV / RecursionError points (minutes)

The second measures what migrator/integrations/codemod.py's MAX_NESTING and MAX_DEPTH are chosen against:
per shape, the smallest nesting at which libcst's native parser dies (each try in a fresh
process) with its ``nesting`` estimate, and the tree depth at which code generation raises
RecursionError.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from benchmarks.__main__ import ENV, EXE, ROOT

CORPUS = ROOT.parent / "shared" / "corpus"
SHAPES = {
    "brackets": "'x = ' + '[' * n + ']' * n",
    "calls": "'x = ' + 'f(' * n + ')' * n",
    "f-strings": "'x = ' + \"f'{\" * n + '1' + \"}'\" * n",
    "lambdas": "'x = ' + 'lambda: ' * n + '1'",
    "unary": "'x = ' + '-' * n + '1'",
    "sum": "'x = ' + ' + '.join(['1'] * n)",
    "attributes": "'x = a' + '.b' * n",
    "strings": "'x = (' + ' '.join([\"'a'\"] * n) + ')'",
}


def _wall(cmd: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def speed() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} not found")
    files = sorted(CORPUS.rglob("*.py"))
    parse = ("import sys, libcst\nfor f in sys.argv[1:]:\n    libcst.parse_module(open(f, encoding='utf-8').read())")
    base = _wall([sys.executable, "-c", parse, *map(str, files)])
    ours = _wall([EXE, "codemod", str(CORPUS)])
    big = max(files, key=lambda p: p.stat().st_size)
    print(f"{len(files)} files: codemod {ours:.2f} s; python + import libcst + parse them: {base:.2f} s "
          f"(ratio {ours / base:.2f})")
    print(f"{big.name} ({len(big.read_text().splitlines())} lines): codemod {_wall([EXE, 'codemod', str(big)]):.2f} s")


def _dies(shape: str, n: int, what: str) -> bool:
    code = (f"import sys, libcst\nn = {n}\nm = libcst.parse_module({SHAPES[shape]})\n"
            + ("m.code\n" if what == "codegen" else ""))
    proc = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=300)
    return proc.returncode < 0 if what == "parse" else "RecursionError" in proc.stderr


def _bisect(shape: str, what: str, hi: int) -> int | None:
    lo = 1
    if not _dies(shape, hi, what):
        return None
    while hi - lo > max(8, lo // 50):
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _dies(shape, mid, what) else (mid, hi)
    return hi


def crash() -> None:
    from migrator.integrations.codemod import MAX_DEPTH, MAX_NESTING, nesting, walk

    import libcst

    print(f"limits: MAX_NESTING {MAX_NESTING}, MAX_DEPTH {MAX_DEPTH}")
    for shape, expr in SHAPES.items():
        seg = _bisect(shape, "parse", 10_000)
        rec = _bisect(shape, "codegen", 2_000)
        line = f"{shape:<11} parser SIGSEGV "
        if seg is None:
            line += "not up to n=10,000"
        else:
            line += f"from n={seg} (estimate {nesting(eval(expr, {'n': seg}))[0]})"
        if rec is not None:
            depth = walk(libcst.parse_module(eval(expr, {"n": rec}))).depth
            line += f"; RecursionError from n={rec} (tree depth {depth})"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.codemod_limits")
    ap.add_argument("--crash", action="store_true", help="bisect where libcst crashes (slow)")
    args = ap.parse_args()
    crash() if args.crash else speed()


if __name__ == "__main__":
    main()
