"""One Report per run: counts the per-file results and owns the exit code (black's report.py)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from migrator.errors import MigratorError
from migrator.mode import WriteBack
from migrator.model import FileResult, Finding, Status

#: Exit codes (also in --help and the README):
OK = 0  #: success, or nothing to do
CHANGES = 1  #: --check: at least one file would change
FINDINGS = 1  #: scan: a selected finding at or above --fail-on (ruff: 1 = violations found)
FAILED = 2  #: at least one input could not be processed (the others were)
INTERRUPTED = 130  #: Ctrl-C (128 + SIGINT, as shells report it)
BROKEN_PIPE = 1  #: stdout closed early (``dra-migrate scan | head``): what click's own handler exits with


def exit_code(failed: bool | int = False, unmet: bool | int = False) -> int:
    """The exit code of every command; the only place that decides one (README "Exit codes").

    - ``FAILED`` (2) when ``failed``: an input could not be processed (each is one line on stderr
      naming the file and line; the others were processed, and written where asked), or the command
      was used wrongly (``cli.main`` maps a usage error or a MigratorError to this same code).
      It wins over 1: an incomplete run is never a clean verdict.
    - 1 when ``unmet``: the command's own condition does not hold:
        ``rewrite --check`` / ``codemod --check``: a file would change;
        ``scan``: a selected finding at or above ``--fail-on`` (not with ``--exit-zero``);
        ``verify``: a workload's device set changes, or nothing could be compared;
        ``plan``: the proof fails or a workload is blocked;
        ``krm``: the function failed (the ResourceList's results say why; KRM functions spec).
    - ``OK`` (0) otherwise, also for ``rewrite --write`` that changed files and for ``preview``
      and ``post-render``, which have no condition of their own.
    ``cli.main`` returns ``INTERRUPTED`` (130) on Ctrl-C and ``BROKEN_PIPE`` (1) when stdout was
    closed before the output was written; a usage error click itself raises keeps click's code
    (2, the same as ``FAILED``).
    """
    return FAILED if failed else 1 if unmet else OK

#: ``scan --fail-on`` thresholds, strictest first. Each also fails on what the ones before it do
#: (a threshold, like a log level): skipped fails on manual too, any on every finding, the
#: converted pods and notes included (nothing left on the device plugin passes).
FAIL_ON: dict[str, frozenset[Status]] = {
    "manual": frozenset({Status.MANUAL}),
    "skipped": frozenset({Status.MANUAL, Status.SKIPPED}),
    "any": frozenset(Status),
}


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """``--select``/``--ignore`` by code prefix, resolved as ruff does: the longest matching
    prefix wins, and on a tie ``--ignore`` wins (docs.astral.sh/ruff/settings/#lint_ignore)."""

    select: tuple[str, ...] = ("",)  #: "" (``ALL``) selects every code
    ignore: tuple[str, ...] = ()

    def keeps(self, code: str) -> bool:
        chosen = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        dropped = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return chosen > dropped

    @classmethod
    def parse(cls, select: Iterable[str] | None, ignore: Iterable[str] | None,
              known: Iterable[str]) -> RuleFilter:
        """From repeatable, comma-separated option values; a prefix no rule has is a usage error
        (a typo must not silently select nothing)."""
        codes = sorted(known)

        def prefixes(values: Iterable[str] | None, flag: str) -> tuple[str, ...]:
            out: list[str] = []
            for value in values or ():
                for part in value.split(","):
                    p = part.strip().upper()
                    if not p:
                        continue
                    if p == "ALL":
                        p = ""
                    elif not any(c.startswith(p) for c in codes):
                        raise MigratorError(f"{flag} {part.strip()!r}: no rule code starts with it "
                                            "(see 'dra-migrate rules list')")
                    out.append(p)
            return tuple(dict.fromkeys(out))

        chosen = prefixes(select, "--select")
        if select and not chosen:  # `--select ''` or `--select ,`: a typo, not "select nothing"
            raise MigratorError("--select: no rule code given (use a code, a prefix such as GPU1, or ALL)")
        return cls(chosen if select else ("",), prefixes(ignore, "--ignore"))


def fail_statuses(fail_on: str) -> frozenset[Status]:
    try:
        return FAIL_ON[fail_on]
    except KeyError:
        raise MigratorError(f"--fail-on {fail_on!r}: expected {', '.join(list(FAIL_ON)[:-1])} or {list(FAIL_ON)[-1]}") from None


@dataclass
class Report:
    """The per-file results of one batch (``runner.run``) and what the exit code is read from:
    ``return_code`` (rewrite) and ``scan_code`` (scan) are ``exit_code(failed=any file failed,
    unmet=the command's own condition)``, the
    contract ``exit_code`` documents; commands that are not a batch (``plan``, ``verify``,
    ``krm``) call ``exit_code`` themselves, never a number."""

    writeback: WriteBack
    results: list[FileResult] = field(default_factory=list)
    written: int = 0

    def add(self, result: FileResult) -> None:
        self.results.append(result)

    @property
    def failures(self) -> list[FileResult]:
        return [r for r in self.results if r.error is not None]

    @property
    def changed(self) -> list[FileResult]:
        return [r for r in self.results if r.changed or r.extra_files]

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def return_code(self) -> int:
        """``rewrite``'s exit code (``exit_code``: --check fails when a file would change)."""
        return exit_code(bool(self.failures), self.writeback is WriteBack.CHECK and bool(self.changed))

    def filtered(self, rules: RuleFilter) -> Report:
        """The same run with only the findings ``rules`` keeps (errors are never filtered out)."""
        results = [dataclasses.replace(r, findings=tuple(f for f in r.findings if rules.keeps(f.code)))
                   for r in self.results]
        return Report(self.writeback, results, self.written)

    def failing(self, fail_on: str) -> list[Finding]:
        """The findings that make ``scan --fail-on fail_on`` exit 1."""
        statuses = fail_statuses(fail_on)
        return [f for f in self.findings if f.status in statuses]

    def scan_code(self, fail_on: str, exit_zero: bool = False) -> int:
        """2 when an input could not be processed (``--exit-zero`` does not hide that: the scan is
        incomplete), else 1 when a finding trips the gate, else 0."""
        return exit_code(bool(self.failures), not exit_zero and bool(self.failing(fail_on)))

    def gate_summary(self, fail_on: str, exit_zero: bool = False) -> str:
        """The tail of the scan summary line: what trips the gate, if anything."""
        n = len(self.failing(fail_on))
        if not n:
            return ""
        return f"; {n} finding(s) fail --fail-on {fail_on}" + (" (--exit-zero)" if exit_zero else "")

    def statistics(self) -> list[tuple[str, int, Counter[str]]]:
        """(code, count, count per status) for every code found, most frequent first (ruff --statistics)."""
        per: dict[str, Counter[str]] = {}
        for f in self.findings:
            per.setdefault(f.code, Counter())[f.status.value] += 1
        rows = [(code, sum(c.values()), c) for code, c in per.items()]
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    def counts(self) -> Counter[str]:
        return Counter(f.status.value for f in self.findings)

    def pod_counts(self) -> Counter[str]:
        """Findings per status of what the run did: a pod in a file that could not be written was
        not converted, and a symlink that was not followed is not a file of the run."""
        return Counter(f.status.value for r in self.results if not r.not_read and r.error is None
                       for f in r.findings)

    @property
    def links(self) -> int:
        """Symlinks found by the walk and not followed."""
        return sum(r.not_read for r in self.results)

    def summary(self) -> str:
        n_changed = len(self.changed)
        verb = {WriteBack.WRITE: "rewritten", WriteBack.CHECK: "would be rewritten",
                WriteBack.DIFF: "would be rewritten"}[self.writeback]
        c = self.pod_counts()
        links = self.links
        files = len(self.results) - links
        parts = [f"{n_changed} file(s) {verb}", f"{files - n_changed - len(self.failures)} unchanged"]
        if self.failures:
            parts.append(f"{len(self.failures)} could not be processed")
        if links:
            parts.append(f"{links} symlink(s) not followed")
        pods = (f"pod templates: {c[Status.CONVERTED.value]} converted, {c[Status.SKIPPED.value]} skipped, "
                f"{c[Status.MANUAL.value]} need manual action")
        return ", ".join(parts) + "; " + pods
