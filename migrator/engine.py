"""Run the rules over one file's text and turn their plans into surgical edits.

``migrate_text`` is pure (text in, text and findings out) and never raises for bad input:
InvalidInput is the caller's to catch, everything else it reports as findings. Each pod's
edits are recorded transactionally: a pod whose text the splicer will not touch is reported
and left as it was, the others in the file are still converted. The rendered text is then
verified (``verify.check_rendered``) before anyone may write it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from migrator.text.documents import Document, get, items, parse, shared_nodes, str_at, to_python
from migrator.dra import HELM4_FILENAME, annotate, krm_next_index, template_object
from migrator.text.edit import Patch
from migrator.errors import CannotEdit, InvalidInput, one_line
from migrator.k8s.locate import K8sObject, PodSpecRef, objects, pod_metadata, pod_specs
from migrator.mode import Mode
from migrator.model import Finding, ObjectRef, Status
from migrator.text.shape import Problem, ShapeError, describe, dotted
from migrator.tables import Tables, active_vendor_files, is_placeholder, load_tables, use_vendor_files
from migrator.tables import might_matter as _might_matter
from migrator.tables import triggers as trigger_strings
from migrator.transforms import (OBJECT_RULES, REGISTRY, gpu000_converted, gpu007_runtime_hints,
                                 gpu107_outside_pod_spec, gpu108_served_by_dra, gpu900_not_processed)
from migrator.transforms.base import (EditObject, ObjectContext, PodContext, PodPlan, build_context, device_rule,
                                      ephemeral_gpus)

CONVERTED = gpu000_converted.CODE


@dataclass(frozen=True, slots=True)
class TextResult:
    text: str
    findings: tuple[Finding, ...]
    templates: tuple[dict[str, Any], ...] = ()  #: with placement "file": the new templates


def might_matter(text: str, tables: Tables, mode: Mode | None = None) -> bool:
    """Cheap pre-filter: no trigger string, nothing to do (and no need to parse). A target older
    than 1.34 cannot read resource.k8s.io/v1 objects: those files matter too (GPU012 reports them)."""
    return _might_matter(text, tables.triggers, mode)


def migrate_text(text: str, path: str, mode: Mode, tables: Tables | None = None,
                 keep: Any = None) -> TextResult:
    """``keep`` (a verify.Parsed): filled with the documents parsed on the way, for the caller."""
    if mode.vendor_files != active_vendor_files():  # a worker process: the run's --vendor-file
        use_vendor_files(mode.vendor_files)
    if tables is None and not _might_matter(text, trigger_strings(), mode):
        return TextResult(text, ())  # decided before the tables (and the vendor profiles) are loaded
    tables = tables or load_tables()
    if not might_matter(text, tables, mode):
        return TextResult(text, ())
    try:
        docs = parse(text, path)
        if keep is not None:
            keep.before = docs
        return _migrate_docs(text, docs, path, mode, tables, keep)
    except InvalidInput:
        raise
    except Exception as exc:  # the last backstop: one line for this file, the batch goes on
        raise InvalidInput(path, None, f"internal error ({one_line(exc)}); the file is left as it was "
                           "(please report this)") from None


def internal_error(exc: BaseException, path: str, line: int | None, obj: ObjectRef | None,
                   where: str = "") -> Finding:
    """The backstop's finding: something failed that no check foresaw; that part is left as it was."""
    return Finding("GPU900", Status.MANUAL, f"not converted: internal error ({one_line(exc)}); left as it was "
                   "(please report this)", path, line, obj, where)


@dataclass
class _File:
    """What the objects of one file share while they are migrated."""

    docs: list[Document]
    path: str
    mode: Mode
    tables: Tables
    patch: Patch
    served: frozenset[str]
    krm_index: dict[str, int] | None
    findings: list[Finding]
    templates: list[dict[str, Any]]
    shared_cache: dict[int, frozenset[int]]


