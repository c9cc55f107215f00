"""Prove a rendered file before anyone may write it (black's assert_equivalent/assert_stable).

The rendered text must parse, and its documents must equal the original documents with
exactly the recorded operations applied: nothing else changed meaning. Second-run stability
is checked by the tests (and by ``rewrite`` on itself: the output has nothing left to do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrator.text.documents import Document, parse, to_python, to_python_keys
from migrator.text.edit import Patch
from migrator.errors import InvalidInput


@dataclass
class Parsed:
    """What a rewrite parsed on its way, for a caller that needs the same documents again (``plan``
    pairs both sides: parsing them once more cost as much as the rewrite's own parse). Nothing
    here is mutated after it is kept."""

    before: list[Document] | None = None  #: today's documents (parse, checked)
    #: the rendered text's, once it passed the check: an unchecked parse whose edited documents were
    #: checked for repeated keys on the way (the others are byte-identical to checked ones)
    after: list[Document] | None = None
    data_before: dict[int, Any] = field(default_factory=dict)  #: to_python of touched documents, by index
    data_after: dict[int, Any] = field(default_factory=dict)  #: the same documents after the rewrite


def check_rendered(new_text: str, docs: list[Document], patch: Patch, path: str,
                   keep: Parsed | None = None) -> str | None:
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
    expected = patch.apply_data(old)  # copies: ``old`` stays as parsed
    if len(expected) != len(new_docs):
        return "internal check failed: the edited text has a different number of documents"
    got_data: dict[int, Any] = {}
    try:
        for i, (want, got) in enumerate(zip(expected, new_docs)):
            if want is not _UNTOUCHED:
                got_data[i] = to_python_keys(got.root, path) if got.root is not None else None
                if want != got_data[i]:
                    return "internal check failed: the edited text does not mean what was intended"
    except RecursionError:
        return "internal check failed: recursive data"
    except InvalidInput as exc:  # a splice that wrote a key the mapping has already
        return f"internal check failed: the edited text is not valid ({exc.message})"
    if keep is not None:
        keep.after = new_docs
        keep.data_before = {i: d for i, d in enumerate(old) if d is not _UNTOUCHED}
        keep.data_after = got_data
    return None


class _Untouched:
    def __deepcopy__(self, memo: object) -> _Untouched:
        return self


_UNTOUCHED = _Untouched()
