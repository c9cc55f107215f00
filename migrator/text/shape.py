"""The JSON types of the manifest fields the tool reads, checked before anything reads them.

A field the API server would reject for its type (a ``nodeSelector`` that is a string, ``limits``
that is a list, ``replicas: two``) is reported with its path and the pod is left as it was:
guessing what it meant could change the devices the pod gets, and it must never stop the batch.
Null is an absent field (the API's JSON decoding treats it so); empty collections are valid.

The same schema is checked on composed YAML nodes (the engine, with lines) and on plain data
(the selection translator, verify, plan). Types: k8s.io/api core/v1 ``types.go`` (PodSpec,
Container, ResourceRequirements, NodeAffinity, Toleration, PodResourceClaim, ObjectMeta),
apps/v1 (DeploymentStrategy, StatefulSetUpdateStrategy, DaemonSetUpdateStrategy),
resource.k8s.io/v1 (DeviceRequest), KubeRay ``raycluster_types.go`` (rayStartParams
``map[string]string``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MERGE_TAG = "tag:yaml.org,2002:merge"
_TAG_KIND = {"tag:yaml.org,2002:int": "integer", "tag:yaml.org,2002:float": "float",
             "tag:yaml.org,2002:bool": "boolean", "tag:yaml.org,2002:null": "null"}
_WHAT = {"mapping": "a mapping", "list": "a list", "string": "a string", "integer": "an integer",
         "float": "a float", "boolean": "a boolean", "null": "null"}


@dataclass(frozen=True, slots=True)
class Scalar:
    want: str  #: how the message names the type
    kinds: frozenset[str]
    pattern: re.Pattern[str] | None = None  #: a string must also match this
    #: the value's range as the API validates it (given the value's text); None: any
    valid: Any = None


@dataclass(frozen=True, slots=True)
class Struct:
    """A mapping with known fields (others are not read, so not checked)."""

    fields: dict[str, Schema]


@dataclass(frozen=True, slots=True)
class MapOf:
    values: Schema


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Schema


Schema = Scalar | Struct | MapOf | ListOf


def struct(**fields: Schema) -> Struct:
    return Struct(fields)


STR = Scalar("a string", frozenset({"string"}))
INT = Scalar("an integer", frozenset({"integer"}))
#: resource.Quantity decodes a JSON number or string
QTY = Scalar("a quantity (a number or a string)", frozenset({"string", "integer", "float"}))
#: intstr.IntOrString in rolling updates: an integer or a percentage (apimachinery IsValidPercent)
INT_OR_PERCENT = Scalar("an integer or a percentage", frozenset({"string", "integer"}), re.compile(r"^[0-9]+%$"))
STRINGS = MapOf(STR)


def _int_or_percent(text: str, low: int) -> bool:
    """``low`` <= the value, and a percentage <= 100% (k8s.io/kubernetes pkg/apis/apps/validation:
    ValidatePositiveIntOrPercent / ValidateNonnegativeIntOrPercent, IsNotMoreThan100Percent)."""
    try:
        n = int(text[:-1]) if text.endswith("%") else int(text, 0)
    except ValueError:
        return True  # its type was checked; a YAML int spelling we do not parse is not judged here
    return n >= low and (not text.endswith("%") or n <= 100)


#: StatefulSet rollingUpdate.maxUnavailable: positive, at most 100%, never 0 (apps validation
#: validateRollingUpdateStatefulSet, kubernetes v1.37.2)
POSITIVE_INT_OR_PERCENT = Scalar("a positive integer or a percentage from 1% to 100%",
                                 frozenset({"string", "integer"}), re.compile(r"^[0-9]+%$"),
                                 valid=lambda t: _int_or_percent(t, 1))
NONNEGATIVE_INT_OR_PERCENT = Scalar("a non-negative integer or a percentage up to 100%",
                                    frozenset({"string", "integer"}), re.compile(r"^[0-9]+%$"),
                                    valid=lambda t: _int_or_percent(t, 0))

REQUIREMENT = struct(key=STR, operator=STR, values=ListOf(STR))
TERM = struct(matchExpressions=ListOf(REQUIREMENT), matchFields=ListOf(REQUIREMENT))
NODE_AFFINITY = struct(
    requiredDuringSchedulingIgnoredDuringExecution=struct(nodeSelectorTerms=ListOf(TERM)),
    preferredDuringSchedulingIgnoredDuringExecution=ListOf(struct(weight=INT, preference=TERM)))
#: what the selection translator and the scheduling predicates read
NODE_SELECTION = struct(nodeSelector=STRINGS, affinity=struct(nodeAffinity=NODE_AFFINITY))
RESOURCES = struct(limits=MapOf(QTY), requests=MapOf(QTY), claims=ListOf(struct(name=STR, request=STR)))
CONTAINER = struct(name=STR, restartPolicy=STR, env=ListOf(struct(name=STR, value=STR)), resources=RESOURCES)
POD_SPEC = struct(
    containers=ListOf(CONTAINER), initContainers=ListOf(CONTAINER), ephemeralContainers=ListOf(CONTAINER),
    **NODE_SELECTION.fields,
    tolerations=ListOf(struct(key=STR, operator=STR, value=STR, effect=STR)),
    resourceClaims=ListOf(struct(name=STR, resourceClaimName=STR, resourceClaimTemplateName=STR)),
    runtimeClassName=STR)
METADATA = struct(name=STR, generateName=STR, namespace=STR, labels=STRINGS, annotations=STRINGS)
ROLLING = struct(maxSurge=NONNEGATIVE_INT_OR_PERCENT, maxUnavailable=NONNEGATIVE_INT_OR_PERCENT, partition=INT)
STS_ROLLING = struct(maxUnavailable=POSITIVE_INT_OR_PERCENT, partition=INT)
#: per (group, kind): the object fields the planner reads besides the pod spec
WORKLOAD_SPEC: dict[tuple[str, str], Struct] = {
    ("apps", "Deployment"): struct(replicas=INT, strategy=struct(type=STR, rollingUpdate=ROLLING)),
    ("apps", "StatefulSet"): struct(replicas=INT, updateStrategy=struct(type=STR, rollingUpdate=STS_ROLLING)),
    ("apps", "DaemonSet"): struct(updateStrategy=struct(type=STR, rollingUpdate=ROLLING)),
    ("apps", "ReplicaSet"): struct(replicas=INT),
    ("", "ReplicationController"): struct(replicas=INT),
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): struct(replicas=INT),
}
#: a KubeRay head or worker group (the mapping that holds ``template``)
RAY_GROUP = struct(rayStartParams=STRINGS)

_DEVICE_REQUEST_FIELDS: dict[str, Schema] = dict(
    name=STR, deviceClassName=STR, count=INT, allocationMode=STR,
    selectors=ListOf(struct(cel=struct(expression=STR))))
DEVICE_REQUEST = struct(**_DEVICE_REQUEST_FIELDS, exactly=struct(**_DEVICE_REQUEST_FIELDS),
                        firstAvailable=ListOf(struct(**_DEVICE_REQUEST_FIELDS)))
CLAIM_SPEC = struct(devices=struct(requests=ListOf(DEVICE_REQUEST)))
#: a ResourceClaim or ResourceClaimTemplate a converted pod names (verify and plan read them)
CLAIM_OBJECTS = {"ResourceClaim": struct(metadata=METADATA, spec=CLAIM_SPEC),
                 "ResourceClaimTemplate": struct(metadata=METADATA, spec=struct(spec=CLAIM_SPEC))}


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  #: e.g. spec.template.spec.containers[0].resources.limits
    line: int | None  #: 1-based, when checked on YAML nodes
    got: str
    want: str

    @property
    def message(self) -> str:
        return f"{self.path} is {self.got}, not {self.want}"


class ShapeError(Exception):
    """A field has a type the API would reject; the pod it belongs to is reported, not converted."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.message)


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    text = str(key)
    if _IDENT.match(text):
        return f"{path}.{text}" if path else text
    return f'{path}["{text}"]'


