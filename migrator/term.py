"""Colour on a terminal: plain ANSI codes (no rich import on the rewrite path), decided per stream."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Any

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


def wants_colour(stream: IO[Any], flag: bool | None) -> bool:
    """--color/--no-color win; else colour only a terminal, and never with NO_COLOR set.

    https://no-color.org: NO_COLOR present and not empty disables colour added by default; a
    command-line flag overrides it.
    """
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


@dataclass(frozen=True)
class Painter:
    on: bool

    def __call__(self, text: str, style: str) -> str:
        if not self.on or not text:
            return text
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m"

    def diff(self, text: str) -> str:
        """A unified diff with git's colours: headers bold, hunks cyan, removals red, additions green."""
        if not self.on:
            return text
        out = []
        for line in text.splitlines(keepends=True):
            body = line.rstrip("\r\n")
            end = line[len(body):]
            if line.startswith(("--- ", "+++ ")):
                style = "bold"
            elif line.startswith("@@"):
                style = "cyan"
            elif line.startswith("-"):
                style = "red"
            elif line.startswith("+"):
                style = "green"
            else:
                out.append(line)
                continue
            out.append(self(body, style) + end)
        return "".join(out)


def painter(stream: IO[Any], flag: bool | None) -> Painter:
    return Painter(wants_colour(stream, flag))
