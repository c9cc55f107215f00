"""KRM function: ``dra-migrate krm`` reads a ResourceList on stdin and writes one on stdout.

KRM Functions Specification v1 (kubernetes-sigs/kustomize cmd/config/docs/api-conventions/
functions-spec.md): input and output are a ``config.kubernetes.io/v1`` ResourceList whose
``items`` is a list of objects; stdout is reserved for that ResourceList, unstructured messages go
to stderr, a non-zero exit code means failure, and ``results[]`` carry severity (error, warning,
info), resourceRef, field path and proposed value. Items keep their ``config.kubernetes.io/*`` and
``internal.config.kubernetes.io/*`` annotations (we edit items in place, so every byte we do not
change is kept); new ResourceClaimTemplates get the path of their workload and the next free
index in that file. Options come from ``functionConfig`` (a ConfigMap's ``data`` or a ``spec``):
``kubeVersion``, ``keepNodeLabels``, ``sharing``, ``convertUnknown``, ``migrationPath``.

Input we cannot process (not YAML, not one ResourceList, ``items`` or an item of the wrong shape,
an unknown or wrong-typed option) is answered, as the specification asks, with a ResourceList on
stdout carrying ``error`` results, and exit code 1: never a traceback, never a half-migrated list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrator.text.documents import Document, detect_layout, get, parse, scalar_value, to_python
from migrator.text.edit import Patch
from migrator.dra import INDEX_KEYS, PATH_KEYS, krm_annotations
from migrator.engine import migrate_text
from migrator.k8s.locate import objects
from migrator.k8s.pairing import finding_key, ref_key
from migrator.report import exit_code
from migrator.errors import CannotEdit, InvalidInput, MigratorError
from migrator.mode import KUBE_VERSIONS, OPTIONS as MODE_OPTIONS, Mode, api_version_for, build_mode
from migrator.model import Finding, ObjectRef, Status

SEVERITY = {Status.MANUAL: "warning", Status.SKIPPED: "info", Status.INFO: "info"}
#: The ResourceList versions of the specification's schema (x-kubernetes-group-version-kind).
#: v2alpha1 replaces ``field.proposedValue`` by the list ``field.proposedValues``.
API_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1", "config.kubernetes.io/v2alpha1")
DEFAULT_API_VERSION = "config.kubernetes.io/v1"
#: functionConfig options and what each accepts; a ConfigMap's data values are strings, so
#: booleans are also accepted as "true"/"false" (which is what `kpt fn eval -- key=value` writes).
#: the functionConfig's names of the rewrite options (migrator/mode.py OPTIONS: one table for
#: the command line, the config file and KRM)
OPTIONS = tuple(o.krm for o in MODE_OPTIONS if o.krm)
_BY_KEY = {o.krm: o for o in MODE_OPTIONS if o.krm}
SHARING = _BY_KEY["sharing"].choices
MIGRATION_PATHS = _BY_KEY["migrationPath"].choices
#: Top-level keys of a functionConfig object: the Kubernetes object envelope and where options live.
CONFIG_ENVELOPE = ("apiVersion", "kind", "metadata", "data", "spec")
STDIN = "<stdin>"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the ResourceList cannot be processed: one ``error`` result."""

    message: str
    path: str | None = None  #: field path in the object named by ``ref``
    ref: dict[str, str] | None = None  #: resourceRef (apiVersion, kind, name[, namespace])
    line: int | None = None  #: in the input text, when known

    @property
    def line_text(self) -> str:
        """The one line for stderr (results[] have no line field: it goes in the message)."""
        return f"{STDIN}:{self.line}: {self.message}" if self.line else f"{STDIN}: {self.message}"


def _type_name(node: Node | None) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        value = scalar_value(node)
        if value is None:
            return "null"
        return {bool: "a boolean", int: "a number", float: "a number"}.get(type(value), f"the string {node.value!r}")
    return "missing"


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and scalar_value(node) is None)


def _string(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode):
        value = scalar_value(node)
        return value if isinstance(value, str) else None
    return None