def dotted(steps: tuple[Any, ...] | list[Any]) -> str:
    """``("spec", "tasks", 0, "template")`` -> ``spec.tasks[0].template``."""
    out = ""
    for s in steps:
        out = join(out, s)
    return out


# ---- one checker, two views of a value: composed YAML nodes and plain data ---------------------

def _node_kind(n: Node) -> str:
    if isinstance(n, MappingNode):
        return "mapping"
    if isinstance(n, SequenceNode):
        return "list"
    # timestamps, binary and custom tags decode to strings in the API's YAML-to-JSON step
    return _TAG_KIND.get(n.tag, "string")


def describe(node: Node) -> str:
    """``a mapping``, ``a list``, ``a string``, ``an integer``, ... for a composed YAML node."""
    return _WHAT[_node_kind(node)]


def _data_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, dict):
        return "mapping"
    if isinstance(v, (list, tuple)):
        return "list"
    return "string"


def _node_entries(n: MappingNode, seen: frozenset[int] = frozenset()) -> Iterator[tuple[Any, Node]]:
    seen = seen | {id(n)}
    for k, v in n.value:
        if k.tag == MERGE_TAG:  # "<<: *base": the merged mappings' fields are the object's too
            for src in (v.value if isinstance(v, SequenceNode) else [v]):
                if isinstance(src, MappingNode) and id(src) not in seen:  # a merge of itself adds nothing
                    yield from _node_entries(src, seen)
        elif isinstance(k, ScalarNode):
            yield k.value, v


