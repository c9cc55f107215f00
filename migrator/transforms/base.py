"""What a rule sees (PodContext, read-only) and what it contributes to (PodPlan).

A rule is a module with ``CODE``, ``NAME``, ``SUMMARY``, ``FIX`` (FixSafety) and
``check(ctx, plan) -> Iterable[Finding | Intent]``; its docstring has the sections *What it does*,
*Why*, *Example* and *Fix safety*. Rules return values: findings, and typed fix intents (add a
request, remove a resource, set a plan field, block). Guards yield ``block(finding)``; converters
yield requests and wiring. The engine applies the intents to the plan and turns the finished
plan into text edits: rules never change the plan or the text themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from yaml.nodes import MappingNode, Node, ScalarNode

from migrator.text import shape
from migrator.text.documents import get, items, pairs, scalar_value, to_python
from migrator.k8s.locate import PodSpecRef
from migrator.mode import Mode
from migrator.model import DeviceRequest, Finding, FixSafety, Status
from migrator.tables import Tables

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class Rule(Protocol):
    CODE: str
    NAME: str
    SUMMARY: str
    FIX: FixSafety

    def check(self, ctx: PodContext, plan: PodPlan) -> Iterable[Finding]: ...


@dataclass(frozen=True, slots=True)
class Ask:
    """One container's request for one device-plugin resource."""

    section: str  #: "containers" or "initContainers"
    index: int
    container: str
    resource: str
    raw: Any  #: the value as written (int or str), from limits when set, else from requests
    count: int | None  #: the whole number the API server reads; None when it rejects the value
    in_limits: bool
    in_requests: bool
    mismatch: bool  #: limits and requests both set and different
    #: why the count has no value ("limits count '1.5' is ..."), for the first map that has none
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Container:
    section: str
    index: int
    name: str
    node: MappingNode
    sidecar: bool  #: an init container with restartPolicy: Always (native sidecar)


@dataclass(frozen=True, slots=True)
class PodContext:
    path: str
    ref: PodSpecRef
    tables: Tables
    mode: Mode
    containers: tuple[Container, ...]
    asks: tuple[Ask, ...]
    annotations: dict[str, str]
    node_selection: tuple[tuple[str, str], ...]  #: (label, value) pairs required or selected
    shared: frozenset[int] = frozenset()  #: ids of nodes used through YAML aliases
    #: extended resource names a DeviceClass maps to DRA (KEP-5004) in the same input
    served_by_dra: frozenset[str] = frozenset()
    #: the first field the rules, verify or plan read whose type the API would reject
    shape: shape.Problem | None = None
    #: the pod spec as plain data, built on first use (several rules read it; none may mutate it)
    _data: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def pod(self) -> MappingNode:
        return self.ref.node

    def pod_data(self) -> Any:
        """``to_python(self.pod)``, shared by every rule of this pod: read it, never change it."""
        if not self._data:
            self._data.append(to_python(self.ref.node))
        return self._data[0]

    def finding(self, code: str, status: Status, message: str, container: str | None = None,
                warn: bool = False) -> Finding:
        return Finding(code, status, message, self.path, self.ref.line, self.ref.obj.ref, self.ref.where,
                       container, warn)

    def only_container(self, asks: Iterable[Ask]) -> str | None:
        """The one container all of ``asks`` belong to, or None when they span several (or none)."""
        names = {a.container for a in asks}
        return names.pop() if len(names) == 1 else None

    def gpu_asks(self) -> list[Ask]:
        """Asks for resources the device table knows (whole GPUs and MIG), count > 0 or not."""
        return [a for a in self.asks if device_rule(a.resource, self.tables) is not None]


# ---- fix intents: what a rule asks the engine to do (rules return them, never mutate) ----------

@dataclass(frozen=True, slots=True)
class AddRequest:
    """A device request in the pod's claim, wired to the container (section, index) when given."""

    request: DeviceRequest
    container: tuple[str, int] | None = None
    safety: FixSafety = FixSafety.SAFE


@dataclass(frozen=True, slots=True)
class WireRequests:
    """The requests a container references, replacing what it had (GPU004's init containers)."""

    container: tuple[str, int]
    names: tuple[str, ...]
    safety: FixSafety = FixSafety.SAFE


@dataclass(frozen=True, slots=True)
class RemoveResource:
    """Take a device-plugin resource out of a container's limits and requests."""

    section: str
    index: int
    resource: str
    safety: FixSafety = FixSafety.SAFE