def _migrate_docs(text: str, docs: list[Document], path: str, mode: Mode, tables: Tables,
                  keep: Any = None) -> TextResult:
    patch = Patch(text)
    findings: list[Finding] = []
    broken: list[tuple[int, tuple[Any, ...], Node, str]] = []
    all_objects = list(objects(docs, broken))
    for doc, steps, node, want in broken:  # a List whose items have the wrong type: reported when GPUs are in it
        if gpu107_outside_pod_spec.mentions_gpu(node, tables):
            root = docs[doc].root
            ref = ObjectRef(str_at(root, "kind") or "List", str_at(root, "metadata", "name"),
                            str_at(root, "metadata", "namespace"), str_at(root, "apiVersion") or "")
            findings.append(_shape_finding(Problem(dotted(steps), node.start_mark.line + 1, describe(node), want),
                                           path, ref, "/" + "/".join(str(s) for s in steps)))
    served = frozenset(
        name for o in all_objects if o.group == "resource.k8s.io" and o.kind == "DeviceClass"
        for name in [str_at(o.node, "spec", "extendedResourceName")] if name)
    krm_index = krm_next_index(all_objects, _annotations) if mode.krm else None
    job = _File(docs, path, mode, tables, patch, served, krm_index, findings, [], {})
    for obj in all_objects:
        if mode.namespaces and (obj.namespace or "default") not in mode.namespaces:
            continue  # the project's config leaves this namespace alone
        try:
            _migrate_object(job, obj)
        except Exception as exc:  # backstop: this object is reported, the others still run
            findings.append(internal_error(exc, path, obj.line, obj.ref))
    if patch.empty:
        return TextResult(text, tuple(findings))
    new_text = patch.render()
    from migrator.text.verify import check_rendered

    problem = check_rendered(new_text, docs, patch, path, keep)
    if problem is not None:
        failed = [dataclasses.replace(f, code="GPU900", status=Status.MANUAL, message=f"not converted: {problem}")
                  if f.status == Status.CONVERTED else f for f in findings]
        return TextResult(text, tuple(failed))
    return TextResult(new_text, tuple(findings), tuple(job.templates))


def _migrate_object(job: _File, obj: K8sObject) -> None:
    handled: list[tuple[Any, ...]] = []
    handled_nodes: set[int] = set()
    broken: list[tuple[tuple[Any, ...], Node, str]] = []
    for ref in pod_specs(obj, job.tables, broken):
        try:
            pod_findings = _migrate_pod(job, obj, ref)
        except ShapeError as exc:  # a reader that checks its own input (selection.translate)
            pod_findings = [_shape_finding(exc.problem, job.path, obj.ref, ref.where, ref.line)]
        except Exception as exc:  # backstop: this pod is reported and left as it was
            pod_findings = [internal_error(exc, job.path, ref.line, obj.ref, ref.where)]
        if pod_findings is None:
            continue
        handled.append(ref.path)
        handled_nodes.add(id(ref.node))
        job.findings.extend(pod_findings)
    for steps, node, want in broken:
        # a pod template's path crosses a field of the wrong type: report it when it holds GPUs
        if gpu107_outside_pod_spec.mentions_gpu(node, job.tables):
            p = Problem(dotted(steps), node.start_mark.line + 1, describe(node), want)
            job.findings.append(_shape_finding(p, job.path, obj.ref, "/" + "/".join(str(s) for s in steps)))
            handled.append(steps)
            handled_nodes.add(id(node))
    octx = ObjectContext(obj, job.path, job.mode, job.tables, tuple(handled), frozenset(handled_nodes))
    for rule in OBJECT_RULES:
        out = list(rule.check_object(octx))
        found = [x for x in out if isinstance(x, Finding)]
        edits = [x for x in out if isinstance(x, EditObject)]
        if edits:
            root = job.docs[obj.doc].root
            assert root is not None
            job.patch.register_tree(root, obj.doc)
            snap = job.patch.snapshot()
            try:
                for e in edits:
                    _apply_ops(job.patch, list(e.ops))
                job.patch.splices(only=job.patch.touched(), since=snap, text=False)
            except CannotEdit as exc:
                job.patch.restore(snap)
                found = [Finding("GPU900", Status.MANUAL, f"not upgraded: cannot edit this layout "
                                 f"safely ({exc})", job.path, obj.line, obj.ref)]
            except BaseException:
                job.patch.restore(snap)  # never leave half a transaction behind
                raise
        job.findings.extend(found)


def _shape_finding(p: Problem, path: str, obj: ObjectRef | None, where: str, line: int | None = None) -> Finding:
    return Finding("GPU900", Status.MANUAL, gpu900_not_processed.shape_message(p.message), path,
                   p.line or line, obj, where)


