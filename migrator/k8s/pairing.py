"""Migrate one file in memory and pair each pod spec before with the same pod spec after.

``verify`` (equivalence), ``plan`` (plan/build) and ``preview`` all need the same three things: the
rewrite's result, today's objects and the rewritten ones as data, and for each converted pod spec
its two versions. They get them here, keyed by one typed reference (``key_of``: the object's kind,
namespace and name, as ``K8sObject.ref`` reads them, so a finding's ``obj`` finds its object).
``krm`` uses the same key (``ref_key``) to attach each result to the item it is about.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterator

from migrator.text.documents import Document, check_document, parse, to_python
from migrator.engine import TextResult, migrate_text
from migrator.errors import InvalidInput
from migrator.model import Finding, ObjectRef, Status
from migrator.k8s.podspec import as_dict, claim_index, objects_of, pod_at
from migrator.text.verify import Parsed


def key_of(obj: dict[str, Any]) -> ObjectRef:
    """The reference of an object given as data, as ``K8sObject.ref`` makes it from the YAML (name,
    else generateName; a field of a non-scalar type reads as absent), without the apiVersion."""
    meta = as_dict(obj.get("metadata"))

    def text(key: str) -> str | None:
        v = meta.get(key)
        return None if v is None or isinstance(v, (dict, list)) else v if isinstance(v, str) else str(v)

    return ObjectRef(str(obj.get("kind")), text("name") or text("generateName") or None, text("namespace") or None)


def ref_key(ref: ObjectRef) -> ObjectRef:
    """``ref`` without its apiVersion: the key of the object in every pairing."""
    return ObjectRef(ref.kind, ref.name, ref.namespace)


def finding_key(f: Finding) -> ObjectRef | None:
    return None if f.obj is None else ref_key(f.obj)


@dataclass(frozen=True)
class Pair:
    """One converted pod spec: the object and the pod spec before and after the rewrite."""

    finding: Finding  #: its GPU000 (converted) finding
    key: ObjectRef
    before: dict[str, Any]
    after: dict[str, Any]
    pod_before: dict[str, Any]
    pod_after: dict[str, Any]


class Migrated:
    """The rewrite's result, with both sides parsed on first use (a file the rewrite left alone
    costs no parse unless its objects are asked for)."""

    def __init__(self, path: str, text: str, result: TextResult, parsed: Parsed | None = None) -> None:
        self.path, self.text, self.result = path, text, result
        self._parsed = parsed or Parsed()  #: what the rewrite parsed already (not parsed again)
        self._by_key: dict[str, dict[ObjectRef, dict[str, Any]]] = {}

    @property
    def changed(self) -> bool:
        return self.result.text != self.text

    @functools.cached_property
    def _before(self) -> tuple[tuple[Document, ...], list[Any], InvalidInput | None]:
        kept = self._parsed
        if kept.before is not None:
            docs = tuple(kept.before)
            return docs, [kept.data_before[i] if i in kept.data_before else to_python(d.root)
                          for i, d in enumerate(docs)], None
        try:
            docs = tuple(parse(self.text, self.path))
        except InvalidInput as exc:  # the rewrite passed it by unparsed (no trigger word, e.g. a Helm template)
            return (), [], exc
        return docs, [to_python(d.root) for d in docs], None

    @property
    def unreadable(self) -> InvalidInput | None:
        """Why today's text cannot be parsed, though the rewrite passed it by (nothing to pair)."""
        return self._before[2]

    @property
    def docs_before(self) -> tuple[Document, ...]:
        return self._before[0]

    @functools.cached_property
    def docs_after(self) -> tuple[Document, ...]:
        if not self.changed:
            return self.docs_before
        kept = self._parsed.after
        if kept is None:
            return tuple(parse(self.result.text, self.path))
        # the rewrite's check parsed it unchecked, and checked the keys of the documents it edited
        # (the others are today's, checked): where the text has a "*", the alias budget is counted too
        if "*" in self.result.text:
            for d in kept:
                if d.root is not None:
                    check_document(d.root, self.path)
        return tuple(kept)

    @functools.cached_property
    def before(self) -> tuple[dict[str, Any], ...]:
        """Today's objects (List items expanded)."""
        return tuple(objects_of(self._before[1]))

    @functools.cached_property
    def after(self) -> tuple[dict[str, Any], ...]:
        """The rewritten file's objects (side-file templates not included)."""
        if not self.changed:
            return self.before
        done = self._parsed.data_after if self._parsed.after is not None else {}
        return tuple(objects_of([done[i] if i in done else to_python(d.root)
                                 for i, d in enumerate(self.docs_after)]))

    def claims(self) -> dict[str, dict[str, Any]]:
        """ResourceClaims and ResourceClaimTemplates after the rewrite, side-file ones included."""
        return claim_index(list(self.after) + list(self.result.templates))

    def by_key(self, which: str) -> dict[ObjectRef, dict[str, Any]]:
        if which not in self._by_key:
            self._by_key[which] = {key_of(o): o for o in (self.before if which == "before" else self.after)}
        return self._by_key[which]

    def pairs(self) -> Iterator[Pair]:
        """Each converted pod spec, before and after (those whose objects both sides hold)."""
        before, after = self.by_key("before"), self.by_key("after")
        for f in self.result.findings:
            if f.status is not Status.CONVERTED or f.code != "GPU000":
                continue
            key = finding_key(f)
            if key is None:
                continue
            obj_b, obj_a = before.get(key), after.get(key)
            pod_b, pod_a = pod_at(obj_b, f.where), pod_at(obj_a, f.where)
            if obj_b is None or obj_a is None or pod_b is None or pod_a is None:
                continue
            yield Pair(f, key, obj_b, obj_a, pod_b, pod_a)


