"""Inputs: files, directories (recursive ``*.yaml``/``*.yml``) and ``-`` for stdin; and safe writes."""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

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
    directory: bool = False  #: a symlinked directory (nothing under it was read)

    def reason(self) -> str:
        what = "symlinked directory" if self.directory else "symlink"
        return f"{what} to {self.target}, outside the given directory: not followed (--follow-symlinks to follow it)"

    def message(self) -> str:
        return f"{self.path}: {self.reason()}"


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
            entered = {root}  # real paths of the directories walked: a link cycle is walked once
            skipped: list[NotFollowed] = []
            # per found file: (is a link, its real path); a file that is not a link is its real
            # directory's entry (realpath, an lstat per path component, runs for links only)
            info: dict[str, tuple[bool, str]] = {}
            # top-down, subdirectories in name order (os.walk's order), with each directory's real
            # path carried down: a directory that is not a link is its real parent's entry, so the
            # walk needs no realpath (an lstat per path component) but for links, and the entries'
            # types come from scandir (no lstat per file to ask whether it is a link)
            stack: list[tuple[str, str]] = [(os.fspath(p), root)]
            while stack:
                dirpath, real_dir = stack.pop()
                try:
                    with os.scandir(dirpath) as it:
                        entries = list(it)
                except OSError:
                    continue  # as os.walk: a directory that cannot be listed is passed by
                subdirs: list[tuple[str, str]] = []
                for e in sorted(entries, key=lambda e: e.name):
                    try:
                        is_dir = e.is_dir()  # follows a link, as os.walk's dirnames do
                    except OSError:
                        is_dir = False
                    if is_dir:
                        if e.name in SKIP_DIRS:
                            continue
                        sub = e.path
                        if e.is_symlink():
                            real = os.path.realpath(sub)
                            if not follow_symlinks:
                                # not entered; one inside the root is walked under its own name
                                if not _inside(real, root) and keep(sub):
                                    skipped.append(NotFollowed(sub, real, directory=True))
                                continue
                            if real in entered or _inside(real, root) or _inside(root, real) or \
                                    any(_inside(real, done) for done in entered):
                                # a cycle, a directory the walk reaches by its own name, or an
                                # ancestor of the root (it would walk the root again)
                                continue
                            entered.add(real)
                            subdirs.append((sub, real))
                        else:
                            subdirs.append((sub, os.path.join(real_dir, e.name)))
                    elif e.name.endswith(suffixes):
                        f = e.path
                        if e.is_symlink():
                            info[f] = (True, os.path.realpath(f))
                        else:
                            info[f] = (False, os.path.join(real_dir, e.name))
                        found.append(f)
                stack.extend(reversed(subdirs))
            yield from skipped
            # a link to a file that is also found by its own name is that file: read and written once
            plain = {info[f][1] for f in found if not info[f][0]}
            # a file reached through several followed links: its shortest name (a diff path git applies)
            # (file links are handled below: the file's own name wins over a link to it)
            shortest: dict[str, str] = {}
            for f in found:
                link, key = info[f]
                if not link and (key not in shortest or
                                 (f.count(os.sep), f) < (shortest[key].count(os.sep), shortest[key])):
                    shortest[key] = f
            found = [f for f in found if info[f][0] or shortest[info[f][1]] == f]
            for f in sorted(found):
                if not keep(f):
                    continue
                link, real = info[f]
                if link and real in plain:
                    continue
                if link:
                    if not follow_symlinks and os.path.commonpath([root, real]) != root:
                        yield NotFollowed(f, real)
                        continue
                    bad = _not_a_file(f, real)
                    if bad is not None:
                        yield bad
                        continue
                    f = real
                key = real
                if key not in seen:
                    seen.add(key)
                    yield f
        elif p.exists():
            real = os.path.realpath(given) if os.path.islink(given) else given
            bad = _not_a_file(given, real) if real != given else None
            if bad is not None:
                if keep(given):
                    yield bad
                continue
            key = os.path.realpath(real)
            if key not in seen and keep(given):
                seen.add(key)
                yield real
        else:
            yield InvalidInput(given, None, "no such file or directory")


def _not_a_file(link: str, real: str) -> InvalidInput | None:
    """A symlink to something that is not a regular file, reported under the link's own name."""
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return InvalidInput(link, None, f"symlink to {real}, which does not exist: not read")
    except OSError:
        return None  # reading it says why
    if stat.S_ISREG(mode):
        return None
    return InvalidInput(link, None, f"symlink to {real}: {_kind(mode)}, not a regular file: not read")


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([root, path]) == root