def _migrate_pod(job: _File, obj: K8sObject, ref: PodSpecRef) -> list[Finding] | None:
    """The findings for one pod spec (None: no GPU in it), its edits recorded as one transaction."""
    root = job.docs[obj.doc].root
    assert root is not None
    if obj.doc not in job.shared_cache:
        # no "*" in the text, no alias: no node is reached twice
        job.shared_cache[obj.doc] = frozenset(shared_nodes(root)) if "*" in job.patch.text else frozenset()
    metadata = _pod_metadata(obj, ref)
    ctx = build_context(job.path, ref, job.tables, job.mode, metadata)
    ctx = dataclasses.replace(ctx, shared=job.shared_cache[obj.doc], served_by_dra=job.served)
    if not _interesting(ctx) and not (ctx.shape is not None and (
            gpu107_outside_pod_spec.mentions_gpu(ref.node, job.tables) or
            gpu107_outside_pod_spec.mentions_gpu(metadata, job.tables))):
        # No GPU: nothing to say. GPU114 lists other device plugins' resources next to GPUs only; a
        # pod of an FPGA alone is not this tool's (and saying it only where the pre-filter let its
        # file through, because of another document, was an answer that depended on the neighbours).
        return None
    plan = PodPlan()
    for rule in REGISTRY:
        # each intent is applied as the rule yields it: the rule sees its own earlier ones
        for item in rule.check(ctx, plan):
            if isinstance(item, Finding):
                plan.findings.append(item)
            else:
                plan.apply(item)
        if plan.blocked:
            break
    kep = None
    if not plan.blocked and plan.requests:
        kep = _kep5004(ctx, plan, job)
        if kep is not None and kep[1].leave:
            return _left_for_kep5004(ctx, plan, kep)
    if not plan.blocked and (plan.requests or plan.removals):
        job.patch.register_tree(root, obj.doc)
        snap = job.patch.snapshot()
        try:
            template = _apply(ctx, plan, job.patch, obj, root, job.mode, job.krm_index)
            job.patch.splices(only=job.patch.touched(), since=snap, text=False)  # geometry problems surface here
        except CannotEdit as exc:
            job.patch.restore(snap)
            plan.findings = [x for x in plan.findings if x.status != Status.INFO]
            plan.findings.append(ctx.finding("GPU900", Status.MANUAL,
                                             f"not converted: cannot edit this layout safely ({exc})"))
        except BaseException:
            job.patch.restore(snap)  # never leave half a transaction behind
            raise
        else:
            if template is not None:
                if job.mode.placement == "file":
                    job.templates.append(template)
                converted = _converted(ctx, plan, template)
                if kep is not None:
                    converted = dataclasses.replace(converted, kep5004=(kep[0].eligible, kep[0].reason))
                    if kep[1].note:
                        plan.findings.append(ctx.finding(gpu108_served_by_dra.CODE, Status.INFO, kep[1].note,
                                                         warn=True))
                plan.findings.insert(0, converted)
    return plan.findings


def _kep5004(ctx: PodContext, plan: PodPlan, job: _File):  # type: ignore[no-untyped-def]
    """(eligibility, choice) of a pod the rules would convert (migrator/proof/kep5004.py)."""
    from migrator.proof import kep5004

    known = dict(job.mode.extended_classes)
    e = kep5004.decide(ctx, plan, known)
    return e, kep5004.choose(job.mode.migration_path, job.mode.kube_version, e, known)


def _left_for_kep5004(ctx: PodContext, plan: PodPlan, kep: Any) -> list[Finding]:
    """The pod stays as written: the rewrite's notes about its claim no longer apply, what needs a
    person still does."""
    e, choice = kep
    left = ctx.finding(gpu108_served_by_dra.CODE, Status(choice.status), choice.message, warn=choice.warn)
    return [dataclasses.replace(left, kep5004=(True, e.reason))] + [
        f for f in plan.findings if f.status is Status.MANUAL]


def _pod_metadata(obj: K8sObject, ref: PodSpecRef) -> Node | None:
    return pod_metadata(ref)


def _interesting(ctx: PodContext) -> bool:
    t = ctx.tables
    # a placeholder name holding the default profile's namespace (``resourcePrefixes`` without the
    # '/') or "gpu" is a GPU name; other vendors' placeholders count through "gpu" or upper case
    default = t.vendors.default if t.vendors is not None else None
    spaces = tuple(x.rstrip("/") for x in default.resource_prefixes) if default is not None else ()
    for a in ctx.asks:
        if device_rule(a.resource, t) or a.resource in t.shared_resources or \
                a.resource in t.hami_resources or t.unknown_device.search(a.resource) or \
                (any(x in a.resource for x in spaces) or "gpu" in a.resource.lower()) and is_placeholder(a.resource, t) \
                or is_placeholder(a.resource, t) and a.resource.isupper():
            return True
    _, _, hinted, hint_prefixes = gpu007_runtime_hints._hints(ctx)  # every profile's runtimeHints annotations
    if any(k in t.annotation_requests or k.startswith(hint_prefixes) or k in hinted
           for k in ctx.annotations) or ephemeral_gpus(ctx):
        return True
    # A converted pod keeps its runtime hints: GPU007 must still see it after --write.
    return gpu007_runtime_hints.has_claims(ctx) and gpu007_runtime_hints.runtime_hints(ctx)


