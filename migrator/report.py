"""One Report per run: counts the per-file results and owns the exit code (black's report.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from migrator.mode import WriteBack
from migrator.model import FileResult, Finding, Status

#: Exit codes (also in --help and the README):
OK = 0  #: success, or nothing to do
CHANGES = 1  #: --check: at least one file would change
FAILED = 2  #: at least one input could not be processed (the others were)


@dataclass
class Report:
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
        if self.failures:
            return FAILED
        if self.writeback is WriteBack.CHECK and self.changed:
            return CHANGES
        return OK

    def counts(self) -> Counter[str]:
        return Counter(f.status.value for f in self.findings)

    def summary(self) -> str:
        n_changed = len(self.changed)
        verb = {WriteBack.WRITE: "rewritten", WriteBack.CHECK: "would be rewritten",
                WriteBack.DIFF: "would be rewritten"}[self.writeback]
        c = self.counts()
        parts = [f"{n_changed} file(s) {verb}", f"{len(self.results) - n_changed - len(self.failures)} unchanged"]
        if self.failures:
            parts.append(f"{len(self.failures)} could not be processed")
        pods = (f"pod templates: {c[Status.CONVERTED.value]} converted, {c[Status.SKIPPED.value]} skipped, "
                f"{c[Status.MANUAL.value]} need manual action")
        return ", ".join(parts) + "; " + pods
