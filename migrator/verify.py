"""Prove a rendered file before anyone may write it (black's assert_equivalent/assert_stable).

The rendered text must parse, and its documents must equal the original documents with
exactly the recorded operations applied: nothing else changed meaning. Second-run stability
is checked by the tests (and by ``rewrite`` on itself: the output has nothing left to do).
"""

from __future__ import annotations

from migrator.documents import Document, parse, to_python
from migrator.edit import Patch
from migrator.errors import InvalidInput


def check_rendered(new_text: str, docs: list[Document], patch: Patch, path: str) -> str | None:
    """None when ``new_text`` means exactly what the patch intended, else what went wrong."""
    try:
        new_docs = parse(new_text, path)
    except InvalidInput as exc:
        return f"internal check failed: the edited text does not parse ({exc.message})"
    expected = patch.apply_data([to_python(d.root) for d in docs])
    actual = [to_python(d.root) for d in new_docs]
    if expected != actual:
        return "internal check failed: the edited text does not mean what was intended"
    return None
