"""Find Kubernetes objects and the pod specs inside them.

Known kinds are looked up in ``rules/workloads.yaml``; an unknown kind is searched by shape (a
mapping whose ``containers`` is a list of mappings with ``name``/``image``) so a CRD we have
never seen is still reported. ``kind: List`` is expanded. YAML that is not a Kubernetes object
(no ``apiVersion``/``kind``) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrator.text.documents import Document, get, items, pairs, str_at, walk
from migrator.model import ObjectRef
from migrator.tables import PodPath, Tables


@dataclass(frozen=True, slots=True)
class K8sObject:
    """One Kubernetes object: a document root or an item of a ``kind: List``."""

    doc: int
    node: MappingNode
    api_version: str
    kind: str
    name: str | None
    namespace: str | None
    list_node: SequenceNode | None = None  #: the List's ``items`` when inside a List
    list_index: int | None = None

    @property
    def group(self) -> str:
        return self.api_version.rsplit("/", 1)[0] if "/" in self.api_version else ""

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.name, self.namespace, self.api_version)

    @property
    def label(self) -> str:
        return self.ref.label


@dataclass(frozen=True, slots=True)
class PodSpecRef:
    """A pod spec inside an object, with how we found it."""

    obj: K8sObject
    node: MappingNode
    path: tuple[Any, ...]
    role: str | None
    known: bool  #: from the table (True) or found by shape (False)
    convert: bool
    reason: str | None  #: why it is not converted (convert=False)

    @property
    def where(self) -> str:
        return "/" + "/".join(str(p) for p in self.path)

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1


def objects(docs: list[Document],
            broken: list[tuple[int, tuple[Any, ...], Node, str]] | None = None) -> Iterator[K8sObject]:
    """The objects of ``docs``; ``broken`` collects (document, path, node, expected type) for a
    ``kind: List`` whose ``items`` (or an item) has a type the API would reject."""
    for doc in docs:
        root = doc.root
        if not isinstance(root, MappingNode):
            continue
        api = str_at(root, "apiVersion")
        kind = str_at(root, "kind")
        if not api or not kind:
            continue
        if kind == "List" or (kind.endswith("List") and isinstance(get(root, "items"), SequenceNode)):
            item_seq = get(root, "items")
            if not isinstance(item_seq, SequenceNode):
                if item_seq is not None and not _null(item_seq) and broken is not None:
                    broken.append((doc.index, ("items",), item_seq, "a list"))
                continue
            for i, item in enumerate(item_seq.value):
                if not isinstance(item, MappingNode) and broken is not None:
                    broken.append((doc.index, ("items", i), item, "a mapping"))
                if isinstance(item, MappingNode):
                    iapi, ikind = str_at(item, "apiVersion"), str_at(item, "kind")
                    if iapi and ikind:
                        yield K8sObject(doc.index, item, iapi, ikind, str_at(item, "metadata", "name"),
                                        str_at(item, "metadata", "namespace"), item_seq, i)
            continue
        name = str_at(root, "metadata", "name") or str_at(root, "metadata", "generateName")
        yield K8sObject(doc.index, root, api, kind, name, str_at(root, "metadata", "namespace"))


def _follow(node: Node, segments: tuple[str, ...], path: tuple[Any, ...], roles: tuple[str, ...],
            broken: list[tuple[tuple[Any, ...], Node, str]] | None = None,
            ) -> Iterator[tuple[MappingNode, tuple[Any, ...], tuple[str, ...]]]:
    if not isinstance(node, MappingNode):
        # null is an absent field; any other type is one the API would reject (reported by the caller)
        if broken is not None and not _null(node):
            broken.append((path, node, "a mapping"))
        return
    if not segments:
        yield node, path, roles
        return
    seg, rest = segments[0], segments[1:]
    if seg == "*":
        for k, v in pairs(node):
            if isinstance(k, ScalarNode):
                yield from _follow(v, rest, path + (k.value,), roles + (str(k.value).lower(),), broken)
        return
    if seg.endswith("[]"):
        key = seg[:-2]
        seq = get(node, key)
        if seq is not None and not isinstance(seq, SequenceNode) and not _null(seq):
            if broken is not None:
                broken.append((path + (key,), seq, "a list"))
            return
        for i, item in enumerate(items(seq)):
            label = str_at(item, "name") or str_at(item, "groupName") or str(i)
            if _null(item):  # a null list item is not absent: the API would reject it
                if broken is not None:
                    broken.append((path + (key, i), item, "a mapping"))
                continue
            yield from _follow(item, rest, path + (key, i), roles + (label,), broken)
        return
    child = get(node, seg)
    if child is not None:
        yield from _follow(child, rest, path + (seg,), roles, broken)


def _null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def pod_specs(obj: K8sObject, tables: Tables,
              broken: list[tuple[tuple[Any, ...], Node, str]] | None = None) -> Iterator[PodSpecRef]:
    """The pod specs of ``obj``: by table for known kinds, by shape otherwise.

    ``broken`` collects (path, node, expected type) where a known kind's path to a pod spec
    crosses a field of the wrong type (a ``template`` that is a list).
    """
    row = tables.workloads.get((obj.group, obj.kind))
    if row is not None:
        for pp in row.paths:
            for node, path, roles in _follow(obj.node, pp.path, (), (), broken):
                role = "-".join(r for r in ((pp.role,) if pp.role else ()) + roles if r) or None
                yield PodSpecRef(obj, node, path, role, True, row.convert, row.reason)
        return
    if (obj.group, obj.kind) in tables.non_pod:
        return
    for path, node in walk(obj.node):
        if isinstance(node, MappingNode) and looks_like_pod_spec(node):
            role = "-".join(str(p) for p in path if not isinstance(p, int) and p not in
                            ("spec", "template")) or None
            yield PodSpecRef(obj, node, path, role, False, False,
                             f"{obj.kind} ({obj.api_version}) is not in rules/workloads.yaml: "
                             "its controller may drop fields it does not know (resourceClaims)")


def pod_metadata(ref: PodSpecRef) -> Node | None:
    """The ``metadata`` next to a pod spec (its template's; the object's own for a Pod)."""
    if not ref.path:
        return get(ref.obj.node, "metadata")
    node: Node | None = ref.obj.node
    for step in ref.path[:-1]:
        if isinstance(step, int):
            node = node.value[step] if isinstance(node, SequenceNode) else None
        else:
            node = get(node, step)
    return get(node, "metadata")


def looks_like_pod_spec(node: Node) -> bool:
    containers = get(node, "containers")
    if not isinstance(containers, SequenceNode) or not containers.value:
        return False
    return all(isinstance(c, MappingNode) and (get(c, "name") is not None or get(c, "image") is not None)
               for c in containers.value)


def pod_path(pp: PodPath) -> str:
    return ".".join(pp.path)
