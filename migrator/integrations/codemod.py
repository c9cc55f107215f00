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

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from migrator.dra import device_requests
from migrator.model import DeviceRequest, Finding, Status
from migrator.tables import load_tables, resource_prefixes
from migrator.transforms.base import dns_label, resolve_device

REPORT_CALLS = {"set_gpu_limit", "set_accelerator_limit", "set_accelerator_type", "add_resource_limit",
                "add_resource_request"}


def gpu_key(name: str) -> bool:
    """A resource name the codemod rewrites or reports: a vendor profile's ``resources`` row of kind
    whole, partition or unknown names or matches it (shares and reported names are not device keys)."""
    vendors = load_tables().vendors
    hit = vendors.for_resource(name) if vendors is not None and "/" in name else None
    return hit is not None and hit[1].kind in ("whole", "partition", "unknown")


@functools.cache
def _trigger(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    """A file none of whose text matches is not parsed: nothing in it can be reported or rewritten
    (a resource name of a profile's ``resourcePrefixes`` in a string, a helper in REPORT_CALLS, a
    ``gpus=`` keyword). Strings that spell the name with escapes are found by ``_escaped_gpu_string``."""
    return re.compile("|".join([re.escape(p) for p in prefixes] + [r"\bgpus\b"] + sorted(REPORT_CALLS)))

#: The input guard, measured with libcst 1.9 on Linux (8 MiB stack; ``python -m
#: benchmarks.codemod_limits --crash``). The native parser recurses per nesting level and per
#: chained operator and dies with SIGSEGV from a ``nesting`` estimate of about 2,800 (1,130 nested
#: f-strings; 1,210 nested calls are 3,630; 7,000 ``+`` terms 7,030); files above MAX_NESTING
#: are not parsed. libcst's Python side (code generation, transformers) raises RecursionError
#: from a tree depth of about 495 in a fresh process and 245 when the caller is 120 frames deep;
#: trees deeper than MAX_DEPTH are not processed. Real code stays well below both: over the
#: 11,780 files of a Python 3.11 installation with sympy and pip, only generated tables exceed
#: the estimate (sympy's polynomial tables, pydoc's topics), and 400 files of the standard
#: library, site-packages and the corpus have trees at most 65 deep.
MAX_NESTING = 500
MAX_DEPTH = 150

_LEX = re.compile(r"""
 (?P<str>[rRbBuUfFtT]{0,2}(?:\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"|'''(?:\\[\s\S]|[^\\])*?'''
   |"(?:\\\r\n|\\[\s\S]|[^"\\\r\n])*"|'(?:\\\r\n|\\[\s\S]|[^'\\\r\n])*'))
|(?P<comment>\#[^\r\n]*)
|(?P<cont>\\\r?\n)
|(?P<nl>\r\n?|\n)
|(?P<open>[(\[{])
|(?P<close>[)\]}])
|(?P<op>==|!=|<=|>=|:=|->|\*\*(?!=)|//(?!=)|<<(?!=)|>>(?!=)|[-+*/%@&|^~<>.](?!=))
|(?P<sep>[,;]|(?:\*\*|//|<<|>>|[-+*/%@&|^])?=)
|(?P<num>\.?\d(?:[\w.]|[eE][-+])*)
|(?P<word>\w+)
|(?P<other>\S)
""", re.X)
_TEMPLATE_PREFIX = re.compile(r"[rRbB]?[fFtT]")  #: an f-string (or a 3.14 t-string)
#: Keywords that nest what follows them (``not not x``, ``lambda: lambda: x``, ``a if b else c``).
_NESTING_WORDS = frozenset({"not", "lambda", "await", "and", "or", "if", "else", "yield"})


def nesting(source: str) -> tuple[int, int]:
    """An upper estimate of how deep the syntax tree of ``source`` goes, and the line where.

    One pass of a regular expression (strings and comments skipped): a bracket counts three
    levels (a call, its argument, the value); an operator or a nesting keyword one (``a + b + c``
    and ``a.b.c`` nest to the left, ``-``, ``not``, ``lambda``, ``**`` to the right), and so do a
    string after a string (implicit concatenation) and a bracket right after a bracket (``f()()``);
    a replacement field of an f-string two; a block indentation three. Commas, assignments and ends
    of logical lines close a chain.
    """
    stack: list[int] = []
    cur = base = best = best_pos = 0
    indents = [0]
    chains: dict[int, int] = {}  #: indentation -> elif branches so far in the chain at that indentation
    chain = 0
    line_start = True
    prev = ""
    for m in _LEX.finditer(source):
        kind = m.lastgroup
        if kind == "nl":
            if not stack:
                cur, line_start, prev = 0, True, ""
            continue
        if kind == "comment" or kind == "cont":
            continue
        if line_start:
            line_start = False
            width = len(source[source.rfind("\n", 0, m.start()) + 1:m.start()].expandtabs(8))
            while width < indents[-1]:
                indents.pop()
            if width > indents[-1]:
                indents.append(width)
            # an elif is the orelse of the if before it: a chain of them nests one level per branch
            # (libcst's native parser recurses on it: 12,000 branches crash the process)
            if kind == "word" and m.group() == "elif":
                chains[width] = chains.get(width, 0) + 1
            elif not (kind == "word" and m.group() == "else"):
                chains[width] = 0
            for w in [w for w in chains if w > width]:
                del chains[w]
            chain = sum(chains.values())
        if kind == "open":
            stack.append(cur + (prev == "close"))
            base += stack[-1] + 3
            cur = 0
        elif kind == "close":
            if stack:
                cur = stack.pop()
                base -= cur + 3
        elif kind == "sep":
            cur = 0
        elif kind == "op" or kind == "other" or (kind == "str" and prev == "str") or \
                (kind == "word" and m.group() in _NESTING_WORDS):
            cur += 1
        if kind == "str" and _TEMPLATE_PREFIX.match(m.group()):
            cur += 2 * m.group().count("{")  # a replacement field nests an expression (and f-strings nest)
        prev = kind
        if base + cur + 3 * len(indents) + chain > best:
            best, best_pos = base + cur + 3 * len(indents) + chain, m.start()
    return best, source.count("\n", 0, best_pos) + 1


def _escaped_gpu_string(source: str) -> bool:
    """A string literal that spells a GPU resource name with escapes (``"nvidia\\x2ecom/gpu"``)."""
    import ast

    for m in _LEX.finditer(source):
        if m.lastgroup == "str" and "\\" in m.group():
            try:
                value = ast.literal_eval(m.group())
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            # the pre-filter: a name in a profile's namespaces is enough to parse the file
            if isinstance(value, str) and value.startswith(resource_prefixes()):
                return True
    return False


def might_matter(source: str) -> bool:
    """Cheap pre-filter: False when the codemod can have nothing to say about ``source``."""
    return bool(_trigger(resource_prefixes()).search(source)) or ("\\" in source and _escaped_gpu_string(source))


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
        text = _str(value)
        if text is not None and text.strip().isdigit():
            return int(text)
    return None


def _str(value: Any) -> str | None:
    """The value of a string literal (None for anything else, bytes included)."""
    import libcst as cst

    if not isinstance(value, cst.SimpleString):
        return None
    raw = value.value
    if "\\" not in raw:  # no escapes: the text between the quotes (literal_eval is slow)
        quote = min(i for i in (raw.find('"'), raw.find("'")) if i >= 0)
        if "b" not in raw[:quote].lower():
            body = raw[quote:]
            return body[3:-3] if body[:3] in ('"""', "'''") else body[1:-1]
    text = value.evaluated_value
    return text if isinstance(text, str) else None


def _name(call: Any) -> str:
    """The called name: ``client.V1PodSpec(...)`` -> "V1PodSpec"."""
    import libcst as cst

    f = call.func
    if isinstance(f, cst.Name):
        return str(f.value)
    if isinstance(f, cst.Attribute):
        return str(f.attr.value)
    return ""


def _prefix(call: Any) -> str:
    """What qualifies the called name: ``client.V1PodSpec(...)`` -> "client."."""
    import libcst as cst

    f = call.func
    return cst.Module([]).code_for_node(f.value) + "." if isinstance(f, cst.Attribute) else ""


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


# ---- the tree without libcst's metadata providers -------------------------------------------------
# ParentNodeProvider and PositionProvider visit and re-generate the whole module (most of the
# codemod's time on a big file); one iterative walk gives the parents, the depth and the order,
# and lines are computed only for the nodes a finding names.

#: Fields that hold only whitespace and punctuation: nothing to find under them.
_SKIP_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "equal", "colon", "dot", "lbrace", "rbrace", "lbracket", "rbracket",
    "leading_lines", "lines_after_decorators", "trailing_whitespace", "header", "footer", "operator",
    "first_colon", "second_colon", "asynchronous", "star", "relative", "trailing_comma", "indent", "newline",
    "walrus"})