def migrate(text: str, path: str, mode: Any) -> Migrated:
    """The rewrite of ``text`` (InvalidInput when the rewrite raises it), both sides on demand."""
    parsed = Parsed()
    return Migrated(path, text, migrate_text(text, path, mode, keep=parsed), parsed)


@dataclass(frozen=True)
class Detached:
    """What ``plan`` reads of one file's migration (``Migrated``'s answers, computed), as plain data:
    it comes back from a worker process."""

    path: str
    text: str
    result: TextResult
    unreadable: str | None
    before_by_key: dict[ObjectRef, dict[str, Any]]
    after: tuple[dict[str, Any], ...]

    def by_key(self, which: str) -> dict[ObjectRef, dict[str, Any]]:
        if which != "before":
            raise ValueError("a detached migration keeps today's objects by key only")
        return self.before_by_key


def _detach(path: str, text: str, mode: Any) -> Detached | str:
    try:
        m = migrate(text, path, mode)
    except InvalidInput as exc:
        return str(exc)
    if m.unreadable is not None:
        return Detached(path, text, m.result, str(m.unreadable), {}, ())
    return Detached(path, text, m.result, None, m.by_key("before"), m.after)


def _detach_batch(items: list[tuple[str, str]], mode: Any) -> list[Detached | str]:
    return [_detach(path, text, mode) for path, text in items]


#: ``migrate_all`` uses worker processes from this much text that passes the pre-filter on (a
#: worker's start and the data sent back cost about what migrating 40 KiB of manifests does)
PARALLEL_BYTES = 512 * 1024


def migrate_all(paths: list[tuple[str, str]], mode: Any, jobs: int = 0) -> Iterator[Migrated | Detached | str]:
    """``migrate`` of each (path, text), in order; a str for a file whose rewrite raised InvalidInput.

    ``jobs``: worker processes (0: one per core once the texts the pre-filter lets through reach
    PARALLEL_BYTES; 1: none). Files are independent, so workers change nothing but the time.
    """
    import os

    from migrator.tables import might_matter, triggers

    workers = jobs
    if jobs == 0:
        t = triggers()
        heavy = sum(len(text) for _, text in paths if might_matter(text, t, mode))
        workers = (os.cpu_count() or 1) if heavy >= PARALLEL_BYTES else 1
    if workers <= 1 or len(paths) < 2:
        for path, text in paths:
            try:
                yield migrate(text, path, mode)
            except InvalidInput as exc:
                yield str(exc)
        return
    from concurrent.futures import ProcessPoolExecutor

    size = max(1, min(16, len(paths) // (workers * 4) or 1))
    batches = [paths[i:i + size] for i in range(0, len(paths), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for batch in pool.map(_detach_batch, batches, [mode] * len(batches)):
            yield from batch