@dataclass(frozen=True, slots=True)
class ReplaceRequests:
    """The pod's requests with their selectors or class refined (GPU008, GPU009, GPU113)."""

    requests: tuple[DeviceRequest, ...]
    safety: FixSafety = FixSafety.SAFE


@dataclass(frozen=True, slots=True)
class SetField:
    """A plan setting the engine reads when it edits: ``claim_name``, ``tolerations``, ``translation``,
    ``remove_selector_keys`` (added to), ``mig_single``, ``ray_num_gpus``, ``sharing``, ``shares``."""

    name: str
    value: Any
    safety: FixSafety = FixSafety.SAFE


@dataclass(frozen=True, slots=True)
class Block:
    """Stop: this pod is not converted (the finding says why); no later rule runs."""

    finding: Finding


Intent = AddRequest | WireRequests | RemoveResource | ReplaceRequests | SetField | Block
_SETTABLE = frozenset({"claim_name", "tolerations", "translation", "remove_selector_keys", "mig_single",
                       "ray_num_gpus", "sharing", "shares"})


@dataclass(frozen=True, slots=True)
class EditObject:
    """Node edits on the object itself (GPU012's API upgrade): ("replace", node, value),
    ("delete", mapping, key) or ("add", mapping, key, value); applied together or not at all."""

    ops: tuple[tuple[Any, ...], ...]
    safety: FixSafety = FixSafety.SAFE


@dataclass(frozen=True, slots=True)
class ObjectContext:
    """What an object rule sees: the whole object after its pod specs were handled."""

    obj: Any  #: locate.K8sObject
    path: str
    mode: Mode
    tables: Tables
    handled: tuple[tuple[Any, ...], ...]  #: paths of the pod specs (and broken paths) already reported
    handled_nodes: frozenset[int]


def block(finding: Finding) -> Block:
    return Block(finding)


@dataclass
class PodPlan:
    """What the rules' intents add up to, in registry order; only ``apply`` changes it (the engine
    calls it for each intent as a rule yields it, so a rule reading the plan sees its own earlier
    intents); read by the engine's editor."""

    requests: list[DeviceRequest] = field(default_factory=list)
    #: (section, index) -> request names the container references
    wiring: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    #: (section, index, resource) to delete from limits/requests
    removals: list[tuple[str, int, str]] = field(default_factory=list)
    tolerations: list[str] = field(default_factory=list)
    claim_name: str = "gpu"
    translation: Any = None  #: selection.Translation from GPU008
    remove_selector_keys: list[str] = field(default_factory=list)
    mig_single: bool = False
    ray_num_gpus: Any = None  #: (group node, count) from GPU010
    sharing: str | None = None  #: GPU011: "TimeSlicing" or "MPS" -> one shared ResourceClaim
    shares: bool = False  #: GPU011: one consumable share of a GPU per container (ConsumableShares)
    blocked: bool = False
    findings: list[Finding] = field(default_factory=list)
    _names: tuple[set[str], Any, int] = field(default_factory=lambda: (set(), None, 0), repr=False, compare=False)
    #: (section, index) -> GPU asks with a count in that container (computed once, by add_request)
    _per_container: dict[tuple[str, int], int] | None = field(default=None, repr=False, compare=False)

    def apply(self, intent: Intent) -> None:
        if isinstance(intent, AddRequest):
            self.requests.append(intent.request)
            if intent.container is not None:
                self.wiring.setdefault(intent.container, []).append(intent.request.name)
        elif isinstance(intent, WireRequests):
            self.wiring[intent.container] = list(intent.names)
        elif isinstance(intent, RemoveResource):
            self.removals.append((intent.section, intent.index, intent.resource))
        elif isinstance(intent, ReplaceRequests):
            self.requests = list(intent.requests)
        elif isinstance(intent, SetField):
            if intent.name not in _SETTABLE:
                raise ValueError(f"a rule set an unknown plan field {intent.name!r}")
            if intent.name == "remove_selector_keys":
                self.remove_selector_keys.extend(intent.value)
            else:
                setattr(self, intent.name, intent.value)
        elif isinstance(intent, Block):
            self.blocked = True
            self.findings.append(intent.finding)
        else:
            raise TypeError(f"not a fix intent: {intent!r}")

    def request_names(self) -> set[str]:
        # kept up to date incrementally (a pod with thousands of GPU containers stays linear); rules
        # that replace the list (GPU008, GPU009) get a fresh set, so it is never stale
        names, of, seen = self._names
        if of is not self.requests:
            names, seen = set(), 0
        for r in self.requests[seen:]:
            names.add(r.name)
        self._names = (names, self.requests, len(self.requests))
        return names

    def unique_request_name(self, base: str) -> str:
        name = dns_label(base)
        taken = self.request_names()
        n = 2
        candidate = name
        while candidate in taken:
            suffix = f"-{n}"
            candidate = name[: 63 - len(suffix)].rstrip("-") + suffix
            n += 1
        return candidate