def _ref(obj: Node | None) -> dict[str, str] | None:
    """A resourceRef for ``obj``, when it has the three fields the specification requires."""
    meta = get(obj, "metadata")
    ref = {"apiVersion": _string(get(obj, "apiVersion")), "kind": _string(get(obj, "kind")),
           "name": _string(get(meta, "name"))}
    if not all(ref.values()):
        return None
    out = {k: v for k, v in ref.items() if v}
    if ns := _string(get(meta, "namespace")):
        out["namespace"] = ns
    return out


# ---- the envelope -----------------------------------------------------------------------------

def _check_item(item: Node, i: int) -> list[Problem]:
    where = f"items[{i}]"
    if not isinstance(item, MappingNode):
        return [Problem(f"{where} is {_type_name(item)}, expected a Kubernetes object (a mapping)")]
    problems = [Problem(f"{where}.{key} is {_type_name(get(item, key))}, expected a string")
                for key in ("apiVersion", "kind") if _string(get(item, key)) is None]
    meta = get(item, "metadata")
    if not _is_null(meta) and not isinstance(meta, MappingNode):
        problems.append(Problem(f"{where}.metadata is {_type_name(meta)}, expected a mapping"))
    ann = get(meta, "annotations")
    if not _is_null(ann) and not isinstance(ann, MappingNode):
        problems.append(Problem(f"{where}.metadata.annotations is {_type_name(ann)}, expected a mapping"))
    for key in PATH_KEYS + INDEX_KEYS:
        value = get(ann, key)
        if value is not None and not (isinstance(value, ScalarNode) and value.value and not _is_null(value)):
            problems.append(Problem(f"{where} annotation {key} is {_type_name(value)}, expected a string"))
    return problems


def _check_envelope(root: Node | None) -> list[Problem]:
    """Problems with the ResourceList itself (apiVersion, kind, items, results)."""
    if not isinstance(root, MappingNode):
        return [Problem(f"expected a config.kubernetes.io/v1 ResourceList, got {_type_name(root)}")]
    problems: list[Problem] = []
    api, kind = _string(get(root, "apiVersion")), _string(get(root, "kind"))
    if kind != "ResourceList":
        problems.append(Problem(f"kind is {_type_name(get(root, 'kind'))}, expected ResourceList"))
    if api not in API_VERSIONS:
        problems.append(Problem(f"apiVersion is {_type_name(get(root, 'apiVersion'))}, expected one of "
                                f"{', '.join(API_VERSIONS)}"))
    items = get(root, "items")
    if not isinstance(items, SequenceNode) and not (items is not None and _is_null(items)):
        problems.append(Problem(f"items is {_type_name(items)}, expected a list of Kubernetes objects"))
    elif isinstance(items, SequenceNode):
        for i, item in enumerate(items.value):
            problems += _check_item(item, i)
    results = get(root, "results")
    if not _is_null(results) and not isinstance(results, SequenceNode):
        problems.append(Problem(f"results is {_type_name(results)}, expected a list"))
    return problems


# ---- functionConfig ---------------------------------------------------------------------------

def _boolean(node: Node) -> bool | None:
    if isinstance(node, ScalarNode):
        value = scalar_value(node)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    return None


