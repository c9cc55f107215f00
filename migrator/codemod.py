"""``dra-migrate codemod``: Python that builds pod specs with device-plugin GPUs, rewritten with libcst.

Handled, when every value is a literal and the pod spec is found in the same scope:

- ``V1ResourceRequirements(limits={"nvidia.com/gpu": 2}, ...)`` inside ``V1Container(name=...,
  resources=...)`` inside (or named in) ``V1PodSpec(containers=[...])``: the GPU key is removed,
  the container gets ``claims=[CoreV1ResourceClaim(name="gpu", request=<container>)]`` and the
  pod spec ``resource_claims=[V1PodResourceClaim(name="gpu", resource_claim_template_name=...)]``
  plus the NoSchedule toleration the admission plugin used to add (kubernetes Python client 37:
  ``V1ResourceRequirements.claims`` is a list of ``CoreV1ResourceClaim``; ``V1PodSpec.resource_claims``
  of ``V1PodResourceClaim``);
- plain dict pod specs (``{"containers": [{"resources": {"limits": {"nvidia.com/gpu": 1}}}]}``),
  the same way in camelCase keys.

The ResourceClaimTemplates go to ``<module>-claim-templates.yaml`` beside the file. Anything
else that mentions a GPU resource (a count in a variable, KFP ``set_gpu_limit`` /
``set_accelerator_limit``, hera ``gpus=``, KubeRay client parameters) is reported with file:line
and left as it is: nothing is guessed and nothing is half-edited.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from migrator.engine import device_requests
from migrator.model import DeviceRequest, Finding, Status
from migrator.tables import load_tables
from migrator.transforms.base import dns_label, resolve_device

GPU_KEY = re.compile(r"^nvidia\.com/(gpu|mig-.+)$")
REPORT_CALLS = {"set_gpu_limit", "set_accelerator_limit", "set_accelerator_type", "add_resource_limit",
                "add_resource_request"}


@dataclass
class CodemodResult:
    path: str
    before: str
    after: str
    templates: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _count(value: Any) -> int | None:
    import libcst as cst

    if isinstance(value, cst.Integer):
        return int(value.value)
    if isinstance(value, cst.SimpleString):
        text = value.evaluated_value
        if isinstance(text, str) and text.strip().isdigit():
            return int(text)
    return None


def _str(value: Any) -> str | None:
    import libcst as cst

    if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
        return value.evaluated_value
    return None


def _callee(call: Any) -> tuple[str, str]:
    """(prefix, name) of a call: ``client.V1PodSpec`` -> ("client.", "V1PodSpec")."""
    import libcst as cst

    f = call.func
    if isinstance(f, cst.Name):
        return "", f.value
    if isinstance(f, cst.Attribute):
        code = cst.Module([]).code_for_node(f.value)
        return code + ".", f.attr.value
    return "", ""


def _kw(call: Any, name: str) -> Any:
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a.value
    return None


def _dict_get(d: Any, key: str) -> Any:
    import libcst as cst

    if not isinstance(d, cst.Dict):
        return None
    for el in d.elements:
        if isinstance(el, cst.DictElement) and _str(el.key) == key:
            return el.value
    return None


def run_codemod(source: str, path: str, api_version: str = "resource.k8s.io/v1") -> CodemodResult:
    import libcst as cst
    from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        from migrator.errors import InvalidInput

        raise InvalidInput(path, exc.raw_line, "not valid Python (libcst could not parse it)") from None
    wrapper = MetadataWrapper(module)
    parents = wrapper.resolve(ParentNodeProvider)
    positions = wrapper.resolve(PositionProvider)
    tables = load_tables()
    result = CodemodResult(path, source, source)

    def line(node: Any) -> int:
        return int(positions[node].start.line) if node in positions else 0

    def report(node: Any, status: Status, message: str) -> None:
        result.findings.append(Finding("GPU110", status, message, path, line(node)))

    def scope(node: Any) -> Any:
        cur = parents.get(node)
        while cur is not None and not isinstance(cur, (cst.FunctionDef, cst.Module)):
            cur = parents.get(cur)
        return cur

    # ---- collect -------------------------------------------------------------------------------
    calls: list[Any] = []
    dicts: list[Any] = []
    strings: list[Any] = []
    for node in positions:
        if isinstance(node, cst.Call):
            calls.append(node)
        elif isinstance(node, cst.Dict):
            dicts.append(node)
        elif isinstance(node, cst.SimpleString) and GPU_KEY.match(_str(node) or ""):
            strings.append(node)
    assigned: dict[tuple[int, str], Any] = {}
    for node in positions:
        if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call) and \
                _callee(node.value)[1] == "V1Container" and len(node.targets) == 1 and \
                isinstance(node.targets[0].target, cst.Name):
            assigned[(id(scope(node)), node.targets[0].target.value)] = node.value

    handled_strings: set[int] = set()
    edits_req: dict[int, tuple[list[DeviceRequest], str]] = {}  # V1ResourceRequirements call -> removed keys
    edits_pod: dict[int, tuple[str, str, list[str]]] = {}  # V1PodSpec call -> (prefix, template, resources)
    dict_edits: dict[int, Any] = {}  # dict node -> "container"/"pod" instructions

    def gpu_entries(d: Any) -> tuple[list[tuple[str, int]], list[Any]] | None:
        """GPU keys of a limits/requests dict literal; None when a GPU value is not a literal."""
        found, nodes = [], []
        if not isinstance(d, cst.Dict):
            return [], []
        for el in d.elements:
            if not isinstance(el, cst.DictElement):
                continue
            key = _str(el.key)
            if key and GPU_KEY.match(key):
                n = _count(el.value)
                if n is None or resolve_device(key, tables) is None:
                    return None
                found.append((key, n))
                nodes.append(el.key)
        return found, nodes

    def pod_requests(containers: list[tuple[str, list[tuple[str, int]]]]) -> tuple[list[DeviceRequest], list[list[str]]]:
        """The pod's requests, and per container the names of its own (never another's)."""
        reqs: list[DeviceRequest] = []
        own: list[list[str]] = []
        for cname, asks in containers:
            own.append([])
            for res, n in asks:
                if n <= 0:
                    continue
                dev = resolve_device(res, tables)
                assert dev is not None
                base = dns_label(cname if len(asks) == 1 else f"{cname}-{res.split('/', 1)[1]}")
                name, i = base, 2
                while name in {r.name for r in reqs}:
                    name, i = f"{base}-{i}", i + 1
                reqs.append(DeviceRequest(name, dev[0], n, dev[1], res))
                own[-1].append(name)
        return reqs, own

    def template_for(owner: str, reqs: list[DeviceRequest]) -> dict[str, Any]:
        spec = {"spec": {"devices": {"requests": device_requests(reqs, api_version)}}}
        digest = hashlib.sha256(json.dumps([path, owner, spec], sort_keys=True).encode()).hexdigest()[:8]
        stem = re.sub(r"[^a-z0-9-]+", "-", path.rsplit("/", 1)[-1].removesuffix(".py").lower()).strip("-")[:30]
        name = f"{stem}-{dns_label(owner)[:20]}-gpu-{digest}".strip("-")
        t = {"apiVersion": api_version, "kind": "ResourceClaimTemplate", "metadata": {"name": name},
             "spec": spec}
        result.templates.append(t)
        return t

    # client objects: V1PodSpec(containers=[V1Container(resources=V1ResourceRequirements(...))])
    for call in calls:
        prefix, name = _callee(call)
        if name != "V1PodSpec":
            continue
        clist = _kw(call, "containers")
        if not isinstance(clist, cst.List):
            continue
        containers: list[tuple[str, list[tuple[str, int]]]] = []
        req_calls: list[Any] = []
        ok = True
        for el in clist.elements:
            ctr = el.value
            if isinstance(ctr, cst.Name):
                ctr = assigned.get((id(scope(call)), ctr.value))
            if not (isinstance(ctr, cst.Call) and _callee(ctr)[1] == "V1Container"):
                continue
            res = _kw(ctr, "resources")
            if not (isinstance(res, cst.Call) and _callee(res)[1] == "V1ResourceRequirements"):
                if res is not None and any(s for s in strings if _within(parents, s, res)):
                    ok = False
                continue
            limits, requests = gpu_entries(_kw(res, "limits")), gpu_entries(_kw(res, "requests"))
            if limits is None or requests is None:
                ok = False
                break
            asks = dict(requests[0]) | dict(limits[0])
            if not asks:
                continue
            cname = _str(_kw(ctr, "name")) or f"c{len(containers)}"
            containers.append((cname, sorted(asks.items())))
            req_calls.append(res)
            handled_strings.update(id(k) for k in limits[1] + requests[1])
        if not containers:
            continue
        inits = _kw(call, "init_containers")
        if inits is not None and any(_within(parents, st, inits) for st in strings):
            report(call, Status.MANUAL, "V1PodSpec whose init containers ask for GPUs: not converted "
                   "(use `dra-migrate rewrite` on the rendered manifest, which shares devices correctly)")
            continue
        reqs, own = pod_requests(containers)
        tol = _kw(call, "tolerations")
        rc = _kw(call, "resource_claims")
        if not ok or (tol is not None and not isinstance(tol, cst.List)) or (rc is not None and not isinstance(rc, cst.List)):
            report(call, Status.MANUAL, "V1PodSpec with GPU containers: a count, the tolerations or the "
                   "resource_claims are not literals; not converted")
            continue
        if not reqs:
            for res in req_calls:
                edits_req[id(res)] = ([], "")
            continue
        t = template_for(_str(_kw(call, "hostname")) or containers[0][0], reqs)
        by_name = {r.name: r for r in reqs}
        for res, names in zip(req_calls, own):
            edits_req[id(res)] = ([by_name[n] for n in names], prefix)
        edits_pod[id(call)] = (prefix, t["metadata"]["name"], sorted({r.resource for r in reqs}))
        result.findings.append(Finding("GPU000", Status.CONVERTED, f"V1PodSpec converted to ResourceClaimTemplate "
                                       f"{t['metadata']['name']}", path, line(call)))

    # plain dict pod specs: {"containers": [{"name": ..., "resources": {"limits": {...}}}]}
    for d in dicts:
        clist = _dict_get(d, "containers")
        if not isinstance(clist, cst.List):
            continue
        containers, ok, ctr_dicts = [], True, []
        for el in clist.elements:
            ctr = el.value
            if not isinstance(ctr, cst.Dict):
                continue
            res = _dict_get(ctr, "resources")
            if not isinstance(res, cst.Dict):
                continue
            limits, requests = gpu_entries(_dict_get(res, "limits")), gpu_entries(_dict_get(res, "requests"))
            if limits is None or requests is None:
                ok = False
                break
            asks = dict(requests[0]) | dict(limits[0])
            if asks:
                cname = _str(_dict_get(ctr, "name")) or f"c{len(containers)}"
                containers.append((cname, sorted(asks.items())))
                ctr_dicts.append(res)
                handled_strings.update(id(k) for k in limits[1] + requests[1])
        if not containers:
            continue
        inits = _dict_get(d, "initContainers")
        if inits is not None and any(_within(parents, st, inits) for st in strings):
            report(d, Status.MANUAL, "pod spec dict whose init containers ask for GPUs: not converted "
                   "(use `dra-migrate rewrite` on the rendered manifest, which shares devices correctly)")
            continue
        tol = _dict_get(d, "tolerations")
        rc = _dict_get(d, "resourceClaims")
        if not ok or (tol is not None and not isinstance(tol, cst.List)) or (rc is not None and not isinstance(rc, cst.List)):
            report(d, Status.MANUAL, "pod spec dict with GPU containers: a count, the tolerations or the "
                   "resourceClaims are not literals; not converted")
            continue
        reqs, own = pod_requests(containers)
        if reqs:
            t = template_for(containers[0][0], reqs)
            dict_edits[id(d)] = ("pod", t["metadata"]["name"], sorted({r.resource for r in reqs}))
            result.findings.append(Finding("GPU000", Status.CONVERTED, f"pod spec dict converted to "
                                           f"ResourceClaimTemplate {t['metadata']['name']}", path, line(d)))
        for res, names in zip(ctr_dicts, own):
            dict_edits[id(res)] = ("resources", names)

    for s in strings:
        if id(s) not in handled_strings:
            report(s, Status.MANUAL, f"{_str(s)} is used here in a way the codemod cannot resolve statically "
                   "(a variable, a helper, or no pod spec in the same scope); migrate by hand")
    for call in calls:
        if _callee(call)[1] in REPORT_CALLS or (_callee(call)[1] and any(a.keyword is not None and a.keyword.value == "gpus"
                                                                           for a in call.args)):
            report(call, Status.MANUAL, f"{_callee(call)[1]}(...) requests GPUs through a helper; migrate by hand")

    if not edits_req and not edits_pod and not dict_edits:
        return result
    result.after = wrapper.module.visit(_Rewriter(edits_req, edits_pod, dict_edits)).code
    return result


def _within(parents: Any, node: Any, ancestor: Any) -> bool:
    cur = node
    while cur is not None:
        if cur is ancestor:
            return True
        cur = parents.get(cur)
    return False


def _rewriter_base():  # type: ignore[no-untyped-def]
    import libcst as cst

    return cst.CSTTransformer


class _Rewriter(_rewriter_base()):  # type: ignore[misc]
    """Applies the collected edits (keyed by the original nodes)."""

    def __init__(self, edits_req: dict[int, Any], edits_pod: dict[int, Any], dict_edits: dict[int, Any]) -> None:
        super().__init__()
        self.req, self.pod, self.dicts = edits_req, edits_pod, dict_edits

    @staticmethod
    def _strip(d: Any) -> Any:
        import libcst as cst

        keep = _drop(list(d.elements), lambda el: isinstance(el, cst.DictElement) and bool(GPU_KEY.match(_str(el.key) or "")))
        return d.with_changes(elements=keep), bool(keep)

    def leave_Call(self, original: Any, updated: Any) -> Any:
        import libcst as cst

        if id(original) in self.req:
            reqs, prefix = self.req[id(original)]
            args, gone = [], set()
            for a in updated.args:
                if a.keyword is not None and a.keyword.value in ("limits", "requests") and isinstance(a.value, cst.Dict):
                    stripped, nonempty = self._strip(a.value)
                    if nonempty:
                        a = a.with_changes(value=stripped)
                    else:
                        gone.add(id(a))
                args.append(a)
            args = _drop(args, lambda a: id(a) in gone)
            if reqs:
                claims = ", ".join(f'{prefix}CoreV1ResourceClaim(name="gpu", request="{r.name}")' for r in reqs)
                args = _append(args, cst.Arg(keyword=cst.Name("claims"), value=cst.parse_expression(f"[{claims}]"),
                                             equal=_EQ()), updated.whitespace_before_args)
            return updated.with_changes(args=_fix_commas(args))
        if id(original) in self.pod:
            prefix, template, resources = self.pod[id(original)]
            rc = f'{prefix}V1PodResourceClaim(name="gpu", resource_claim_template_name="{template}")'
            extra = [("resource_claims", rc)] + [
                ("tolerations", f'{prefix}V1Toleration(key="{r}", operator="Exists", effect="NoSchedule")')
                for r in resources]
            return updated.with_changes(args=_extend(updated.args, extra, updated.whitespace_before_args))
        return updated

    def leave_Dict(self, original: Any, updated: Any) -> Any:
        import libcst as cst

        edit = self.dicts.get(id(original))
        if edit is None:
            return updated
        if edit[0] == "resources":
            elements, gone = [], set()
            for el in updated.elements:
                key = _str(el.key) if isinstance(el, cst.DictElement) else None
                if key in ("limits", "requests") and isinstance(el.value, cst.Dict):
                    stripped, nonempty = self._strip(el.value)
                    if nonempty:
                        el = el.with_changes(value=stripped)
                    else:
                        gone.add(id(el))
                elements.append(el)
            elements = _drop(elements, lambda el: id(el) in gone)
            if edit[1]:
                claims = ", ".join(f'{{"name": "gpu", "request": "{r}"}}' for r in edit[1])
                elements = _append(elements, cst.DictElement(cst.SimpleString('"claims"'),
                                                              cst.parse_expression(f"[{claims}]")),
                                   updated.lbrace.whitespace_after)
            return updated.with_changes(elements=_fix_commas(elements))
        template, resources = edit[1], edit[2]
        rc = f'{{"name": "gpu", "resourceClaimTemplateName": "{template}"}}'
        elements = list(updated.elements)
        pairs = [("resourceClaims", rc)] + [
            ("tolerations", f'{{"key": "{r}", "operator": "Exists", "effect": "NoSchedule"}}') for r in resources]
        for key, value in pairs:
            existing = next((i for i, el in enumerate(elements) if isinstance(el, cst.DictElement)
                             and _str(el.key) == key), None)
            if existing is None:
                elements = _append(elements, cst.DictElement(cst.SimpleString(f'"{key}"'),
                                                              cst.parse_expression(f"[{value}]")),
                                   updated.lbrace.whitespace_after)
            else:
                el = elements[existing]
                if not (key == "tolerations" and value.split('"key": ')[1].split(",")[0] in cst.Module([]).code_for_node(el.value)):
                    lst = el.value
                    items = _append(list(lst.elements), cst.Element(cst.parse_expression(value)),
                                    lst.lbracket.whitespace_after)
                    elements[existing] = el.with_changes(value=lst.with_changes(elements=items))
        return updated.with_changes(elements=_fix_commas(elements))


def _EQ():  # type: ignore[no-untyped-def]
    import libcst as cst

    return cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _drop(items: list[Any], gone: Any) -> list[Any]:
    """Remove items; when the last one goes, the new last takes its comma (trailing-comma layout)."""
    keep = [it for it in items if not gone(it)]
    if keep and items and gone(items[-1]):
        keep[-1] = keep[-1].with_changes(comma=items[-1].comma)
    return keep


def _append(items: list[Any], new: Any, before_first: Any = None) -> list[Any]:
    """Append an argument or element in the list's own layout.

    ``before_first`` is the whitespace before the first item (after ``(``/``{``/``[``): when it
    starts a new line, the new item goes on a line of its own with the same indentation, and a
    trailing comma stays trailing; otherwise ``, new`` is appended on the same line.
    """
    import libcst as cst

    items = list(items)
    if items and isinstance(before_first, cst.ParenthesizedWhitespace):
        sep = cst.ParenthesizedWhitespace(first_line=cst.TrailingWhitespace(), empty_lines=[],
                                          indent=before_first.indent, last_line=before_first.last_line)
        trailing = items[-1].comma
        comma = trailing if isinstance(trailing, cst.Comma) else cst.Comma()
        items[-1] = items[-1].with_changes(comma=comma.with_changes(whitespace_before=cst.SimpleWhitespace(""),
                                                                    whitespace_after=sep))
        if isinstance(trailing, cst.Comma) and not isinstance(trailing.whitespace_after, cst.ParenthesizedWhitespace):
            trailing = trailing.with_changes(whitespace_after=cst.SimpleWhitespace(""))
        elif isinstance(trailing, cst.Comma):
            # the comment, if any, belongs to the old last item's line
            trailing = trailing.with_changes(whitespace_after=trailing.whitespace_after.with_changes(
                first_line=cst.TrailingWhitespace(), empty_lines=[]))
        return items + [new.with_changes(comma=trailing)]
    return _fix_commas(items) + [new]


def _fix_commas(items: list[Any]) -> list[Any]:
    """Every element but the last gets a comma (keeping each element's own whitespace)."""
    import libcst as cst

    out = []
    for i, it in enumerate(items):
        if i < len(items) - 1 and (it.comma is cst.MaybeSentinel.DEFAULT):
            it = it.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        out.append(it)
    return out


def _extend(args: Any, extra: list[tuple[str, str]], before_first: Any = None) -> list[Any]:
    import libcst as cst

    args = list(args)
    for key, value in extra:
        idx = next((i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == key), None)
        if idx is None:
            args = _append(args, cst.Arg(keyword=cst.Name(key), value=cst.parse_expression(f"[{value}]"),
                                         equal=_EQ()), before_first)
        else:
            lst = args[idx].value
            if key == "tolerations" and value.split('key=')[1].split(",")[0] in cst.Module([]).code_for_node(lst):
                continue
            args[idx] = args[idx].with_changes(value=lst.with_changes(
                elements=_append(list(lst.elements), cst.Element(cst.parse_expression(value)),
                                 lst.lbracket.whitespace_after)))
    return _fix_commas(args)