def dns_label(text: str, fallback: str = "gpu") -> str:
    out = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    out = out[:63].rstrip("-")
    return out if out and DNS_LABEL.match(out) else fallback


def device_rule(resource: str, tables: Tables):  # type: ignore[no-untyped-def]
    return tables.device_rule(resource)


def resolve_device(resource: str, tables: Tables) -> tuple[str, tuple[str, ...]] | None:
    """(deviceClassName, CEL selectors) for a device-plugin resource name, from the table."""
    rule = device_rule(resource, tables)
    if rule is None:
        return None
    selectors: tuple[str, ...] = ()
    if rule.selector:  # a CEL template: {group} from the pattern's named groups (rules/vendors/README.md)
        fields: dict[str, str] = {}
        if rule.pattern is not None:
            m = rule.pattern.match(resource)
            assert m is not None
            fields = dict(m.groupdict())
        if rule.profile_replace and "profile" in fields:
            fields["profile"] = re.sub(rule.profile_replace[0], rule.profile_replace[1], fields["profile"])
        selectors = (rule.selector.format(**fields),)
    return rule.device_class, selectors


def ephemeral_gpus(ctx: PodContext) -> list[tuple[str, str]]:
    """(container, resource) for every device-table resource an ephemeral container names.

    Kept out of ``asks``: ephemeral containers hold no resources (the API rejects any), so no
    converter may act on them; GPU112 reports them.
    """
    out: list[tuple[str, str]] = []
    for i, c in enumerate(items(get(ctx.pod, "ephemeralContainers"))):
        if not isinstance(c, MappingNode):
            continue
        name_node = get(c, "name")
        name = str(scalar_value(name_node)) if isinstance(name_node, ScalarNode) else f"ephemeralContainers-{i}"
        resources = get(c, "resources")
        for which in ("limits", "requests"):
            for k, _ in pairs(get(resources, which)):
                if isinstance(k, ScalarNode) and device_rule(str(k.value), ctx.tables) is not None \
                        and (name, str(k.value)) not in out:
                    out.append((name, str(k.value)))
    return out


def app_or_sidecar(ctx: PodContext, ask: Ask) -> bool:
    """True for app containers and native sidecars: those hold devices of their own."""
    if ask.section == "containers":
        return True
    return any(c.sidecar for c in ctx.containers if c.section == ask.section and c.index == ask.index)


def add_request(ctx: PodContext, plan: PodPlan, ask: Ask) -> tuple[Intent, ...]:
    """A request of its own for ``ask``'s container, wired to it and replacing the resource."""
    resolved = resolve_device(ask.resource, ctx.tables)
    assert resolved is not None and ask.count
    device_class, selectors = resolved
    if plan._per_container is None:
        counts: dict[tuple[str, int], int] = {}
        for a in ctx.gpu_asks():
            if a.count:
                counts[(a.section, a.index)] = counts.get((a.section, a.index), 0) + 1
        plan._per_container = counts
    base = ask.container if DNS_LABEL.match(ask.container) else f"{ask.section.lower()[:4]}-{ask.index}"
    if plan._per_container.get((ask.section, ask.index), 0) > 1:
        base = f"{base}-{ask.resource.split('/', 1)[1]}"
    request = DeviceRequest(plan.unique_request_name(base), device_class, ask.count, selectors,
                            ask.resource)
    return AddRequest(request, (ask.section, ask.index)), RemoveResource(ask.section, ask.index, ask.resource)


def read_count(node: ScalarNode):  # type: ignore[no-untyped-def]
    """How the API server reads a count node (migrator.k8s.quantity.Count).

    An explicit tag outside the YAML core schema (``!custom 2``) is not a number: something
    other than the API server is meant to resolve it. A YAML 1.1 sexagesimal int (``1:30``) is
    an int to PyYAML but a string to the API server's YAML reader (go-yaml), so it is read as text.
    """
    from migrator.k8s.quantity import extended_count

    if not node.tag.startswith("tag:yaml.org,2002:"):
        return extended_count(node.value, node.tag)
    if node.tag == "tag:yaml.org,2002:int" and ":" in node.value:
        return extended_count(node.value)
    return extended_count(scalar_value(node))