def mode_from_config(config: Node | None) -> tuple[Mode, list[Problem]]:
    """The Mode a functionConfig asks for, and every problem with it (unknown keys, wrong types)."""
    if _is_null(config):
        return Mode(krm=True), []
    if not isinstance(config, MappingNode):
        return Mode(krm=True), [Problem(f"functionConfig is {_type_name(config)}, expected a Kubernetes object")]
    ref = _ref(config)
    problems: list[Problem] = []
    keys = [k.value if isinstance(k, ScalarNode) else str(k) for k, _ in config.value]
    unknown = [k for k in keys if k not in CONFIG_ENVELOPE]
    if unknown:
        problems.append(Problem(f"functionConfig: unknown field(s) {', '.join(map(repr, unknown))} (options go in "
                                f"data or spec: {', '.join(OPTIONS)})", None, ref))
    for key in ("apiVersion", "kind"):
        if get(config, key) is not None and _string(get(config, key)) is None:
            problems.append(Problem(f"functionConfig.{key} is {_type_name(get(config, key))}, expected a string",
                                    key, ref))
    meta = get(config, "metadata")
    if not _is_null(meta) and not isinstance(meta, MappingNode):
        problems.append(Problem(f"functionConfig.metadata is {_type_name(meta)}, expected a mapping", "metadata", ref))
    blocks = [(name, get(config, name)) for name in ("data", "spec") if not _is_null(get(config, name))]
    for name, block in blocks:
        if not isinstance(block, MappingNode):
            problems.append(Problem(f"functionConfig.{name} is {_type_name(block)}, expected a mapping of options",
                                    name, ref))
    blocks = [(n, b) for n, b in blocks if isinstance(b, MappingNode)]
    if len(blocks) > 1 and all(b.value for _, b in blocks):
        problems.append(Problem("functionConfig has options in both data and spec: use one", None, ref))
    values: dict[str, Any] = {}
    for name, block in blocks[:1]:
        for k, v in block.value:
            key = k.value if isinstance(k, ScalarNode) else None
            at = f"{name}.{key}"
            if key not in OPTIONS:
                problems.append(Problem(f"functionConfig.{name}: unknown option {key!r} (known: {', '.join(OPTIONS)})",
                                        name, ref))
            elif key in ("keepNodeLabels", "convertUnknown"):
                if (b := _boolean(v)) is None:
                    problems.append(Problem(f"functionConfig.{at} is {_type_name(v)}, expected true or false", at, ref))
                else:
                    values[key] = b
            elif key == "sharing":
                s = _string(v)
                if not _is_null(v) and s not in ("", *SHARING):
                    problems.append(Problem(f"functionConfig.{at} is {_type_name(v)}, expected "
                                            f"{' or '.join(SHARING)}", at, ref))
                else:
                    values[key] = s or None
            elif key == "migrationPath":
                s = _string(v)
                if not _is_null(v) and s not in ("", *MIGRATION_PATHS):
                    problems.append(Problem(f"functionConfig.{at} is {_type_name(v)}, expected "
                                            f"{', '.join(MIGRATION_PATHS)}", at, ref))
                else:
                    values[key] = s or "auto"
            else:  # kubeVersion: a string (an unquoted 1.40 would be read as the float 1.4)
                s = _string(v)
                if s is None:
                    problems.append(Problem(f"functionConfig.{at} is {_type_name(v)}, expected a version "
                                            'string such as "1.35"', at, ref))
                    continue
                if s not in KUBE_VERSIONS:  # the same choices as --kube-version and the config file
                    problems.append(Problem(f"functionConfig.{at}: {s!r}: expected one of {', '.join(KUBE_VERSIONS)}",
                                            at, ref))
                    continue
                try:
                    values["api_version"] = api_version_for(s)
                    values["kube_version"] = s
                except MigratorError as exc:
                    problems.append(Problem(f"functionConfig.{at}: {str(exc).replace('--kube-version', 'kubeVersion')}",
                                            at, ref))
    values.pop("api_version", None)
    mode = build_mode({_BY_KEY[k].field if k in _BY_KEY else k: v for k, v in values.items()}, krm=True)
    return mode, problems


# ---- results ----------------------------------------------------------------------------------

def _result(f: Finding, items: dict[ObjectRef, MappingNode], api: str) -> dict[str, Any]:
    # read from the nodes (never the whole item as Python data: a deeply nested item would
    # exhaust the recursion of a plain-data conversion)
    key = finding_key(f)
    obj = items.get(key) if key is not None else None
    out: dict[str, Any] = {"message": f"{f.code}: {f.message}", "severity": SEVERITY.get(f.status, "info")}
    ref = _ref(obj)
    if ref:
        out["resourceRef"] = ref
        if f.where:  # the specification: a field needs its resourceRef
            field: dict[str, Any] = {"path": ".".join(p for p in f.where.strip("/").split("/") if p)}
            if f.code == "GPU102":
                proposal = "render the placeholder, then run again"
                field.update({"proposedValues": [proposal]} if api.endswith("v2alpha1") else {"proposedValue": proposal})
            out["field"] = field
    ann = get(get(obj, "metadata"), "annotations")
    path = next((v.value for k in PATH_KEYS if isinstance(v := get(ann, k), ScalarNode) and v.value), None)
    if path:
        index = next((v.value for k in INDEX_KEYS if isinstance(v := get(ann, k), ScalarNode)), None)
        out["file"] = {"path": path, **({"index": int(str(index))} if str(index).isdigit() else {})}
    return out