@dataclass(frozen=True, slots=True)
class Scope:
    """What a run was given, for the files it writes beside its inputs (``--templates file``).

    A side file obeys the rules of an input found under a directory: read only if it is a
    regular file, and a symlink is followed only when it points inside the root (the given
    directory the input was found under; for a file given by name, the directory holding it)
    or with ``follow_symlinks``.
    """

    roots: tuple[str, ...] = ()
    follow_symlinks: bool = False

    @classmethod
    def of(cls, paths: list[str], follow_symlinks: bool = False) -> Scope:
        dirs = {os.path.realpath(p) for p in paths if p != STDIN and os.path.isdir(p)}
        return cls(tuple(sorted(dirs, key=len, reverse=True)), follow_symlinks)

    def root_for(self, path: str) -> str:
        real = os.path.realpath(path)
        return next((r for r in self.roots if _inside(real, r)), os.path.dirname(real))


def side_file(path: str, scope: Scope, beside: str) -> tuple[str, Source | None]:
    """Where to write the file ``path`` that belongs to input ``beside``, and what it holds now.

    None when it does not exist. A symlink out of the root is InvalidInput: its target is
    neither read nor written (nor copied into the repository, nor shown in a diff).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path, None
    except OSError as exc:
        raise InvalidInput(path, None, f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        real = os.path.realpath(path)
        if not scope.follow_symlinks and not _inside(real, scope.root_for(beside)):
            raise InvalidInput(path, None, f"symlink to {real}, outside the given directory: not followed "
                                           "(--follow-symlinks to follow it)")
        if not os.path.lexists(real):
            raise InvalidInput(path, None, f"symlink to {real}, which does not exist: not followed")
        path = real
    return path, read(path)


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


def _too_big(path: str) -> InvalidInput:
    return InvalidInput(path, None, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def not_regular(path: str, mode: int) -> InvalidInput:
    return InvalidInput(path, None, f"{_kind(mode)}, not a regular file: not read")


def _read_bounded(fd: int, path: str) -> bytes:
    """At most MAX_BYTES from ``fd``; one byte more is a refusal (sizes can lie: /proc, growing files)."""
    chunks: list[bytes] = []
    left = MAX_BYTES + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    if left <= 0:
        raise _too_big(path)
    return b"".join(chunks)


def read_bytes(path: str) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file (symlinks followed), bounded; anything else is InvalidInput.

    Special files are refused before they are opened (a FIFO would block, /dev/zero never
    ends); O_NONBLOCK and the fstat on the open descriptor close the race where the path is
    swapped for one between the check and the open.
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular(path, st.st_mode)
        if st.st_size > MAX_BYTES:
            raise _too_big(path)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise not_regular(path, st.st_mode)
            data = _read_bounded(fd, path)
        finally:
            os.close(fd)
    except InvalidInput:
        raise
    except OSError as exc:
        raise InvalidInput(path, None, f"cannot read: {exc.strerror or exc}") from None
    return data, st


def read_stdin(stream: BinaryIO | None = None) -> bytes:
    """All of stdin, bounded like a file (one reader for every command that takes ``-``)."""
    if stream is None:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        if stream is None:  # started with stdin closed
            return b""
    try:
        data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidInput("<stdin>", None, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise InvalidInput("<stdin>", None, f"input is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data


def read(path: str, stdin: bytes | None = None) -> Source:
    if path == STDIN:
        data = stdin if stdin is not None else b""
        if len(data) > MAX_BYTES:
            raise InvalidInput("<stdin>", None, f"input is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        text, bom = decode(data, "<stdin>")
        return Source(STDIN, text, bom, None)
    data, st = read_bytes(path)
    text, bom = decode(data, path)
    return Source(path, text, bom, st.st_mtime_ns)


def encode(text: str, bom: bool) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


#: Our temp files, beside the file they replace: ".dra-migrate-<pid>-<8 random>.tmp". A run
#: killed by SIGKILL leaves one behind; the next run that writes into that directory removes it
#: (see sweep_temp_files), so nobody commits it.
TEMP_PREFIX = ".dra-migrate-"
_TEMP_NAME = re.compile(r"\.dra-migrate-(\d+)-[a-z0-9_]{8}\.tmp")
_STARTED = time.time()
_swept: set[str] = set()
_umask: int | None = None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def sweep_temp_files(directory: str) -> list[str]:
    """Remove the temp files killed runs left in ``directory``; returns their paths.

    Only our exact name pattern, only regular files, only when the process that made it is gone
    and the file is older than this run: a live run's temp file is never touched.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP_NAME.fullmatch(e.name)
        if not m:
            continue
        try:
            st = e.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime >= _STARTED or _alive(int(m.group(1))):
                continue
            os.unlink(e.path)
            removed.append(e.path)
        except OSError:
            continue
    return removed