#: Where a class's dataclass field order is not the order of the source (checked against
#: libcst's own visitor and PositionProvider in tests/test_codemod.py).
_SOURCE_ORDER = {
    "ClassDef": ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    "FunctionDef": ("decorators", "name", "type_parameters", "params", "returns", "body"),
    "ExceptHandler": ("type", "name", "body"),
    "ExceptStarHandler": ("type", "name", "body"),
    "IfExp": ("body", "test", "orelse"),
    "MatchCase": ("pattern", "guard", "body"),
    "Parameters": ("posonly_params", "params", "star_arg", "kwonly_params", "star_kwarg"),
    "TypeAlias": ("name", "type_parameters", "value"),
    "Arg": ("keyword", "value"),
}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        import dataclasses

        names = _SOURCE_ORDER.get(cls.__name__) or tuple(
            f.name for f in dataclasses.fields(cls)
            if f.name not in _SKIP_FIELDS and not f.name.startswith("whitespace"))
        _FIELDS[cls] = names
    return names


@dataclass(frozen=True)
class Tree:
    """Every node in the order PositionProvider lists them (children first), and their parents."""

    nodes: list[Any]
    parents: dict[Any, Any]
    depth: int


def walk(module: Any, max_depth: int | None = None) -> Tree:
    """The nodes under ``module``, without recursion; stops deeper than ``max_depth``."""
    import libcst as cst

    node_type = cst.CSTNode
    nodes: list[Any] = []
    parents: dict[Any, Any] = {}
    deepest = 0
    stack: list[tuple[Any, int]] = [(module, 0)]
    while stack:
        node, d = stack.pop()
        if d < 0:  # the second time: its children are done
            nodes.append(node)
            continue
        if d > deepest:
            deepest = d
            if max_depth is not None and d > max_depth:
                break
        stack.append((node, -1))
        kids: list[Any] = []
        for name in _child_fields(type(node)):
            v = getattr(node, name)
            if isinstance(v, node_type):
                kids.append(v)
            elif isinstance(v, (tuple, list)):
                kids.extend(x for x in v if isinstance(x, node_type))
        for k in reversed(kids):
            parents[k] = node
            stack.append((k, d + 1))
    return Tree(nodes, parents, deepest)


