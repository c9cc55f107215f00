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
    """None when ``new_text`` means exactly what the patch intended, else what went wrong.

    Documents the patch did not touch are byte-identical in the new text (splices never cross
    a document they do not edit), so only the touched ones are compared.
    """
    try:
        new_docs = parse(new_text, path, checked=False)
    except InvalidInput as exc:
        return f"internal check failed: the edited text does not parse ({exc.message})"
    touched = patch.touched_documents()
    old = [to_python(d.root) if d.index in touched else _UNTOUCHED for d in docs]
    expected = patch.apply_data(old)
    if len(expected) != len(new_docs):
        return "internal check failed: the edited text has a different number of documents"
    try:
        for want, got in zip(expected, new_docs):
            if want is not _UNTOUCHED and want != to_python(got.root):
                return "internal check failed: the edited text does not mean what was intended"
    except RecursionError:
        return "internal check failed: recursive data"
    return None


class _Untouched:
    def __deepcopy__(self, memo: object) -> _Untouched:
        return self


_UNTOUCHED = _Untouched()