def _error_result(p: Problem) -> dict[str, Any]:
    out: dict[str, Any] = {"message": f"line {p.line}: {p.message}" if p.line else p.message, "severity": "error"}
    if p.ref:
        out["resourceRef"] = p.ref
        if p.path:
            out["field"] = {"path": p.path}
    return out


def _with_results(text: str, root: MappingNode, results: list[dict[str, Any]]) -> str:
    """``text`` (one ResourceList) with ``results`` appended to its own, every other byte kept."""
    patch = Patch(text, detect_layout(text))
    patch.register_tree(root, 0)
    existing = get(root, "results")
    if isinstance(existing, SequenceNode) and existing.value:
        for r in results:
            patch.append(existing, r)
    else:
        if existing is not None:
            patch.delete(root, "results")
        patch.add(root, "results", results)
    try:
        return patch.render()
    except CannotEdit:  # a layout the splicer will not touch: emit the list anew (comments lost)
        import yaml

        data = to_python(root)
        data["results"] = list(data.get("results") or []) + results
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def failure(problems: list[Problem], api: str = DEFAULT_API_VERSION) -> str:
    """A ResourceList that carries only ``problems`` (for input that is not a usable ResourceList)."""
    import yaml

    return yaml.safe_dump({"apiVersion": api, "kind": "ResourceList", "items": [],
                           "results": [_error_result(p) for p in problems]}, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True, slots=True)
class KrmOutput:
    text: str  #: the ResourceList for stdout
    code: int  #: the exit code: 0, or 1 when an error result is in ``text``
    errors: tuple[str, ...] = ()  #: the error messages (one line each, for stderr)


def _failed(problems: list[Problem], api: str = DEFAULT_API_VERSION, text: str | None = None,
            root: MappingNode | None = None) -> KrmOutput:
    """Exit 1 with ``problems`` as error results: in the input list when it is usable, else alone."""
    if text is not None and root is not None:
        out = _with_results(text, root, [_error_result(p) for p in problems])
    else:
        out = failure(problems, api)
    return KrmOutput(out, exit_code(unmet=True), tuple(p.line_text for p in problems))


def run_krm(text: str) -> KrmOutput:
    """Process a ResourceList (the text read from stdin)."""
    if not text.strip():
        return _failed([Problem("stdin is empty: expected a config.kubernetes.io/v1 ResourceList")])
    try:
        docs = [d for d in parse(text, STDIN) if d.root is not None]
    except InvalidInput as exc:
        return _failed([Problem(exc.message, line=exc.line)])
    if len(docs) != 1:
        return _failed([Problem(f"expected one ResourceList document, got {len(docs)}")])
    root = docs[0].root
    problems = _check_envelope(root)
    api = _string(get(root, "apiVersion"))
    api = api if api in API_VERSIONS else DEFAULT_API_VERSION
    if problems:
        return _failed(problems, api)
    assert isinstance(root, MappingNode)
    mode, problems = mode_from_config(get(root, "functionConfig"))
    if problems:
        return _failed(problems, api, text, root)
    try:
        result = migrate_text(text, STDIN, mode)
    except InvalidInput as exc:
        return _failed([Problem(exc.message, line=exc.line)], api, text, root)
    except MigratorError as exc:
        return _failed([Problem(str(exc))], api, text, root)
    out_root = parse(result.text, STDIN, checked=False)[0].root
    assert isinstance(out_root, MappingNode)
    # the rewritten items by the reference their findings carry (the pairing's key, from the same
    # walk of the objects that made the findings)
    items = {ref_key(o.ref): o.node for o in objects([Document(0, out_root)]) if o.list_node is not None}
    results = [_result(f, items, api) for f in result.findings if f.status in (Status.MANUAL, Status.SKIPPED)]
    if not results:
        return KrmOutput(result.text, exit_code())
    return KrmOutput(_with_results(result.text, out_root, results), exit_code())


__all__ = ["run_krm", "krm_annotations", "mode_from_config", "failure", "KrmOutput", "Problem", "InvalidInput"]
