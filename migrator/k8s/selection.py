"""Node selection on GPU labels -> CEL device selectors (data in rules/selection.yaml, rules/clouds/).

A pod's node selection is nodeSelector AND (OR of required affinity terms, each an AND of
expressions). Only the parts that are about the GPU move into the claim, and only when moving
them cannot widen where the pod may land:

- nodeSelector: each GPU label becomes a CEL conjunct;
- required affinity: one term, or several terms that are about the GPU only (an OR of CEL
  conjunctions); terms that mix GPU and other labels differently are left alone;
- every CEL attribute reference is guarded (``'x' in device.attributes[...]``): a device that
  lacks an attribute would otherwise abort allocation (dra-api.md §1.7).

What cannot be translated stays in the node selection, reported: keeping a label never changes
where a pod may land.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

def cel_domain(directory: str) -> tuple[str, str]:
    """(attributes, capacity) CEL of the profile rules/selection.yaml's ``vendor`` names:
    ``device.attributes['<attributeDomain>']``, ``device.capacity['<attributeDomain>']``."""
    p = _profile(directory)
    return p.attributes_cel, f"device.capacity['{p.attribute_domain}']"


@functools.cache
def _selection(directory: str) -> dict[str, Any]:
    """``directory``/selection.yaml, read once (the profile, the families and the cut-over labels)."""
    return yaml.load((Path(directory) / "selection.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


@functools.cache
def _profile(directory: str) -> Any:
    """The vendor profile whose devices the labels of ``directory``/selection.yaml describe."""
    from migrator.vendors import builtin_profiles

    base = Path(directory)
    data = _selection(directory)
    p = builtin_profiles(str(base / "vendors")).by_vendor(str(data.get("vendor")))
    if p is None:
        raise ValueError(f"{base / 'selection.yaml'}: vendor {data.get('vendor')!r} has no profile in {base / 'vendors'}")
    return p


@dataclass(frozen=True, slots=True)
class LabelRule:
    label: str
    translate: str
    remove: bool
    values: dict[str, Any]
    attribute: str | None
    part: str | None
    source: str | None
    patterns: tuple[tuple[re.Pattern[str], Any], ...] = ()
    inferred: dict[str, str] = field(default_factory=dict)  #: values whose mapping is not verified
    a: str = ""  #: the profile's attributes CEL (``cel_domain``)
    c: str = ""  #: the profile's capacity CEL
    #: value patterns of the profile's ``sharing.labels`` on this label: a value one matches names
    #: a slice or a share, not a whole-device product
    not_whole: tuple[re.Pattern[str], ...] = ()


#: a profile's ``nodeLabels.translate`` (rules/vendors/README.md) -> the translation here
_FROM_PROFILE = {"values": "architecture", "any-device": "any-gpu"}


@functools.cache
def label_rules(directory: str) -> dict[str, LabelRule]:
    """The node labels that choose a device: the ``nodeLabels`` of the profile rules/selection.yaml
    names (exact-label rows), then the clouds' rows (rules/clouds/*.yaml ``labels``)."""
    base = Path(directory)
    files = sorted((base / "clouds").glob("*.yaml"))
    rules: dict[str, LabelRule] = {}
    a, c = cel_domain(directory)
    prof = _profile(directory)
    sharing = prof.sharing.labels
    for r in prof.node_labels:
        if r.label is None or r.translate not in ("product", "memory-mib", "values", "version-part", "version",
                                                  "any-device"):
            continue  # a key pattern or a translation this module has no CEL for
        rules[r.label] = LabelRule(
            label=r.label, translate=_FROM_PROFILE.get(r.translate, r.translate), remove=r.remove,
            values=dict(r.values), attribute=r.attribute, part=r.part, source=r.source,
            a=a, c=c, not_whole=tuple(s.value for s in sharing if s.label == r.label))
    for f in files:
        if not f.is_file():
            continue
        data = yaml.load(f.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        for row in data.get("labels", []):
            if row["label"] in rules:
                raise ValueError(f"{f}: duplicate label rule {row['label']}")
            rules[row["label"]] = LabelRule(
                label=row["label"], translate=row["translate"], remove=row.get("remove", True),
                values=dict(row.get("values") or {}), attribute=row.get("attribute"), part=row.get("part"),
                source=row.get("source"),
                patterns=tuple((re.compile(p["match"]), p) for p in row.get("patterns") or []),
                inferred=dict(row.get("inferred") or {}),
                a=a, c=c, not_whole=tuple(s.value for s in sharing if s.label == row["label"]),
            )
    return rules


def q(text: str) -> str:
    """A CEL single-quoted string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _has(rule: LabelRule, attr: str, capacity: bool = False) -> str:
    return f"{q(attr)} in {rule.c if capacity else rule.a}"


def _products(rule: LabelRule, names: list[str]) -> str:
    A = rule.a
    if len(names) == 1:
        return f"({_has(rule, 'productName')} && {A}.productName == {q(names[0])})"
    return f"({_has(rule, 'productName')} && {A}.productName in [{', '.join(q(n) for n in names)}])"


def normalize_version(v: str) -> str | None:
    """``major[.minor[.patch]]`` as the driver publishes it (leading zeros dropped, missing parts 0);
    None for anything else (ASCII digits only: ``'²'.isdigit()`` is true, ``int('²')`` fails)."""
    parts = v.strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    parts = [str(int(p)) for p in parts] + ["0"] * (3 - len(parts))
    return ".".join(parts)


def _lookup(rule: LabelRule, value: str) -> Any:
    if value in rule.values:
        return rule.values[value]
    for pattern, row in rule.patterns:
        if pattern.fullmatch(value):
            return row
    return None


def atom(rule: LabelRule, value: str) -> str | None:
    """CEL that is true exactly for devices on nodes where ``label == value`` (None: unknown)."""
    t, A, C = rule.translate, rule.a, rule.c
    if t == "product":
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value) or any(p.search(value) for p in rule.not_whole):
            return None
        return f"({_has(rule, 'productName')} && {A}.productName.replace(' ', '-') == {q(value)})"
    if t == "products":
        row = _lookup(rule, value)
        if not row:
            return None
        return _products(rule, list(row["products"]))
    if t == "products-any":
        return "true" if _lookup(rule, value) is not None else None
    if t == "memory-mib":
        if not value.isdigit():
            return None
        mib = int(value)
        # GFD writes floor(total / MiB); the driver publishes the total in bytes.
        return (f"({_has(rule, 'memory', True)} && {C}.memory.compareTo(quantity('{mib}Mi')) >= 0 && "
                f"{C}.memory.compareTo(quantity('{mib + 1}Mi')) < 0)")
    if t == "architecture":
        arch = rule.values.get(value)
        return f"({_has(rule, 'architecture')} && {A}.architecture == {q(arch)})" if arch else None
    if t == "version-part":
        if not value.isdigit():
            return None
        return f"({_has(rule, rule.attribute or '')} && {A}.{rule.attribute}.{rule.part}() == {int(value)})"
    if t == "version":
        v = normalize_version(value)
        if v is None:
            return None
        return f"({_has(rule, rule.attribute or '')} && {A}.{rule.attribute}.compareTo(semver({q(v)})) == 0)"
    if t == "any-gpu":
        return "true"
    return None


def compare(rule: LabelRule, op: str, value: str) -> str | None:
    """CEL for ``Gt``/``Lt`` (label values compared as integers)."""
    if not value.lstrip("-").isdigit():
        return None
    n, A, C = int(value), rule.a, rule.c
    if rule.translate == "memory-mib":
        if op == "Gt":  # floor(total/MiB) > n  <=>  total >= (n+1) MiB
            return f"({_has(rule, 'memory', True)} && {C}.memory.compareTo(quantity('{n + 1}Mi')) >= 0)"
        return f"({_has(rule, 'memory', True)} && {C}.memory.compareTo(quantity('{n}Mi')) < 0)"
    if rule.translate == "version-part":
        sign = ">" if op == "Gt" else "<"
        return f"({_has(rule, rule.attribute or '')} && {A}.{rule.attribute}.{rule.part}() {sign} {n})"
    return None


def requirement(rule: LabelRule, op: str, values: list[str]) -> str | None:
    """CEL for one node-selector requirement on a GPU label (None when it cannot be translated)."""
    A = rule.a
    if op in ("In", "NotIn") and rule.translate in ("product", "products") and len(values) > 1:
        names: list[str] = []
        for v in values:
            if rule.translate == "product":
                if atom(rule, v) is None:
                    return None
                names.append(v)
            else:
                row = _lookup(rule, v)
                if not row:
                    return None
                names += [n for n in row["products"] if n not in names]
        prop = f"{A}.productName.replace(' ', '-')" if rule.translate == "product" else f"{A}.productName"
        body = f"({_has(rule, 'productName')} && {prop} in [{', '.join(q(n) for n in names)}])"
        return body if op == "In" else f"!{body}"
    if op in ("In", "NotIn"):
        atoms = [atom(rule, v) for v in values]
        if not atoms or any(a is None for a in atoms):
            return None
        body = atoms[0] if len(atoms) == 1 else "(" + " || ".join(a for a in atoms if a) + ")"
        if body == "true":
            return "true" if op == "In" else "false"
        return body if op == "In" else f"!{body}"
    if op in ("Exists", "DoesNotExist"):
        guard = {"product": _has(rule, "productName"), "products": _has(rule, "productName"),
                 "memory-mib": _has(rule, "memory", True), "architecture": _has(rule, "architecture"),
                 "any-gpu": "true", "products-any": "true"}.get(rule.translate) or (
            _has(rule, rule.attribute) if rule.attribute else None)
        if guard is None:
            return None
        return guard if op == "Exists" else f"!({guard})"
    if op in ("Gt", "Lt") and len(values) == 1:
        return compare(rule, op, values[0])
    return None


def conj(parts: list[str]) -> str:
    parts = [p for p in parts if p != "true"]
    if not parts:
        return "true"
    return parts[0] if len(parts) == 1 else " && ".join(parts)


def disj(parts: list[str]) -> str:
    if any(p == "true" for p in parts):
        return "true"
    return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"


@dataclass
class Translation:
    """What the node selection of one pod turns into."""

    #: CEL selectors over the required selection, one per conjunct (all must hold)
    selectors: list[str] = field(default_factory=list)
    #: nodeSelector keys and (term index, expression index) pairs that leave the pod spec
    remove_selector_keys: list[str] = field(default_factory=list)
    remove_required_terms: list[int] = field(default_factory=list)
    remove_required_exprs: list[tuple[int, int]] = field(default_factory=list)
    remove_required_all: bool = False
    #: preferences that became firstAvailable alternatives: (weight, CEL, term index)
    preferences: list[tuple[int, str, int]] = field(default_factory=list)
    #: indexes of preferred terms that leave the pod spec (a term on a label that stays, stays too)
    remove_preferred: list[int] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  #: GPU labels left in the node selection, why
    translated: list[str] = field(default_factory=list)  #: human summary of what moved


def _expr_fields(expr: dict[str, Any]) -> tuple[str, str, list[str]]:
    return str(expr.get("key", "")), str(expr.get("operator", "")), [str(v) for v in expr.get("values") or []]


def untranslated(pod: dict[str, Any], rules: dict[str, LabelRule], fam: Families,
                 handled: frozenset[str] = frozenset()) -> list[str]:
    """GPU-family labels in the node selection (any term, preferences too) that no rule translates."""
    seen: list[str] = []
    for key, _, _ in all_reqs(pod):
        if key not in rules and key not in handled and key not in seen and fam.is_gpu_label(key):
            seen.append(key)
    return seen


def translate(pod: dict[str, Any], rules: dict[str, LabelRule], keep_labels: bool,
              allow_preferences: bool, where: str = "", fam: Families | None = None,
              handled: frozenset[str] = frozenset()) -> Translation:
    """Raises ShapeError (naming the field under ``where``) when the node selection has a wrong type."""
    from migrator.text.shape import NODE_SELECTION, require

    require(pod, NODE_SELECTION, where)
    out = Translation()
    if fam is not None:
        out.kept += [f"{key} (a GPU label with no DRA translation; check that migrated nodes keep it)"
                     for key in untranslated(pod, rules, fam, handled)]
    parts: list[str] = []
    for key, value in (pod.get("nodeSelector") or {}).items():
        rule = rules.get(str(key))
        if rule is None:
            continue
        cel = requirement(rule, "In", [str(value)])
        if cel is None:
            why = f"mapping not verified: {rule.inferred[str(value)]}" if str(value) in rule.inferred \
                else "no mapping for this value"
            out.kept.append(f"{key}={value} ({why})")
            continue
        parts.append(cel)
        out.translated.append(f"{key}={value}")
        if rule.remove and not keep_labels:
            out.remove_selector_keys.append(str(key))
    affinity = ((pod.get("affinity") or {}).get("nodeAffinity") or {})
    required = (affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    term_cels: list[str | None] = []
    term_gpu_only: list[bool] = []
    term_exprs: list[list[tuple[int, str | None, LabelRule | None]]] = []
    for term in terms:
        exprs: list[tuple[int, str | None, LabelRule | None]] = []
        gpu_only = not term.get("matchFields")
        for i, expr in enumerate(term.get("matchExpressions") or []):
            key, op, values = _expr_fields(expr)
            rule = rules.get(key)
            if rule is None:
                gpu_only = False
                exprs.append((i, None, None))
                continue
            exprs.append((i, requirement(rule, op, values), rule))
        term_exprs.append(exprs)
        term_gpu_only.append(gpu_only)
        gpu = [c for _, c, r in exprs if r is not None]
        joined = conj([c for c in gpu if c]) if not any(c is None for c in gpu) else None
        term_cels.append(f"({joined})" if joined and " && " in joined and len(terms) > 1 else joined)
    if terms:
        untranslatable = [i for i, c in enumerate(term_cels) if c is None]
        if untranslatable:
            out.kept.append("required node affinity (a GPU label value has no mapping)")
        elif len(terms) == 1:
            parts.append(term_cels[0] or "true")
            for i, _cel, rule in term_exprs[0]:
                if rule is not None:
                    out.translated.append(f"affinity {rule.label}")
                    if rule.remove and not keep_labels:
                        out.remove_required_exprs.append((0, i))
        elif all(term_gpu_only) and all(c for c in term_cels):
            parts.append(disj([c for c in term_cels if c]))
            out.translated.append("required node affinity terms (GPU labels only)")
            if not keep_labels and all(r is not None and r.remove for ex in term_exprs for _, _, r in ex):
                out.remove_required_all = True
        elif any(r is not None for ex in term_exprs for _, _, r in ex):
            out.kept.append("required node affinity: several terms mix GPU and other labels")
    out.selectors = [p for p in parts if p != "true"]
    preferred = affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    for t, pref in enumerate(preferred):
        term = pref.get("preference") or {}
        matches = term.get("matchExpressions") or []
        rows = [(rules.get(_expr_fields(e)[0]), _expr_fields(e)) for e in matches]
        if not matches or term.get("matchFields") or any(r is None for r, _ in rows):
            if any(r is not None for r, _ in rows):
                out.kept.append("a node-affinity preference mixes GPU and other labels")
            continue
        if not allow_preferences:
            if "GPU preferences (firstAvailable needs Kubernetes >= 1.34)" not in out.kept:
                out.kept.append("GPU preferences (firstAvailable needs Kubernetes >= 1.34)")
            continue
        cels = [requirement(r, op, vals) for r, (_, op, vals) in rows if r is not None]
        if any(c is None for c in cels):
            out.kept.append("a GPU preference value has no mapping")
            continue
        weight = pref.get("weight")  # null reads as absent
        out.preferences.append((1 if weight is None else int(weight), conj([c for c in cels if c]), t))
        # Karpenter provisions for preferences as if they were requirements (relaxing them only
        # when nothing fits: https://karpenter.sh/docs/concepts/scheduling/#preferences), and the
        # cloud autoscalers read the same labels: a preference on a label that stays, stays.
        if not keep_labels and all(r is not None and r.remove for r, _ in rows):
            out.remove_preferred.append(t)
    out.preferences.sort(key=lambda p: (-p[0], p[2]))
    return out


# --- what the node selection says about the devices (sharing, MIG, labels the cut-over changes) ---

Req = tuple[str, str, tuple[str, ...]]  #: (key, operator, values) of one node-selector requirement


@dataclass(frozen=True, slots=True)
class Families:
    prefixes: tuple[str, ...]
    cutover: frozenset[str]
    partitions: tuple[tuple[str, re.Pattern[str]], ...]  #: (label, profile pattern)
    #: the profile's partition product (``nodes.partitionProduct.label``, ``partitions.productPattern``,
    #: ``partitions.name``) and the ``sharing.labels`` patterns (``mig: true``) of a value that claims
    #: to be one; None: the profile has none
    product_label: str | None = None
    product_pattern: re.Pattern[str] | None = None
    product_marks: tuple[re.Pattern[str], ...] = ()
    partition: str = ""

    def is_gpu_label(self, key: str) -> bool:
        return key in self.cutover or any(key.startswith(p) for p in self.prefixes)


@functools.cache
def families(directory: str) -> Families:
    base = Path(directory)
    load = functools.partial(yaml.load, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    data = _selection(directory)
    partitions: list[tuple[str, re.Pattern[str]]] = []
    for f in sorted((base / "clouds").glob("*.yaml")):
        for row in (load(f.read_text(encoding="utf-8")) or {}).get("migPartitions") or []:
            partitions.append((row["label"], re.compile(row["match"])))
    p = _profile(directory)
    label = p.nodes.partition_product.label if p.nodes is not None and p.nodes.partition_product is not None else None
    part = p.partitions
    # the profile's label families and cut-over labels, then the ones selection.yaml adds (the clouds')
    return Families(p.label_families + tuple(data.get("families") or ()),
                    frozenset(p.cutover_labels) | frozenset(data.get("cutover") or ()), tuple(partitions),
                    label, part.product_pattern if part is not None else None,
                    tuple(s.value for s in p.sharing.labels if s.label == label and s.mig),
                    part.name if part is not None else "")


def _reqs(term: Any) -> list[Req]:
    if not isinstance(term, dict):
        return []
    return [(k, op, tuple(v)) for k, op, v in (_expr_fields(e) for e in term.get("matchExpressions") or []
                                                if isinstance(e, dict))]


def alternatives(pod: dict[str, Any]) -> list[list[Req]]:
    """The node sets a pod may land on, ORed: nodeSelector AND each required affinity term."""
    base: list[Req] = [(str(k), "In", (str(v),)) for k, v in (pod.get("nodeSelector") or {}).items()]
    affinity = (pod.get("affinity") or {}).get("nodeAffinity") or {}
    terms = ((affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
             or [])
    return [base + _reqs(t) for t in terms] or [base]


def preferred(pod: dict[str, Any]) -> list[list[Req]]:
    affinity = (pod.get("affinity") or {}).get("nodeAffinity") or {}
    return [_reqs((p or {}).get("preference")) for p in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
            if isinstance(p, dict)]


def all_reqs(pod: dict[str, Any]) -> list[Req]:
    return [r for alt in alternatives(pod) + preferred(pod) for r in alt]


def _int(v: str) -> int | None:
    return int(v) if re.fullmatch(r"-?[0-9]+", v.strip()) else None


def may_select(rule: Any, op: str, values: tuple[str, ...]) -> bool:
    """May ``key <op> values`` admit a node where ``rule`` (a tables.SharingLabel) says sharing/MIG?

    Conservative: True unless the requirement excludes every such value (Kubernetes node
    affinity operators: https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#operators;
    Gt/Lt compare the label value as an integer, DoesNotExist admits only nodes without it).
    """
    if rule.domain == "closed":
        if op == "In":
            return any(rule.value.search(v) for v in values)
        if op == "NotIn":
            return not {v for v in rule.all if rule.value.search(v)} <= set(values)
        return op == "Exists"  # Gt/Lt never match a non-integer value
    if rule.domain == "integer":
        ints = [i for i in (_int(v) for v in values) if i is not None]
        if op == "In":
            return any(i >= rule.minimum for i in ints)
        if op in ("NotIn", "Exists"):
            return True
        if op == "Gt":
            return bool(ints)  # every integer above n includes ones >= minimum
        if op == "Lt":
            return bool(ints) and ints[0] > rule.minimum
        return False
    if op == "In":
        return any(rule.value.search(v) for v in values)
    if op == "NotIn":  # the cluster has such nodes; excluding some names cannot exclude the others
        return rule.exists or any(rule.value.search(v) for v in values)
    return op == "Exists" and rule.exists


def sharing_hits(pod: dict[str, Any], sharing_labels: Any, mig: bool | None = None) -> list[tuple[Req, Any]]:
    """Requirements (required, nodeSelector or preferred, any term) that may pick sharing/MIG nodes."""
    out = []
    for req in all_reqs(pod):
        for rule in sharing_labels:
            if rule.label == req[0] and (mig is None or rule.mig == mig) and may_select(rule, req[1], req[2]):
                out.append((req, rule))
    return out


@dataclass(frozen=True, slots=True)
class MigTerm:
    """What one alternative of the node selection says nvidia.com/gpu is there."""

    kind: str  #: "whole", "mig" or "unknown"
    slices: frozenset[tuple[str | None, str]] = frozenset()  #: (parent product label or None, profile)
    why: str = ""


def mig_term(alt: list[Req], fam: Families) -> MigTerm:
    slices: set[tuple[str | None, str]] = set()
    whole = False
    part, pattern_ = fam.partition, fam.product_pattern
    for key, op, values in alt:
        if key == fam.product_label and op == "In" and pattern_ is not None:
            marked = [v for v in values if any(m.search(v) for m in fam.product_marks)]
            migs = [pattern_.match(v) for v in marked]
            if any(m is None for m in migs):
                mark = fam.product_marks[0].pattern
                return MigTerm("unknown", why=f"{key} names an unparseable {mark} product")
            if migs and len(migs) < len(values):
                return MigTerm("unknown", why=f"{key} In lists {part} and whole-GPU products")
            whole = whole or not migs
            slices |= {(m.group("parent"), m.group("profile")) for m in migs if m}
        for label, pattern in fam.partitions:
            if key != label:
                continue
            if op == "In" and values and all(pattern.fullmatch(v) for v in values):
                slices |= {(None, v) for v in values}
            elif op not in ("DoesNotExist", "Gt", "Lt"):  # Gt/Lt: a size is no integer, no node matches
                return MigTerm("unknown",
                               why=f"{key} {op}{' ' + str(list(values)) if values else ''} does not name the partition size")
    if slices and whole:
        return MigTerm("unknown", why=f"a term names both a {part} and a whole-GPU product")
    return MigTerm("mig", frozenset(slices)) if slices else MigTerm("whole")
