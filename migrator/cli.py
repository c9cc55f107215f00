"""Command line entry point: ``main``. The commands are the typer app of migrator/commands.py.

The pre-commit hooks (.pre-commit-hooks.yaml) run ``rewrite --write`` or ``rewrite --check --diff``
on every commit, mostly on files without GPUs: importing typer was then most of the run. An
argument list of only those flags and plain paths runs the same ``rewrite`` body
(migrator/flags.py) without typer; every other one (help, another flag, stdin, a usage error,
shell completion) goes to typer, so their behaviour is typer's alone. The typer releases that fit
(0.26 to 0.28; 0.29 is slower to import still) all cost as much: a lighter one does not exist.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from migrator import flags
from migrator.errors import MigratorError

#: What the hooks and their users pass, by the rewrite parameter each sets (a flag given twice, a
#: short-flag cluster such as -qv or ``--``: typer's).
_HOOK_FLAGS = {"--write": "write", "--check": "check", "--diff": "diff", "--quiet": "quiet", "-q": "quiet",
               "--verbose": "verbose", "-v": "verbose"}
#: click's shell-completion request (``_{PROG}_COMPLETE``): typer answers it
_COMPLETE_VAR = "_DRA_MIGRATE_COMPLETE"


def _hook_args(args: list[str]) -> tuple[list[str], dict[str, Any]] | None:
    """(paths, flags) when ``args`` is ``rewrite`` with only _HOOK_FLAGS and paths (at least one,
    none starting with ``-``: that is stdin or an option); None otherwise."""
    if not args or args[0] != "rewrite" or os.environ.get(_COMPLETE_VAR) or not all(isinstance(a, str) for a in args):
        return None  # (tests may pass paths as Path objects: click takes them as their str())
    paths: list[str] = []
    given: dict[str, Any] = {}
    for a in args[1:]:
        if not a.startswith("-"):
            paths.append(a)
            continue
        name = _HOOK_FLAGS.get(a)
        if name is None or name in given:
            return None
        given[name] = True
    return (paths, given) if paths else None


def _run_hook(paths: list[str], given: dict[str, Any]) -> int:
    """``rewrite`` as typer runs it: the config's defaults (click's default_map), the command's
    body, and click's handling of Ctrl-D and a closed pipe (typer/core.py ``_main``)."""
    import errno

    try:
        return flags.run_rewrite(paths, **flags._defaults().get("rewrite", {}), **given)
    except EOFError:
        sys.stderr.write("\n")
        sys.stderr.flush()
        from migrator.report import INTERRUPTED

        return INTERRUPTED
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _Pacified(sys.stdout)
        sys.stderr = _Pacified(sys.stderr)
        from migrator.report import BROKEN_PIPE

        sys.exit(BROKEN_PIPE)


class _Pacified:
    """click's PacifyFlushWrapper: after a closed pipe, the interpreter's last flush stays quiet."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        import errno

        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.wrapped, attr)


def __getattr__(name: str) -> Any:
    """The typer app and its parts (``app``, ``_Command``, the choice enums), as this module had
    them: imported on first use, never by the hook's path."""
    if name.startswith("__"):
        raise AttributeError(name)
    from migrator import commands

    return getattr(commands, name)


def _usage_error(exc: Exception) -> int | None:
    """Typer's usage errors as one line on stderr; None if ``exc`` is not one.

    Their classes are click's, which typer vendors from 0.26 on (typer._click) and earlier
    imports as click: they are found from typer.BadParameter, public on every release.
    """
    import typer

    base = next((c for c in type(typer.BadParameter("")).__mro__ if c.__name__ == "ClickException"), None)
    if base is None or not isinstance(exc, base):
        return None
    ctx = getattr(exc, "ctx", None)
    code = int(getattr(exc, "exit_code", 2) or 2)
    if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments: the help (rich printed it already)
        text = exc.format_message()  # type: ignore[attr-defined]
        if text.strip():
            sys.stderr.write(text.rstrip("\n") + "\n")
        return code
    where = ctx.command_path if ctx is not None else "dra-migrate"
    message = " ".join(str(exc.format_message()).split()).rstrip(".")  # type: ignore[attr-defined]
    sys.stderr.write(f"{where}: {message}; see '{where} --help'\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (tests call it directly)."""
    import gc

    # A batch run holds many small objects and creates few cycles: Python's default thresholds
    # make full collections scan the growing heap again and again (quadratic time on big repos
    # and plans; see BENCHMARKS.md). Collect rarely instead.
    gc.set_threshold(200_000, 100, 100)
    flags.reset()
    hook = _hook_args(sys.argv[1:] if argv is None else list(argv))
    try:
        if hook is not None:
            return _run_hook(*hook)
        import typer

        from migrator.commands import app

        try:
            rv = app(args=argv, prog_name="dra-migrate", standalone_mode=False, default_map=flags._defaults())
            return rv if isinstance(rv, int) else flags.exit_code()
        except typer.Exit as exc:
            return int(exc.exit_code)
        except typer.Abort:
            from migrator.report import INTERRUPTED

            return INTERRUPTED
    except MigratorError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:  # one line per error
            sys.stderr.write(f"dra-migrate: {line}\n")
        return flags.exit_code(failed=True)
    except KeyboardInterrupt:
        from migrator.report import INTERRUPTED

        return INTERRUPTED
    except Exception as exc:
        code = _usage_error(exc)
        if code is None:
            raise
        return code
