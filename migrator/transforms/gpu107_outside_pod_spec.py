"""GPU107 outside-pod-spec: report GPU resource names the pod-spec rules never saw.

## What it does
After the pod specs of an object are handled, looks for ``nvidia.com/gpu``-family names left
anywhere else in it, as keys (``spec.predictor.model.resources.limits``, Karpenter
``spec.limits``, Kueue quotas) or values (Spark ``executor.gpu.name``, ``gpuType``), and reports
the first with the count of places. Quota and capacity objects (``nonPod`` in
``rules/workloads.yaml``) are *info*; anything else *needs manual action*.

## Why
Some GPU requests live outside ``containers[].resources`` (KServe framework blocks, TrainJob
``resourcesPerNode``, Argo templates), and some objects count ``nvidia.com/gpu`` as capacity or
quota that DRA devices do not consume. A migrator that stays silent about them leaves GPUs
behind (corpus README "GPUs requested outside any containers[].resources block").

## Example
    kind: ClusterQueue ... coveredResources: [cpu, memory, nvidia.com/gpu]

## Fix safety
No fix.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from migrator.text.documents import walk
from migrator.k8s.locate import K8sObject
from migrator.model import Finding, FixSafety, Status
from migrator.tables import Tables
from migrator.transforms.base import EditObject, ObjectContext

CODE = "GPU107"
NAME = "outside-pod-spec"
SUMMARY = "GPU resource names outside converted pod specs (quotas, CRD fields) are reported"
FIX = FixSafety.NONE


def _is_gpu_name(text: str, tables: Tables) -> bool:
    return tables.is_gpu_name(text)


def mentions_gpu(node: Node | None, tables: Tables) -> bool:
    """A GPU resource name (or a GPU-share annotation) anywhere under ``node``, as a key or a value."""
    if node is None:
        return False
    for _, n in walk(node):
        if isinstance(n, MappingNode):
            for k, _v in n.value:
                if isinstance(k, ScalarNode) and (_is_gpu_name(str(k.value), tables) or
                                                  k.value in tables.annotation_requests):
                    return True
        elif isinstance(n, ScalarNode) and _is_gpu_name(str(n.value), tables):
            return True
    return False


def check_object(octx: ObjectContext) -> list[Finding | EditObject]:
    return _check(octx.obj, list(octx.handled), octx.tables, octx.path, set(octx.handled_nodes))


def _check(obj: K8sObject, handled: list[tuple[Any, ...]], tables: Tables,
           path: str, handled_nodes: set[int] | None = None) -> list[Finding | EditObject]:
    row = tables.workloads.get((obj.group, obj.kind))
    reason = tables.non_pod.get((obj.group, obj.kind)) or (row.reason if row and not row.convert else None)
    hits: list[tuple[tuple[Any, ...], Node]] = []
    for p, node in walk(obj.node, handled_nodes):
        if handled and any(p[:len(h)] == h for h in handled):
            continue
        if isinstance(node, MappingNode):
            for k, v in node.value:
                if isinstance(k, ScalarNode) and _is_gpu_name(str(k.value), tables) and \
                        not (isinstance(v, ScalarNode) and str(v.value).strip() in ("0", "")):
                    hits.append((p + (k.value,), k))
        elif isinstance(node, ScalarNode) and p and p[-1] != "key" and _is_gpu_name(str(node.value), tables):
            hits.append((p, node))
    if not hits:
        return []
    p, node = hits[0]
    where = "/" + "/".join(str(s) for s in p)
    why = reason or "not inside a pod spec this tool converts"
    status = Status.INFO if (obj.group, obj.kind) in tables.non_pod else Status.MANUAL
    return [Finding(CODE, status, f"GPU resource at {where} ({len(hits)} place(s) in this object): {why}",
                    path, node.start_mark.line + 1, obj.ref, where)]