def _add_tolerations(ctx: PodContext, plan: PodPlan, patch: Any) -> None:
    from migrator.k8s.tolerations import plugin_toleration

    tolerations = [plugin_toleration(k) for k in plan.tolerations]
    if tolerations:
        _add_items(patch, ctx.pod, "tolerations", tolerations)


def _converted(ctx: PodContext, plan: PodPlan, template: dict[str, Any]) -> Finding:
    parts = ", ".join(f"{r.name}: {r.count} x {r.device_class}" for r in plan.requests)
    return ctx.finding(CONVERTED, Status.CONVERTED,
                       f"converted to {template['kind']} {template['metadata']['name']} ({parts})")


# ---- plan -> edits -----------------------------------------------------------------------------

def _annotations(obj: K8sObject) -> dict[str, Any]:
    """``metadata.annotations`` as data; {} unless it is a mapping (any object of the file is read)."""
    ann = to_python(get(get(obj.node, "metadata"), "annotations"))
    return ann if isinstance(ann, dict) else {}


def _apply(ctx: PodContext, plan: PodPlan, patch: Patch, obj: K8sObject, root: Node,
           mode: Mode, krm_index: dict[str, int] | None = None) -> dict[str, Any] | None:
    if plan.requests and (not obj.name or is_placeholder(obj.name, ctx.tables)):
        raise CannotEdit(f"{obj.kind} has no literal metadata.name to derive a template name from")
    if len(plan.requests) > 32 or sum(r.count for r in plan.requests) > 32:
        raise CannotEdit("more than 32 requests or devices in one claim (API limit)")
    containers = {(c.section, c.index): c for c in ctx.containers}
    removals: dict[tuple[str, int], list[str]] = {}
    for section, index, resource in plan.removals:
        removals.setdefault((section, index), []).append(resource)
    for key in sorted(set(removals) | set(plan.wiring)):
        c = containers[key]
        resources = get(c.node, "resources")
        if not isinstance(resources, MappingNode):
            raise CannotEdit(f"container {c.name!r}: resources is not a mapping")
        wired = plan.wiring.get(key, [])
        comments: list[str] = []
        emptied: list[str] = []
        partial: list[tuple[MappingNode, list[str]]] = []
        for which in ("limits", "requests"):
            m = get(resources, which)
            if not isinstance(m, MappingNode):
                continue
            names = [k.value for k, _ in m.value if isinstance(k, ScalarNode)]
            gone = [n for n in names if n in removals.get(key, [])]
            if gone and len(gone) == len(names):
                emptied.append(which)
            elif gone:
                partial.append((m, gone))
        resource_keys = [k.value for k, _ in resources.value if isinstance(k, ScalarNode)]
        if not wired and emptied and set(resource_keys) <= set(emptied):
            # nothing would be left: drop the whole resources block, not leave "resources:" (null)
            patch.delete(c.node, "resources", keep_comments=True)
            continue
        for which in emptied:
            comments += patch.delete(resources, which, keep_comments=not wired)
        for m, gone in partial:
            for n in gone:
                comments += patch.delete(m, n, keep_comments=not wired)
        if wired:
            entries = [{"name": plan.claim_name, "request": r} for r in wired]
            existing = get(resources, "claims")
            if isinstance(existing, SequenceNode) and existing.value:
                for i, e in enumerate(entries):
                    patch.append(existing, e, comments if i == 0 else None)
            else:
                if existing is not None:
                    patch.delete(resources, "claims")
                patch.add(resources, "claims", entries, comments)
    if plan.translation is not None or plan.remove_selector_keys:
        _apply_selection(ctx, plan, patch)
    if plan.ray_num_gpus is not None:
        group, count = plan.ray_num_gpus
        params = get(group, "rayStartParams")
        if isinstance(params, MappingNode) and (params.value or params.flow_style):
            patch.add(params, "num-gpus", count)
        else:
            if params is not None:
                patch.delete(group, "rayStartParams")
            patch.add(group, "rayStartParams", {"num-gpus": count})
    if not plan.requests:  # only zero counts dropped: the plugin's tolerations still go in (GPU005)
        _add_tolerations(ctx, plan, patch)
        return None
    template = template_object(obj, ctx.ref.role, plan.requests, mode.api_version, plan.sharing)
    annotate(template, mode.gitops, str_at(get(get(obj.node, "metadata"), "annotations"), HELM4_FILENAME),
             _annotations(obj) if krm_index is not None else None, krm_index)
    if plan.sharing:
        claim = {"name": plan.claim_name, "resourceClaimName": template["metadata"]["name"]}
    else:
        claim = {"name": plan.claim_name, "resourceClaimTemplateName": template["metadata"]["name"]}
    _add_items(patch, ctx.pod, "resourceClaims", [claim])
    _add_tolerations(ctx, plan, patch)
    if mode.placement == "inline":
        header = f"GPUs of {obj.label}" + (f" ({ctx.ref.role})" if ctx.ref.role else "") + \
            ", written by dra-migrate"
        if obj.list_node is not None and obj.list_index is not None:
            patch.insert_item_after(obj.list_node, obj.list_index, template)
        else:
            patch.add_document(root, template, header)
    return template


