"""KRM function: ``dra-migrate krm`` reads a ResourceList on stdin and writes one on stdout.

KRM Functions Specification (kubernetes-sigs/kustomize cmd/config/docs/api-conventions/
functions-spec.md): input and output are a ``config.kubernetes.io/v1`` ResourceList; items keep
their ``config.kubernetes.io/*`` and ``internal.config.kubernetes.io/*`` annotations (we edit items
in place, so every byte we do not change is kept); new ResourceClaimTemplates get the path of
their workload and the next free index in that file; what needs manual action goes to
``results[]`` with severity, resourceRef, field path and the proposed value. Options come from
``functionConfig`` (a ConfigMap's ``data`` or a ``spec``): ``kubeVersion``, ``keepNodeLabels``,
``sharing``, ``convertUnknown``.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, SequenceNode

from migrator.documents import detect_layout, get, parse, to_python
from migrator.edit import Patch
from migrator.engine import migrate_text
from migrator.errors import InvalidInput, MigratorError
from migrator.mode import Mode, api_version_for
from migrator.model import Finding, Status

PATH_KEYS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_KEYS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
SEVERITY = {Status.MANUAL: "warning", Status.SKIPPED: "info", Status.INFO: "info"}


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes", "on")


def mode_from_config(config: dict[str, Any] | None) -> Mode:
    data = (config or {}).get("data") or (config or {}).get("spec") or {}
    sharing = data.get("sharing")
    if sharing not in (None, "", "timeslicing", "mps"):
        raise MigratorError(f"functionConfig sharing {sharing!r}: expected timeslicing or mps")
    return Mode(api_version=api_version_for(str(data.get("kubeVersion", "1.35"))),
                keep_node_labels=_truthy(data.get("keepNodeLabels", False)),
                convert_unknown=_truthy(data.get("convertUnknown", False)),
                sharing=sharing or None, krm=True)


def _result(f: Finding, items: dict[str, dict[str, Any]]) -> dict[str, Any]:
    obj = items.get(f.workload) or {}
    meta = obj.get("metadata") or {}
    ann = meta.get("annotations") or {}
    out: dict[str, Any] = {"message": f"{f.code}: {f.message}", "severity": SEVERITY.get(f.status, "info")}
    if obj:
        ref = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name")}
        if meta.get("namespace"):
            ref["namespace"] = meta["namespace"]
        out["resourceRef"] = ref
    if f.where:
        field: dict[str, Any] = {"path": ".".join(p for p in f.where.strip("/").split("/") if p)}
        if f.code == "GPU102":
            field["proposedValue"] = "render the placeholder, then run again"
        out["field"] = field
    path = next((ann[k] for k in PATH_KEYS if k in ann), None)
    if path:
        index = next((ann[k] for k in INDEX_KEYS if k in ann), None)
        out["file"] = {"path": path, **({"index": int(index)} if str(index).isdigit() else {})}
    return out


def run_krm(text: str) -> tuple[str, int]:
    """Process a ResourceList; returns (output text, exit code)."""
    docs = parse(text, "<stdin>")
    root = docs[0].root if docs else None
    if not isinstance(root, MappingNode) or (to_python(get(root, "kind")) != "ResourceList"):
        raise MigratorError("krm: stdin is not a config.kubernetes.io/v1 ResourceList")
    config = to_python(get(root, "functionConfig"))
    mode = mode_from_config(config if isinstance(config, dict) else None)
    result = migrate_text(text, "<stdin>", mode)
    out_docs = parse(result.text, "<stdin>")
    out_root = out_docs[0].root
    assert isinstance(out_root, MappingNode)
    items = {}
    for item in to_python(get(out_root, "items")) or []:
        if isinstance(item, dict):
            meta = item.get("metadata") or {}
            ns = meta.get("namespace")
            items[f"{item.get('kind')} {ns + '/' if ns else ''}{meta.get('name') or meta.get('generateName')}"] = item
    results = [_result(f, items) for f in result.findings if f.status in (Status.MANUAL, Status.SKIPPED)]
    if not results:
        return result.text, 0
    patch = Patch(result.text, detect_layout(result.text))
    patch.register_tree(out_root, 0)
    existing = get(out_root, "results")
    if isinstance(existing, SequenceNode) and existing.value:
        for r in results:
            patch.append(existing, r)
    else:
        if existing is not None:
            patch.delete(out_root, "results")
        patch.add(out_root, "results", results)
    return patch.render(), 0


def krm_annotations(obj_annotations: dict[str, Any], next_index: dict[str, int]) -> dict[str, str]:
    """Path and index annotations for a template generated for an item with ``obj_annotations``."""
    out: dict[str, str] = {}
    path = next((str(obj_annotations[k]) for k in PATH_KEYS if k in obj_annotations), None)
    if path is None:
        return out
    index = next_index.get(path, 0)
    next_index[path] = index + 1
    for k in PATH_KEYS:
        if k in obj_annotations:
            out[k] = path
    for k in INDEX_KEYS:
        if k in obj_annotations or (k.startswith("internal") and any(p.startswith("internal") for p in out)):
            out[k] = str(index)
    return out


__all__ = ["run_krm", "krm_annotations", "mode_from_config", "InvalidInput"]
