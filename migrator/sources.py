"""Inputs: files, directories (recursive ``*.yaml``/``*.yml``) and ``-`` for stdin; and safe writes."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from migrator.errors import InvalidInput

STDIN = "-"
YAML_SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox"}
#: Bigger inputs are refused rather than parsed (hostile-input guard).
MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class NotFollowed:
    """A symlink under a directory that points outside it: reported, not read (nor written)."""

    path: str
    target: str


@dataclass(frozen=True, slots=True)
class Source:
    path: str  #: as given / found; "-" for stdin
    text: str
    bom: bool  #: the file started with a UTF-8 byte-order mark (kept on write)
    mtime_ns: int | None


def discover(paths: list[str], selected: Callable[[str], bool] | None = None,
             follow_symlinks: bool = False,
             suffixes: tuple[str, ...] = YAML_SUFFIXES) -> Iterator[str | InvalidInput | NotFollowed]:
    """Every input path in a stable order; missing paths come back as errors.

    Under a directory, the files whose names end with one of ``suffixes`` are found.

    ``selected`` (the config's include/exclude globs) filters found and given files alike.
    Under a directory, symlinked directories are not entered and a symlinked file is read only
    when it points inside that directory (or with ``follow_symlinks``); it is then read and
    written at its real path, so links stay links. A file given by name is followed.
    """
    seen: set[str] = set()
    keep = selected or (lambda _: True)
    for given in paths:
        if given == STDIN:
            yield STDIN
            continue
        p = Path(given)
        if p.is_dir():
            found: list[str] = []
            root = os.path.realpath(p)
            for dirpath, dirnames, filenames in os.walk(p, followlinks=follow_symlinks):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                for name in filenames:
                    if name.endswith(suffixes):
                        found.append(os.path.join(dirpath, name))
            for f in sorted(found):
                if not keep(f):
                    continue
                if os.path.islink(f):
                    real = os.path.realpath(f)
                    if not follow_symlinks and os.path.commonpath([root, real]) != root:
                        yield NotFollowed(f, real)
                        continue
                    f = real
                if f not in seen:
                    seen.add(f)
                    yield f
        elif p.exists():
            real = os.path.realpath(given) if os.path.islink(given) else given
            if real not in seen and keep(given):
                seen.add(real)
                yield real
        else:
            yield InvalidInput(given, None, "no such file or directory")


def decode(data: bytes, path: str) -> tuple[str, bool]:
    if b"\x00" in data:
        raise InvalidInput(path, None, "binary file (contains NUL bytes)")
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3:].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(path, line, "not UTF-8 text") from None
    return text, bom


def read(path: str, stdin: bytes | None = None) -> Source:
    if path == STDIN:
        data = stdin if stdin is not None else b""
        text, bom = decode(data, "<stdin>")
        return Source(STDIN, text, bom, None)
    try:
        st = os.stat(path)
        if st.st_size > MAX_BYTES:
            raise InvalidInput(path, None, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        with open(path, "rb") as fh:
            data = fh.read()
    except InvalidInput:
        raise
    except OSError as exc:
        raise InvalidInput(path, None, f"cannot read: {exc.strerror or exc}") from None
    text, bom = decode(data, path)
    return Source(path, text, bom, st.st_mtime_ns)


def encode(text: str, bom: bool) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def write_atomic(path: str, data: bytes, expected_mtime_ns: int | None = None) -> None:
    """Write via a temp file in the same directory and rename: never a partial file.

    The file mode is kept. A file changed on disk since it was read is not overwritten, nor is
    a read-only file. The rename is atomic: a process killed at any point leaves the old or the
    new content (there is no fsync: like black and ruff, power loss is the filesystem's business).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and expected_mtime_ns is not None and st.st_mtime_ns != expected_mtime_ns:
        raise InvalidInput(path, None, "changed on disk since it was read; not overwritten")
    if st is not None and not st.st_mode & 0o222:
        raise InvalidInput(path, None, "read-only file; not written")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".dra-migrate-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if st is not None:
            os.chmod(tmp, st.st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InvalidInput(path, None, f"cannot write: {exc.strerror or exc}") from None


@dataclass(frozen=True, slots=True)
class Write:
    """One file of a ``write_together`` change."""

    path: str
    data: bytes
    expected_mtime_ns: int | None = None  #: as for write_atomic
    old: bytes | None = None  #: its content when it was read; None: it did not exist


def write_together(writes: list[Write]) -> None:
    """Write several files as one change: all of them, or (as far as the disk allows) none.

    Each file is written with ``write_atomic``, in order; when one fails, the ones already
    written get their old content back (or are removed when they are new) and the error is raised.
    """
    done: list[Write] = []
    try:
        for w in writes:
            write_atomic(w.path, w.data, w.expected_mtime_ns)
            done.append(w)
    except InvalidInput:
        for w in reversed(done):
            try:
                if w.old is None:
                    os.unlink(w.path)
                else:
                    write_atomic(w.path, w.old)
            except (OSError, InvalidInput):
                pass
        raise