def lines_of(module: Any, wanted: list[Any]) -> dict[int, int]:
    """The start line (as PositionProvider has it) of each node in ``wanted``, by id.

    One plain code generation of the module that notes where each wanted node's syntactic
    range starts: none of the per-token and per-node bookkeeping PositionProvider does.
    """
    import contextlib

    ids = {id(n) for n in wanted}
    if not ids:
        return {}
    try:
        from libcst._nodes.internal import CodegenState
    except ImportError:  # pragma: no cover - a libcst that moved it: the public, slower way
        return _lines_by_provider(module, wanted)
    marks: list[tuple[int, int]] = []
    null = contextlib.nullcontext()

    class _State(CodegenState):
        def record_syntactic_position(self, node: Any, *, start_node: Any = None, end_node: Any = None) -> Any:
            if id(node) in ids:
                marks.append((len(self.tokens), id(node)))
            return null

    state = _State(default_indent=module.default_indent, default_newline=module.default_newline)
    module._codegen(state)
    out: dict[int, int] = {}
    line, upto = 1, 0
    for index, nid in sorted(marks):
        line += sum(len(_NEWLINE.findall(t)) for t in state.tokens[upto:index] if "\n" in t or "\r" in t)
        upto = index
        out.setdefault(nid, line)
    return out


