"""Markdown that stays well-formed whatever text it shows (CommonMark 0.31, https://spec.commonmark.org)."""

from __future__ import annotations

import re


def code(text: str) -> str:
    """A CommonMark code span showing ``text`` verbatim (spec 6.1: a fence longer than any
    backtick run inside; one space of padding is stripped from each side)."""
    text = text.replace("\r", " ").replace("\n", " ")
    if not text.strip():
        return "`" + (text or " ") + "`"  # only spaces: shown as they are
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def text(value: str) -> str:
    """Free text on one line, with no raw HTML (``<unnamed>`` would be an HTML tag)."""
    return re.sub(r"\s*[\r\n]+\s*", " ", value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fenced(body: str, info: str = "") -> str:
    """A fenced code block that no line of ``body`` can close (spec 4.5)."""
    longest = max((len(m) for m in re.findall(r"^ {0,3}(`{3,})", body, re.M)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def cell(value: str) -> str:
    """Free text in a table cell (GFM tables: a ``|`` ends the cell unless escaped)."""
    return text(value).replace("|", "\\|")
