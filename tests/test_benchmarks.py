"""The benchmark's own machinery: verdicts, the timeout, peak RSS of workers, skipped rows, a smoke run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paths import REPO

if str(REPO) not in sys.path:  # benchmarks/ is not installed; .venv/bin/pytest does not put the clone on the path
    sys.path.insert(0, str(REPO))

import benchmarks.__main__ as bench  # noqa: E402
from benchmarks.__main__ import Opts, Row, TimedOut, render, run, verdict  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=str(REPO))
figures = st.floats(min_value=0.001, max_value=1000, allow_nan=False)


@given(value=figures, bar=st.none() | figures, aim=st.none() | figures)
def test_verdict_follows_the_bar_then_the_aim(value: float, bar: float | None, aim: float | None) -> None:
    v = verdict(Row("k", "what", value, "x", bar=bar, aim=aim))
    if bar is None and aim is None:
        assert v == ""
    elif bar is not None and value > bar:
        assert v == "OVER BAR"
    elif aim is None:
        assert v == "PASS"
    else:
        assert ("not reached" in v) == (value > aim)
        assert v.startswith("PASS") == (bar is not None)


@given(seconds=st.integers(min_value=1, max_value=10_000), bar=st.none() | figures)
def test_a_timed_out_row_is_over_bar_with_its_cap(seconds: int, bar: float | None) -> None:
    row = Row("plan", "growth", timed_out=float(seconds), bar=bar, unit="x")
    assert verdict(row) == f"over bar (timed out at {seconds} s)"
    assert f"over bar (timed out at {seconds} s)" in render(row)


def test_the_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild-alive"
    grandchild = f"import time, pathlib; time.sleep(1.5); pathlib.Path({str(marker)!r}).write_text('x')"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    t = time.perf_counter()
    with pytest.raises(TimedOut) as exc:
        run([sys.executable, "-c", child], timeout=0.5)
    assert time.perf_counter() - t < 1.4
    assert exc.value.seconds == 0.5
    time.sleep(2)
    assert not marker.exists()  # the grandchild (a worker) was killed too


@pytest.mark.parametrize("mib", [50, 200])
def test_peak_rss_counts_the_workers(mib: int) -> None:
    child = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
             f"'x = bytearray({mib} * 2**20); x[::4096] = b\"y\" * len(x[::4096])'])")
    r = run([sys.executable, "-c", child], timeout=30)
    assert r.rc == 0
    assert mib * 1024 <= r.rss_kib < (mib + 100) * 1024


def test_peak_rss_is_the_commands_not_the_benchmarks() -> None:
    ballast = bytearray(300 * 2**20)  # the benchmark grows (planner inputs) before it starts a small command
    ballast[::4096] = b"y" * len(ballast[::4096])
    r = run([sys.executable, "-c", "pass"], timeout=30)
    assert r.rss_kib < 100 * 1024
    del ballast


@pytest.mark.parametrize("name", ["real", "codemod"])
def test_rows_on_the_corpus_skip_cleanly_without_it(name: str, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(bench, "CORPUS", tmp_path / "no-corpus")
    rows = list(bench.BENCHES[name](Opts(quick=True, timeout=10)))
    assert len(rows) == 1 and rows[0].skipped is not None
    assert verdict(rows[0]).startswith("skipped (") and "no-corpus" in render(rows[0])


def test_an_unknown_row_is_a_usage_error() -> None:
    p = subprocess.run([sys.executable, "-m", "benchmarks", "check", "nope"], capture_output=True, text=True,
                       cwd=REPO, env=ENV, check=False)
    assert p.returncode == 2 and "unknown benchmark(s): nope" in p.stderr


def _judged(out: str, keys: set[str]) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in out.splitlines():
        key = line.split(" ", 1)[0]
        if key in keys:
            rows.setdefault(key, []).append(line)
    return rows


def test_quick_short_rows_print_a_ratio_bar_and_verdict() -> None:
    p = subprocess.run([sys.executable, "-m", "benchmarks", "check", "commit", "--quick"], capture_output=True,
                       text=True, cwd=REPO, env=ENV, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    rows = _judged(p.stdout, {"check", "commit"})
    assert set(rows) == {"check", "commit"}
    for line in rows["check"] + rows["commit"]:
        assert "x   [bar ≤ " in line and ("PASS" in line or "OVER BAR" in line)
    assert "summary: 2 rows" in p.stdout


@pytest.mark.slow
def test_quick_run_prints_every_row() -> None:
    p = subprocess.run([sys.executable, "-m", "benchmarks", "--quick"], capture_output=True, text=True,
                       cwd=REPO, env=ENV, timeout=600, check=False)
    assert p.returncode == 0, p.stderr
    rows = _judged(p.stdout, set(bench.BENCHES))
    assert set(rows) == set(bench.BENCHES)
    for line in (line for lines in rows.values() for line in lines):
        assert "[bar " in line or "skipped (" in line