def _apply_ops(patch: Patch, ops: list[tuple[Any, ...]]) -> None:
    """Apply an object rule's edits; comments of deleted lines go to the next added key."""
    carried: list[str] = []
    for op in ops:
        if op[0] == "replace":
            patch.replace(op[1], op[2])
        elif op[0] == "delete":
            carried += patch.delete(op[1], op[2])
        elif op[0] == "add":
            patch.add(op[1], op[2], op[3], carried)
            carried = []


def _keys(node: Node | None) -> list[str]:
    return [k.value for k, _ in node.value] if isinstance(node, MappingNode) else []


def _apply_selection(ctx: PodContext, plan: PodPlan, patch: Patch) -> None:
    """Remove the translated GPU labels from the pod's node selection; never leave an empty term."""
    t = plan.translation
    keep = ctx.mode.keep_node_labels
    pod = ctx.pod
    keys = set(plan.remove_selector_keys) | set(t.remove_selector_keys if t else [])
    ns = get(pod, "nodeSelector")
    if keys and isinstance(ns, MappingNode):
        present = _keys(ns)
        if set(present) <= keys:
            patch.delete(pod, "nodeSelector", keep_comments=True)
        else:
            for k in present:
                if k in keys:
                    patch.delete(ns, k, keep_comments=True)
    if t is None:
        return
    affinity = get(pod, "affinity")
    na = get(affinity, "nodeAffinity")
    if not isinstance(na, MappingNode):
        return
    drop: set[str] = set()
    required = get(na, "requiredDuringSchedulingIgnoredDuringExecution")
    if t.remove_required_all:
        drop.add("requiredDuringSchedulingIgnoredDuringExecution")
    elif t.remove_required_exprs:
        term = items(get(required, "nodeSelectorTerms"))[0]
        exprs = get(term, "matchExpressions")
        idxs = {i for _, i in t.remove_required_exprs}
        if isinstance(exprs, SequenceNode) and len(idxs) == len(exprs.value) and \
                set(_keys(term)) <= {"matchExpressions"}:
            drop.add("requiredDuringSchedulingIgnoredDuringExecution")  # an empty term matches nothing
        elif isinstance(exprs, SequenceNode):
            for i in sorted(idxs):
                patch.remove_item(exprs, i, keep_comments=True)
    preferred = get(na, "preferredDuringSchedulingIgnoredDuringExecution")
    if t.remove_preferred and not keep and isinstance(preferred, SequenceNode):
        idxs = set(t.remove_preferred)
        if len(idxs) == len(preferred.value):
            drop.add("preferredDuringSchedulingIgnoredDuringExecution")
        else:
            for i in sorted(idxs):
                patch.remove_item(preferred, i, keep_comments=True)
    if not drop:
        return
    if set(_keys(na)) <= drop:
        if set(_keys(affinity)) <= {"nodeAffinity"}:
            patch.delete(pod, "affinity", keep_comments=True)
        else:
            patch.delete(affinity, "nodeAffinity", keep_comments=True)  # type: ignore[arg-type]
    else:
        for k in sorted(drop):
            patch.delete(na, k, keep_comments=True)


def _add_items(patch: Patch, mapping: MappingNode, key: str, values: list[Any]) -> None:
    existing = get(mapping, key)
    if isinstance(existing, SequenceNode) and (existing.value or existing.flow_style):
        for v in values:
            patch.append(existing, v)
        return
    if existing is not None:
        patch.delete(mapping, key)
    patch.add(mapping, key, values)