def _new_file_mode() -> int:
    global _umask
    if _umask is None:
        _umask = os.umask(0o022)
        os.umask(_umask)
    return 0o666 & ~_umask


def _check(path: str, expected_mtime_ns: int | None, new: bool) -> os.stat_result | None:
    """Why ``path`` must not be replaced now (InvalidInput), or its stat (None: absent)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if expected_mtime_ns is not None:
            raise InvalidInput(path, None, "deleted since it was read; not recreated") from None
        return None
    except OSError as exc:
        raise InvalidInput(path, None, f"cannot write: {exc.strerror or exc}") from None
    if new:
        raise InvalidInput(path, None, "created by something else since this run looked; not overwritten")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(path, None, f"{_kind(st.st_mode)}, not a regular file: not written")
    if expected_mtime_ns is not None and st.st_mtime_ns != expected_mtime_ns:
        raise InvalidInput(path, None, "changed on disk since it was read; not overwritten")
    if not st.st_mode & 0o222:
        raise InvalidInput(path, None, "read-only file; not written")
    if st.st_nlink > 1:
        # Replacing it by rename would split it from its other links; writing in place (what
        # black and ruff do, black/__init__.py format_file_in_place) is not atomic.
        raise InvalidInput(path, None, f"has {st.st_nlink} hard links: not rewritten (a rename would split "
                                       "it from the others; copy it to a file of its own to migrate it)")
    return st


@dataclass(frozen=True, slots=True)
class Pending:
    """New content in a temp file beside ``path``, ready to be renamed over it (or discarded)."""

    path: str
    tmp: str
    expected_mtime_ns: int | None
    new: bool


def prepare(path: str, data: bytes, expected_mtime_ns: int | None = None, *, new: bool = False) -> Pending:
    """Write ``data`` to a temp file in ``path``'s directory with its mode, owner and group.

    Refused (InvalidInput, nothing left behind): a file changed on disk since it was read
    (``expected_mtime_ns``), deleted since (not recreated), created since (``new``), read-only,
    not regular or with several hard links; an owner or group that cannot be kept.
    """
    if os.path.islink(path):
        path = os.path.realpath(path)  # written through: links stay links
    directory = os.path.dirname(os.path.abspath(path))
    if directory not in _swept:
        _swept.add(directory)
        sweep_temp_files(directory)
    st = _check(path, expected_mtime_ns, new)
    tmp = None
    import tempfile  # here: --check and the hook's untouched files never write (start-up)

    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if st is not None:
                mine = os.fstat(fh.fileno())
                if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
                    try:
                        os.fchown(fh.fileno(), st.st_uid, st.st_gid)
                    except PermissionError:
                        raise InvalidInput(path, None, f"owned by {st.st_uid}:{st.st_gid}, which this user "
                                                       "cannot keep on a rewritten file; not written") from None
            # after chown, which clears set-id bits
            os.fchmod(fh.fileno(), st.st_mode & 0o7777 if st is not None else _new_file_mode())
    except (OSError, InvalidInput) as exc:
        if tmp is not None:
            _unlink(tmp)
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(path, None, f"cannot write: {exc.strerror or exc}") from None
    return Pending(path, tmp, expected_mtime_ns, new)


def commit(p: Pending) -> None:
    """Rename the temp file over its target: the old or the new content, never a mix."""
    try:
        _check(p.path, p.expected_mtime_ns, p.new)
        if p.new:
            try:
                os.link(p.tmp, p.path)  # fails if the name exists: never overwrites
            except FileExistsError:
                raise InvalidInput(p.path, None, "created by something else since this run looked; "
                                                 "not overwritten") from None
            except OSError:  # no hard links on this filesystem: checked just above
                os.replace(p.tmp, p.path)
                return
            _unlink(p.tmp)
        else:
            os.replace(p.tmp, p.path)
    except (OSError, InvalidInput) as exc:
        discard(p)
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(p.path, None, f"cannot write: {exc.strerror or exc}") from None


def discard(p: Pending) -> None:
    _unlink(p.tmp)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_atomic(path: str, data: bytes, expected_mtime_ns: int | None = None, *, new: bool = False) -> None:
    """Write via a temp file in the same directory and rename: never a partial file.

    Mode, owner and group are kept (see prepare for what is refused). The rename is atomic: a
    process killed at any point leaves the old or the new content (there is no fsync: like black
    and ruff, power loss is the filesystem's business) and at worst a temp file that the next
    run removes.
    """
    commit(prepare(path, data, expected_mtime_ns, new=new))


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
            # a file that did not exist must not exist now either (never overwrite one we did not read)
            write_atomic(w.path, w.data, w.expected_mtime_ns, new=w.old is None and w.expected_mtime_ns is None)
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