def build_context(path: str, ref: PodSpecRef, tables: Tables, mode: Mode,
                  pod_metadata: Node | None) -> PodContext:
    containers: list[Container] = []
    for section in ("initContainers", "containers"):
        for i, c in enumerate(items(get(ref.node, section))):
            if not isinstance(c, MappingNode):
                continue
            name_node = get(c, "name")
            name = str(scalar_value(name_node)) if isinstance(name_node, ScalarNode) else f"{section}-{i}"
            rp = get(c, "restartPolicy")
            sidecar = section == "initContainers" and isinstance(rp, ScalarNode) and rp.value == "Always"
            containers.append(Container(section, i, name, c, sidecar))
    asks: list[Ask] = []
    for c in containers:
        resources = get(c.node, "resources")
        limits, requests = get(resources, "limits"), get(resources, "requests")
        seen: dict[str, dict[str, ScalarNode]] = {}
        for where, m in (("limits", limits), ("requests", requests)):
            for k, v in pairs(m):
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode):
                    seen.setdefault(str(k.value), {})[where] = v
        for res, nodes in seen.items():
            counts = {where: read_count(v) for where, v in nodes.items()}
            first = "limits" if "limits" in nodes else "requests"
            raw = scalar_value(nodes[first])
            problem = next((f"{where} count {str(scalar_value(nodes[where]))!r} {cnt.problem}"
                            for where, cnt in counts.items() if cnt.problem), None)
            count = counts[first].value if problem is None else None
            # limits and requests are compared as quantities ("1" and "1000m" are equal)
            mismatch = problem is None and len(counts) == 2 and counts["limits"].value != counts["requests"].value
            asks.append(Ask(c.section, c.index, c.name, res, raw, count, "limits" in nodes,
                            "requests" in nodes, mismatch, problem))
    annotations: dict[str, str] = {}
    for k, v in pairs(get(pod_metadata, "annotations")):
        if isinstance(k, ScalarNode) and isinstance(v, ScalarNode):
            annotations[str(k.value)] = str(v.value)
    return PodContext(path, ref, tables, mode, tuple(containers), tuple(asks), annotations,
                      tuple(node_selection(ref.node)), shape=shape_problem(ref, pod_metadata))


def shape_problem(ref: PodSpecRef, pod_metadata: Node | None) -> shape.Problem | None:
    """The first wrongly typed field among those read for this pod (pod spec, metadata, workload).

    The rules above read leniently (a field of the wrong type reads as absent); GPU900 reports
    this problem before any of them may act on such a reading.
    """
    obj = ref.obj
    checks: list[tuple[Node | None, shape.Schema, tuple[Any, ...]]] = [
        (get(obj.node, "metadata"), shape.METADATA, ("metadata",)),
        (pod_metadata, shape.METADATA, ref.path[:-1] + ("metadata",)),
        (ref.node, shape.POD_SPEC, ref.path),
    ]
    workload = shape.WORKLOAD_SPEC.get((obj.group, obj.kind))
    if workload is not None:
        checks.append((get(obj.node, "spec"), workload, ("spec",)))
    if obj.group == "ray.io" and ref.path[-2:] == ("template", "spec"):
        group: Node | None = obj.node
        for step in ref.path[:-2]:
            group = group.value[step] if isinstance(step, int) else get(group, step)  # type: ignore[union-attr]
        checks.append((group, shape.RAY_GROUP, ref.path[:-2]))
    for node, schema, steps in checks:
        problem = shape.check_node(node, schema, shape.dotted(steps))
        if problem is not None:
            return problem
    return None


def node_selection(pod: MappingNode) -> list[tuple[str, str]]:
    """Label requirements of the pod: nodeSelector pairs and required affinity ``In`` values."""
    out: list[tuple[str, str]] = []
    for k, v in pairs(get(pod, "nodeSelector")):
        if isinstance(k, ScalarNode) and isinstance(v, ScalarNode):
            out.append((str(k.value), str(v.value)))
    required = get(get(get(pod, "affinity"), "nodeAffinity"), "requiredDuringSchedulingIgnoredDuringExecution")
    for term in items(get(required, "nodeSelectorTerms")):
        for expr in items(get(term, "matchExpressions")):
            key = get(expr, "key")
            op = get(expr, "operator")
            if isinstance(key, ScalarNode) and isinstance(op, ScalarNode) and op.value == "In":
                for val in items(get(expr, "values")):
                    if isinstance(val, ScalarNode):
                        out.append((str(key.value), str(val.value)))
    return out
