"""Expected failures: each becomes one line for the user, never a traceback."""

from __future__ import annotations


class MigratorError(Exception):
    """An error the user can act on; printed as one line, no traceback."""


class InvalidInput(MigratorError):
    """A file that cannot be read as Kubernetes YAML. It is left untouched."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class CannotEdit(MigratorError):
    """The text around an edit has a shape the splicer will not touch (reported, not guessed)."""


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (for the backstops' one-line reports)."""
    text = str(exc).strip().splitlines()
    msg = text[0][:200] if text else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
