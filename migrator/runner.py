"""A batch: every input ends in exactly one FileResult; one bad file never stops the others."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

from migrator.errors import InvalidInput
from migrator.mode import Mode, WriteBack
from migrator.model import FileResult, SideFile
from migrator.report import Report
from migrator.model import Finding, Status
from migrator.text.sources import (STDIN, NotFollowed, Pending, Scope, commit, discard, discover, encode, prepare,
                              read, side_file, write_atomic)
from migrator.tables import needs_rules


def templates_path(path: str) -> str:
    """``<stem>-claim-templates`` with the input's own extension: ``a.yaml`` and ``a.yml`` in one
    folder must not share (and overwrite) one side file."""
    root, ext = os.path.splitext(path)
    return f"{root}-claim-templates{ext if ext in ('.yaml', '.yml') else '.yaml'}"


def process_one(path: str, mode: Mode, stdin: bytes | None = None, scope: Scope | None = None) -> FileResult:
    try:
        src = read(path, stdin)
        if not needs_rules(src.text, mode):  # engine.migrate_text's own first test, before importing it
            return FileResult(path, src.text, src.text, (), None, (), src.mtime_ns, src.bom)
        from migrator.engine import migrate_text

        result = migrate_text(src.text, path if path != STDIN else "<stdin>", mode)
    except InvalidInput as exc:
        return FileResult(path, None, None, (), str(exc))
    extra: tuple[SideFile, ...] = ()
    if result.templates and path == STDIN:
        # the stream would name templates that exist nowhere
        return FileResult(path, src.text, None, result.findings,
                          "<stdin>: --templates file has no file to write the templates beside: "
                          "use --templates inline")
    if result.templates and result.text != src.text:
        try:
            target, side = side_file(templates_path(path), scope or Scope(), path)
        except InvalidInput as exc:
            return FileResult(path, src.text, None, result.findings, f"{exc}; {path} not rewritten")
        from migrator.text.documents import detect_layout
        from migrator.text.edit import block_entries

        existing = side.text if side is not None else ""
        layout = detect_layout(src.text)
        chunks = [existing] if existing else []
        if existing and not existing.endswith("\n"):
            chunks.append(layout.newline)
        for t in result.templates:
            if f"name: {t['metadata']['name']}" in existing:
                continue
            lines = (["---"] if chunks else []) + block_entries(t, 0, layout)
            chunks.append("".join(line + layout.newline for line in lines))
        text = "".join(chunks)
        if text != existing:
            extra = (SideFile(target, text, existing, side.mtime_ns if side is not None else None),)
    return FileResult(path, src.text, result.text, result.findings, None, extra, src.mtime_ns, src.bom)


#: With --jobs 0 (auto), workers are used from this many files on (start-up costs ~0.2 s).
PARALLEL_FROM = 400


def _one(item: str | InvalidInput | NotFollowed, mode: Mode, writeback: WriteBack,
         stdin: bytes | None, scope: Scope | None = None) -> FileResult:
    if isinstance(item, InvalidInput):
        return FileResult(item.path, None, None, (), str(item))
    if isinstance(item, NotFollowed):
        note = Finding("GPU900", Status.SKIPPED, item.reason(), item.path)
        return FileResult(item.path, "", "", (note,), not_read=True)
    result = process_one(item, mode, stdin, scope)
    if writeback is WriteBack.WRITE and item != STDIN and result.changed:
        result = _write(result)
    return result


def _batch(items: list[Any], mode: Mode, writeback: WriteBack, scope: Scope | None = None) -> list[FileResult]:
    return [_slim(_one(i, mode, writeback, None, scope), writeback) for i in items]


def _slim(r: FileResult, writeback: WriteBack) -> FileResult:
    """What a worker sends back: texts only where the parent still needs them (diffs)."""
    if r.error is not None or (writeback is WriteBack.DIFF and r.changed):
        return r
    return _textless(r)


def _textless(r: FileResult) -> FileResult:
    """What the report keeps once the result was shown: its counts and findings, not the texts
    (kept, every file's before and after made a serial run's memory grow with the repository)."""
    if r.error is not None:
        return r
    if not r.extra_files and r.before == "" and r.after in ("", "1"):
        return r  # slimmed already (in the worker that sent it)
    import dataclasses

    sides = tuple(dataclasses.replace(s, text="", before="") for s in r.extra_files)
    return dataclasses.replace(r, before="", after="1" if r.changed else "", extra_files=sides)


def _results(items: list[Any], mode: Mode, writeback: WriteBack, stdin: bytes | None,
             jobs: int, scope: Scope | None = None) -> Iterator[FileResult]:
    workers = jobs or (os.cpu_count() or 1 if len(items) >= PARALLEL_FROM else 1)
    if workers <= 1 or len(items) < 2 or STDIN in items:
        for item in items:
            yield _one(item, mode, writeback, stdin, scope)
        return
    from concurrent.futures import ProcessPoolExecutor

    # Files are independent: each worker reads, rewrites and writes its own batch (writes are
    # per-file atomic); results come back in input order.
    size = max(1, min(64, len(items) // (workers * 8) or 1))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for batch in pool.map(_batch, batches, [mode] * len(batches), [writeback] * len(batches),
                              [scope] * len(batches)):
            yield from batch


def run(paths: list[str], mode: Mode, writeback: WriteBack, stdin: bytes | None = None,
        on_result: Callable[[FileResult], None] | None = None,
        selected: Callable[[str], bool] | None = None, progress: bool = False, jobs: int = 1,
        follow_symlinks: bool = False) -> Report:
    report = Report(writeback)
    items = list(discover(paths, selected, follow_symlinks))
    # A templates file the walk also found as an input (a link out of the root, a dangling one) is
    # reported by the input that needs it; on its own only when no input's error already names it.
    later: list[str | InvalidInput | NotFollowed] = []
    if mode.placement == "file":
        side = {templates_path(i) for i in items if isinstance(i, str) and i != STDIN}
        side |= {os.path.realpath(p) for p in side}

        def is_side(i: str | InvalidInput | NotFollowed) -> bool:
            return (i if isinstance(i, str) else i.path) in side

        later = [i for i in items if is_side(i)]
        items = [i for i in items if not is_side(i)]
    bar = _progress(len(items) + len(later)) if progress and len(items) + len(later) > 1 else None

    def add(result: FileResult) -> None:
        if bar is not None:
            bar.advance()
        if writeback is WriteBack.WRITE and result.changed:
            report.written += 1
        if on_result is not None:
            on_result(result)
        report.add(_textless(result))

    for result in _results(items, mode, writeback, stdin, jobs, Scope.of(paths, follow_symlinks)):
        add(result)
    for item in later:
        path = item if isinstance(item, str) else item.path
        result = _one(item, mode, writeback, stdin)
        names = {path, os.path.realpath(path)}
        if (result.error or result.not_read) and any(r.error and any(f"{n}:" in r.error or f"{n} " in r.error for n in names)
                                for r in report.results):
            continue  # the input that needs it already says why (one line, counted once)
        add(result)
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
    """Write the input and its side files, or none of them (a failure names the one that failed)."""
    assert result.after is not None
    pending: list[Pending] = []
    try:
        for side in result.extra_files:
            pending.append(prepare(side.path, encode(side.text, False), side.mtime_ns, new=side.mtime_ns is None))
        pending.append(prepare(result.path, encode(result.after, result.bom), result.mtime_ns))
    except InvalidInput as exc:
        for p in pending:
            discard(p)
        return _failed(result, exc)
    # Side files first: a workload never names a template that is not on disk. If the input
    # cannot be renamed after all, its side files get their old text back.
    done: list[int] = []
    for i, p in enumerate(pending):
        try:
            commit(p)
            done.append(i)
        except InvalidInput as exc:
            for q in pending[i + 1:]:
                discard(q)
            for j in done:
                _restore(result.extra_files[j])
            return _failed(result, exc)
    return result


def _failed(result: FileResult, exc: InvalidInput) -> FileResult:
    msg = str(exc) if exc.path == result.path else f"{exc}; {result.path} not rewritten"
    return FileResult(result.path, result.before, None, result.findings, msg)


def _restore(side: SideFile) -> None:
    try:
        if side.mtime_ns is None:
            os.unlink(side.path)
        else:
            write_atomic(side.path, encode(side.before, False))
    except (OSError, InvalidInput):
        pass
