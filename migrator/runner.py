"""A batch: every input ends in exactly one FileResult; one bad file never stops the others."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

from migrator.edit import block_entries
from migrator.documents import detect_layout
from migrator.engine import migrate_text
from migrator.errors import InvalidInput
from migrator.mode import Mode, WriteBack
from migrator.model import FileResult
from migrator.report import Report
from migrator.model import Finding, Status
from migrator.sources import STDIN, NotFollowed, discover, encode, read, write_atomic
from migrator.tables import load_tables


def templates_path(path: str) -> str:
    root, _ = os.path.splitext(path)
    return f"{root}-claim-templates.yaml"


def process_one(path: str, mode: Mode, stdin: bytes | None = None) -> FileResult:
    try:
        src = read(path, stdin)
        result = migrate_text(src.text, path if path != STDIN else "<stdin>", mode, load_tables())
    except InvalidInput as exc:
        return FileResult(path, None, None, (), str(exc))
    extra: tuple[tuple[str, str], ...] = ()
    if result.templates and path != STDIN:
        target = templates_path(path)
        try:
            existing = read(target).text if os.path.exists(target) else ""
        except InvalidInput as exc:
            return FileResult(path, src.text, None, result.findings, str(exc))
        layout = detect_layout(src.text)
        chunks = [existing] if existing else []
        if existing and not existing.endswith("\n"):
            chunks.append(layout.newline)
        for t in result.templates:
            if f"name: {t['metadata']['name']}" in existing:
                continue
            lines = (["---"] if chunks else []) + block_entries(t, 0, layout)
            chunks.append("".join(line + layout.newline for line in lines))
        extra = ((target, "".join(chunks)),)
    return FileResult(path, src.text, result.text, result.findings, None, extra, src.mtime_ns, src.bom)


#: With --jobs 0 (auto), workers are used from this many files on (start-up costs ~0.2 s).
PARALLEL_FROM = 400


def _one(item: str | InvalidInput | NotFollowed, mode: Mode, writeback: WriteBack,
         stdin: bytes | None) -> FileResult:
    if isinstance(item, InvalidInput):
        return FileResult(item.path, None, None, (), str(item))
    if isinstance(item, NotFollowed):
        note = Finding("GPU900", Status.SKIPPED, f"symlink to {item.target}, outside the given directory: "
                       "not followed (--follow-symlinks to follow it)", item.path)
        return FileResult(item.path, "", "", (note,))
    result = process_one(item, mode, stdin)
    if writeback is WriteBack.WRITE and item != STDIN and (result.changed or result.extra_files):
        result = _write(result)
    return result


def _batch(items: list[Any], mode: Mode, writeback: WriteBack) -> list[FileResult]:
    return [_slim(_one(i, mode, writeback, None), writeback) for i in items]


def _slim(r: FileResult, writeback: WriteBack) -> FileResult:
    """What a worker sends back: texts only where the parent still needs them (diffs)."""
    import dataclasses

    if r.error is not None or (writeback is WriteBack.DIFF and r.changed):
        return r
    changed = r.changed
    return dataclasses.replace(r, before="", after="1" if changed else "")


def _results(items: list[Any], mode: Mode, writeback: WriteBack, stdin: bytes | None,
             jobs: int) -> Iterator[FileResult]:
    workers = jobs or (os.cpu_count() or 1 if len(items) >= PARALLEL_FROM else 1)
    if workers <= 1 or len(items) < 2 or STDIN in items:
        for item in items:
            yield _one(item, mode, writeback, stdin)
        return
    from concurrent.futures import ProcessPoolExecutor

    # Files are independent: each worker reads, rewrites and writes its own batch (writes are
    # per-file atomic); results come back in input order.
    size = max(1, min(64, len(items) // (workers * 8) or 1))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for batch in pool.map(_batch, batches, [mode] * len(batches), [writeback] * len(batches)):
            yield from batch


def run(paths: list[str], mode: Mode, writeback: WriteBack, stdin: bytes | None = None,
        on_result: Callable[[FileResult], None] | None = None,
        selected: Callable[[str], bool] | None = None, progress: bool = False, jobs: int = 1,
        follow_symlinks: bool = False) -> Report:
    report = Report(writeback)
    items = list(discover(paths, selected, follow_symlinks))
    bar = _progress(len(items)) if progress and len(items) > 1 else None
    for result in _results(items, mode, writeback, stdin, jobs):
        if bar is not None:
            bar.advance()
        if writeback is WriteBack.WRITE and result.error is None and (result.changed or result.extra_files):
            report.written += 1
        report.add(result)
        if on_result is not None:
            on_result(result)
    if bar is not None:
        bar.close()
    return report


class _progress:
    """A rich progress bar on stderr (only when it is a terminal; rich is imported only then)."""

    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.p = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=True)
        self.p.start()
        self.task = self.p.add_task("dra-migrate", total=total)

    def advance(self) -> None:
        self.p.advance(self.task)

    def close(self) -> None:
        self.p.stop()


def _write(result: FileResult) -> FileResult:
    try:
        for path, text in result.extra_files:
            write_atomic(path, encode(text, False))
        if result.changed:
            assert result.after is not None
            write_atomic(result.path, encode(result.after, result.bom), result.mtime_ns)
    except InvalidInput as exc:
        return FileResult(result.path, result.before, None, result.findings, str(exc))
    return result