_NEWLINE = re.compile(r"\r\n?|\n")


def _lines_by_provider(module: Any, wanted: list[Any]) -> dict[int, int]:
    from libcst.metadata import MetadataWrapper, PositionProvider

    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {id(n): int(positions[n].start.line) for n in wanted if n in positions}


def parse_guarded(source: str, path: str) -> tuple[Any, Tree]:
    """The module and its tree, or InvalidInput for what is not Python or is nested too deeply."""
    import libcst as cst

    from migrator.errors import InvalidInput

    est, where = nesting(source)
    if est > MAX_NESTING:
        raise InvalidInput(path, where, f"nested too deeply to parse safely (about {est} levels; the limit is "
                           f"{MAX_NESTING}): not processed")
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise InvalidInput(path, exc.raw_line, "not valid Python (libcst could not parse it)") from None
    except (RecursionError, MemoryError):
        raise InvalidInput(path, where, "nested too deeply to parse: not processed") from None
    tree = walk(module, MAX_DEPTH)
    if tree.depth > MAX_DEPTH:
        raise InvalidInput(path, where, f"syntax tree deeper than {MAX_DEPTH} levels (deep nesting or a long "
                           "operator chain): not processed")
    return module, tree


def run_codemod(source: str, path: str, api_version: str = "resource.k8s.io/v1") -> CodemodResult:
    """Rewrite one module's source; InvalidInput for what cannot be parsed or processed safely."""
    if not might_matter(source):
        return CodemodResult(path, source, source)
    module, tree = parse_guarded(source, path)
    try:
        return _run(source, path, module, tree, api_version)
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps the recursive steps below the limit
        from migrator.errors import InvalidInput

        raise InvalidInput(path, None, "nested too deeply to process: not processed") from None