class _Fail(Exception):
    """Unwinds to the top of a check; the path is collected on the way up (nothing built on success)."""

    def __init__(self, value: Any, kind: str, want: str) -> None:
        self.value, self.kind, self.want = value, kind, want
        self.steps: list[Any] = []


def _check(value: Any, schema: Schema, nodes: bool, optional: bool) -> None:
    kind = _node_kind(value) if nodes else _data_kind(value)
    if kind == "null" and optional:
        return
    if isinstance(schema, Scalar):
        if kind not in schema.kinds:
            raise _Fail(value, kind, schema.want)
        text = str(value.value if nodes else value)
        if kind == "string" and schema.pattern is not None and not schema.pattern.match(text):
            raise _Fail(value, kind, schema.want)
        if schema.valid is not None and not schema.valid(text):
            raise _Fail(value, kind, schema.want)
        return
    if isinstance(schema, ListOf):
        if kind != "list":
            raise _Fail(value, kind, "a list")
        item = schema.item
        for i, child in enumerate(value.value if nodes else value):
            try:
                _check(child, item, nodes, False)
            except _Fail as exc:
                exc.steps.append(i)
                raise
        return
    if kind != "mapping":
        raise _Fail(value, kind, "a mapping")
    entries = _node_entries(value) if nodes else value.items()
    if isinstance(schema, MapOf):
        for k, v in entries:
            try:
                _check(v, schema.values, nodes, False)
            except _Fail as exc:
                exc.steps.append(k)
                raise
        return
    fields = schema.fields
    for k, v in entries:
        sub = fields.get(k) if isinstance(k, str) else None
        if sub is not None:
            try:
                _check(v, sub, nodes, True)
            except _Fail as exc:
                exc.steps.append(k)
                raise


def _problem(value: Any, schema: Schema, path: str, nodes: bool) -> Problem | None:
    try:
        _check(value, schema, nodes, True)
    except _Fail as exc:
        for step in reversed(exc.steps):
            path = join(path, step)
        got = _WHAT[exc.kind]
        if exc.kind == "string" and not exc.want.startswith(("a list", "a mapping")):
            text = str(exc.value.value if nodes else exc.value)  # a string where another scalar belongs
            got = repr(text) if len(text) <= 40 else repr(text[:37]) + "..."
        return Problem(path, exc.value.start_mark.line + 1 if nodes else None, got, exc.want)
    return None


def check_node(node: Node | None, schema: Schema, path: str) -> Problem | None:
    """The first field under ``node`` (a composed YAML node) whose type ``schema`` does not allow."""
    return None if node is None else _problem(node, schema, path, True)


def check_data(value: Any, schema: Schema, path: str) -> Problem | None:
    """The same on plain data (``to_python`` output)."""
    return _problem(value, schema, path, False)


def require(value: Any, schema: Schema, path: str) -> None:
    """Raise ShapeError for the first field of plain data ``value`` that ``schema`` does not allow."""
    p = check_data(value, schema, path)
    if p is not None:
        raise ShapeError(p)