def _run(source: str, path: str, module: Any, tree: Tree, api_version: str = "resource.k8s.io/v1") -> CodemodResult:
    import libcst as cst

    parents = tree.parents
    tables = load_tables()
    result = CodemodResult(path, source, source)

    pending: list[tuple[str, Status, str, Any]] = []  # findings, with the node whose line they get

    def report(node: Any, status: Status, message: str, code: str = "GPU110") -> None:
        pending.append((code, status, message, node))

    def scope(node: Any) -> Any:
        cur = parents.get(node)
        while cur is not None and not isinstance(cur, (cst.FunctionDef, cst.Module)):
            cur = parents.get(cur)
        return cur

    # ---- collect -------------------------------------------------------------------------------
    calls: list[Any] = []
    dicts: list[Any] = []
    strings: list[Any] = []
    assigned: dict[tuple[int, str], Any] = {}
    prefixes = resource_prefixes()
    for node in tree.nodes:
        if isinstance(node, cst.Call):
            calls.append(node)
        elif isinstance(node, cst.Dict):
            dicts.append(node)
        elif isinstance(node, cst.SimpleString):
            if (any(p in node.value for p in prefixes) or "\\" in node.value) and gpu_key(_str(node) or ""):
                strings.append(node)
        elif isinstance(node, cst.Assign) and isinstance(node.value, cst.Call) and \
                _name(node.value) == "V1Container" and len(node.targets) == 1 and \
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
            if key and gpu_key(key):
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
        if _name(call) != "V1PodSpec":
            continue
        prefix = _prefix(call)
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
            if not (isinstance(ctr, cst.Call) and _name(ctr) == "V1Container"):
                continue
            res = _kw(ctr, "resources")
            if not (isinstance(res, cst.Call) and _name(res) == "V1ResourceRequirements"):
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
        report(call, Status.CONVERTED, f"V1PodSpec converted to ResourceClaimTemplate {t['metadata']['name']}",
               "GPU000")

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
            report(d, Status.CONVERTED, f"pod spec dict converted to ResourceClaimTemplate {t['metadata']['name']}",
                   "GPU000")
        for res, names in zip(ctr_dicts, own):
            dict_edits[id(res)] = ("resources", names)

    for s in strings:
        if id(s) not in handled_strings and not _toleration_key(s, parents):
            report(s, Status.MANUAL, f"{_str(s)} is used here in a way the codemod cannot resolve statically "
                   "(a variable, a helper, or no pod spec in the same scope); migrate by hand")
    for call in calls:
        name = _name(call)
        if name in REPORT_CALLS or (name and any(a.keyword is not None and a.keyword.value == "gpus" for a in call.args)):
            report(call, Status.MANUAL, f"{name}(...) requests GPUs through a helper; migrate by hand")
    lines = lines_of(module, [n for *_, n in pending])
    result.findings = [Finding(code, status, message, path, lines.get(id(n), 0)) for code, status, message, n in pending]

    if not edits_req and not edits_pod and not dict_edits:
        return result
    # only the top-level statements that hold an edit are transformed (the edits are keyed by
    # the original nodes; every other statement is kept as it is)
    edited = {id(n) for n in tree.nodes if id(n) in edits_req or id(n) in edits_pod or id(n) in dict_edits}
    touched: set[int] = set()
    on_path: set[int] = set()  # the edited nodes and their ancestors: the only ones the rewriter enters
    for n in tree.nodes:
        if id(n) in edited:
            on_path.add(id(n))
            while parents.get(n) is not module:
                n = parents[n]
                on_path.add(id(n))
            touched.add(id(n))
    rewriter = _rewriter(edits_req, edits_pod, dict_edits, on_path)
    body = [stmt.visit(rewriter) if id(stmt) in touched else stmt for stmt in module.body]
    result.after = module.with_changes(body=body).code
    return result


# ---- the templates file beside the module ------------------------------------------------------

#: The first line of every templates file the codemod writes: a file without it is not ours.
SIDE_MARKER = "# Generated by dra-migrate codemod"


@dataclass(frozen=True)
class SideFile:
    """``<module>-claim-templates.yaml``: what it holds now and what it must hold."""

    path: str
    before: str | None  #: None: it does not exist
    after: str  #: equal to ``before`` when there is nothing to add
    mtime_ns: int | None
    bom: bool = False


def templates_path(py_path: str) -> str:
    import os

    return os.path.splitext(py_path)[0] + "-claim-templates.yaml"


def _documents(templates: list[dict[str, Any]]) -> str:
    from migrator.text.documents import Layout
    from migrator.text.edit import block_entries

    layout = Layout("\n", 2, False)
    return "".join("---\n" + "".join(line + "\n" for line in block_entries(t, 0, layout)) for t in templates)


def side_file(py_path: str, templates: list[dict[str, Any]]) -> SideFile:
    """The templates file of ``py_path`` once ``templates`` are in it.

    A new file gets a header line (SIDE_MARKER) and the templates. An existing file is ours
    only if it is a regular file (not a symlink) starting with that line: then the templates it
    does not hold yet are appended, every byte of it kept. Anything else is InvalidInput: we
    never overwrite a file we did not write (and then the module is not rewritten either).
    """
    import os
    import stat

    from migrator.text.documents import get, parse, str_at
    from migrator.errors import InvalidInput
    from migrator.text.sources import read

    path = templates_path(py_path)
    header = f"{SIDE_MARKER} from {os.path.basename(py_path)}: the ResourceClaimTemplates it names.\n"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return SideFile(path, None, header + _documents(templates), None)
    except OSError as exc:
        raise InvalidInput(path, None, f"cannot read: {exc.strerror or exc}") from None
    keep = f"not overwritten, and {py_path} is not rewritten"
    if stat.S_ISLNK(st.st_mode):
        raise InvalidInput(path, None, f"is a symlink: {keep}")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(path, None, f"is not a regular file: {keep}")
    try:
        src = read(path)
        if not src.text.startswith(SIDE_MARKER):
            raise InvalidInput(path, None, "exists and was not written by dra-migrate codemod (move it away, or "
                               "merge by hand)")
        docs = parse(src.text, path)
    except InvalidInput as exc:
        raise InvalidInput(exc.path, exc.line, f"{exc.message}: {keep}") from None
    names = {str_at(d.root, "metadata", "name") for d in docs
             if d.root is not None and str_at(d.root, "kind") == "ResourceClaimTemplate" and get(d.root, "metadata")}
    new = [t for t in templates if t["metadata"]["name"] not in names]
    after = src.text
    if new:
        after += ("" if not after or after.endswith("\n") else "\n") + _documents(new)
    return SideFile(path, src.text, after, src.mtime_ns, src.bom)


def _toleration_key(s: Any, parents: Any) -> bool:
    """``s`` is the key of a toleration (``V1Toleration(key=...)``, ``{"key": ..., "effect": ...}``):
    it asks for nothing (the codemod writes these itself; a second run must not report them)."""
    import libcst as cst

    holder = parents.get(s)
    if isinstance(holder, cst.Arg) and holder.keyword is not None and holder.keyword.value == "key":
        call = parents.get(holder)
        return isinstance(call, cst.Call) and _name(call) == "V1Toleration"
    if isinstance(holder, cst.DictElement) and holder.value is s and _str(holder.key) == "key":
        d = parents.get(holder)
        return _dict_get(d, "operator") is not None or _dict_get(d, "effect") is not None
    return False


def _within(parents: Any, node: Any, ancestor: Any) -> bool:
    cur = node
    while cur is not None:
        if cur is ancestor:
            return True
        cur = parents.get(cur)
    return False


def _rewriter(edits_req: dict[int, Any], edits_pod: dict[int, Any], dict_edits: dict[int, Any],
              on_path: set[int]) -> Any:
    import libcst as cst

    # a CSTTransformer made here, so that importing this module does not import libcst (files
    # the pre-filter rules out never need it)
    cls = type("_Rewriter", (_RewriterMixin, cst.CSTTransformer), {})
    return cls(edits_req, edits_pod, dict_edits, on_path)


class _RewriterMixin:
    """Applies the collected edits (keyed by the original nodes)."""

    def __init__(self, edits_req: dict[int, Any], edits_pod: dict[int, Any], dict_edits: dict[int, Any],
                 on_path: set[int]) -> None:
        super().__init__()
        self.req, self.pod, self.dicts = edits_req, edits_pod, dict_edits
        self.on_path = on_path

    def on_visit(self, node: Any) -> bool:
        # A subtree with no edit in it comes back as it is: not entering it keeps the rewrite's cost
        # to the paths down to the edits (a whole DAG file was visited for one call in it). libcst
        # still calls on_leave with the node itself, where no edit matches it.
        if id(node) not in self.on_path:
            return False
        return bool(super().on_visit(node))  # type: ignore[misc]

    @staticmethod
    def _strip(d: Any) -> Any:
        import libcst as cst

        keep = _drop(list(d.elements), lambda el: isinstance(el, cst.DictElement) and gpu_key(_str(el.key) or ""))
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
                if not (key == "tolerations"
                        and value.split('"key": ')[1].split(",")[0] in cst.Module([]).code_for_node(el.value)):
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
