"""From today's manifests and a cluster snapshot to the planner's model, decisions and plan."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from migrator.proof.matcher import DeviceMatcher
from migrator.proof.cluster import PDB, Device, Node, Pod, Snapshot, selects, tolerates
from migrator.k8s.pairing import finding_key, key_of, migrate_all
from migrator.k8s.podspec import (alternatives, as_dict, as_list, capacity_requests, claim_index, claim_requests, count_of,
                              label_of, objects_of, pod_needs, pod_at, selector_exprs)
from migrator.k8s.kube import releases
from migrator.text.shape import ShapeError
from migrator.mode import Mode
from migrator.model import ObjectRef, Status
from migrator.plan.model import GPU_RESOURCE, Model, PNode, Request, SimPod, Workload, deployment_fence, resolve
from migrator.plan.planner import ExtendedPath, NotMigrated, Plan, Planner, WorkloadDecision, prove
from migrator.plan.topology import operator_profile, stacks
from migrator.runner import templates_path
from migrator.k8s.selection import label_rules, normalize_version
from migrator.tables import load_tables
from migrator.k8s.tolerations import admission_tolerations

MODELLED = {"Deployment", "StatefulSet", "DaemonSet"}
#: Kinds whose pods are separate runs: one pod running at a time is progress (a Job works through
#: its completions with whatever parallelism fits; a CronJob's runs; a bare Pod is one pod).
ONE_AT_A_TIME = {"Pod", "Job", "CronJob"}
def _int(text: Any) -> int:
    m = re.match(r"^\s*(\d+)\s*$", str(text))
    return int(m.group(1)) if m else 0


def expected_devices(node: Node, prof: Any) -> list[Device]:
    """What the DRA driver will publish on a device-plugin node once it is cut over.

    Inferred from the node's allocatable and its GFD/cloud labels (dra-api.md §5.3): enough to
    decide which templates the node can serve. Real ResourceSlices replace them in a snapshot.
    ``prof``: the operator's vendor profile (topology.operator_profile): its ``nodes.resource``
    counts whole devices, ``partitions.resourcePrefix`` partitions, and its ``nodeLabels`` say
    which attribute (or capacity) each label sets: a product label is the product itself, a
    values table maps the label's values, a version label (else its major and minor parts) the
    version, a memory label in MiB the memory capacity.
    """
    types, domain = prof.device_types, prof.attribute_domain
    attrs: dict[str, Any] = {types.attribute: types.whole}
    caps: dict[str, Any] = {}
    labels = node.labels
    rules = [r for r in prof.node_labels if r.label is not None]
    versions = {r.attribute for r in rules if r.translate == "version"}
    for r in rules:
        if r.translate == "product" and r.attribute not in attrs:
            if r.label in labels:
                attrs[r.attribute] = labels[r.label]  # equal to itself after the sanitize replace
            else:
                rule = label_rules(str(load_tables().source)).get("cloud.google.com/gke-accelerator")
                row = rule.values.get(labels.get("cloud.google.com/gke-accelerator", "")) if rule else None
                if row:
                    attrs[r.attribute] = row["products"][0]
        elif r.translate == "values" and r.attribute not in attrs:
            table = dict(r.values)
            if labels.get(r.label) in table:
                attrs[r.attribute] = table[labels[r.label]]
        elif r.translate == "version-part" and r.attribute not in versions and r.attribute not in attrs:
            part = {x.part: x.label for x in reversed(rules) if x.translate == "version-part"
                    and x.attribute == r.attribute}
            major = labels.get(part.get("major", ""))
            if major and major.isascii() and major.isdigit():
                attrs[r.attribute] = ("version", f"{int(major)}.{_int(labels.get(part.get('minor', '')))}."
                                                 f"{_int(labels.get(part.get('patch', '')))}")
        elif r.translate == "version" and r.attribute not in attrs:
            full = normalize_version(labels.get(r.label, ""))
            if full is not None:
                attrs[r.attribute] = ("version", full)
        elif r.translate == "memory-mib" and r.capacity and r.capacity not in caps:
            memory = labels.get(r.label, "")
            if re.fullmatch(r"[0-9]+", memory):
                caps[r.capacity] = f"{memory}Mi"
    out: list[Device] = []
    for i in range(_int(node.allocatable.get(prof.nodes.resource, 0))):
        out.append(Device(node.name, prof.driver, node.name, f"expected-{types.whole}-{i}",
                          {domain: dict(attrs)}, {domain: dict(caps)}))
    part = prof.partitions
    if part is None or not part.resource_prefix or not types.partition:
        return out
    row = next((x for x in prof.resources if x.kind == "partition" and x.device_class == part.device_class), None)
    named = re.compile("^" + re.escape(part.resource_prefix) + "(.+)$")
    for res, qty in sorted(node.allocatable.items()):
        m = named.match(res)
        if m:
            profile = re.sub(row.profile_replace[0], row.profile_replace[1], m.group(1)) \
                if row is not None and row.profile_replace else m.group(1)
            mig = {k: v for k, v in attrs.items() if k != types.attribute} | \
                {types.attribute: types.partition, part.profile_attribute: profile}
            for i in range(_int(qty)):
                out.append(Device(node.name, prof.driver, node.name, f"expected-{types.partition}-{m.group(1)}-{i}",
                                  {domain: mig}, {domain: {}}))
    return out


def expected_other(node: Node, own: str) -> list[Device]:
    """What another vendor's DRA driver will publish on a device-plugin node: one whole device per
    whole-device resource the node advertises, with the device type and the attributes the
    resource's selector asks to equal (rules/vendors/*.yaml: Intel's bound kernel driver). A
    selector this cannot read leaves the device without them, so no request is wrongly served.
    ``own``: the vendor expected_devices infers (the operator's), skipped here."""
    from migrator.tables import load_tables

    t = load_tables()
    out: list[Device] = []
    for row in t.devices:
        if row.vendor == own or row.kind != "whole" or not row.name:
            continue
        prof = t.vendors.by_vendor(row.vendor)
        attrs: dict[str, Any] = {prof.device_types.attribute: prof.device_types.whole}
        for attr, value in re.findall(r"\.(\w+) == '([^']*)'", (row.selector or "").format()):
            attrs[attr] = value
        for i in range(_int(node.allocatable.get(row.name, 0))):
            out.append(Device(node.name, prof.driver, node.name, f"expected-{row.name.rsplit('/', 1)[1]}-{i}",
                              {prof.attribute_domain: dict(attrs)}, {prof.attribute_domain: {}}))
    return out


def nodes_from(snap: Snapshot) -> dict[str, PNode]:
    from migrator.tables import load_tables

    drivers = {p.driver for p in load_tables().vendors.profiles}
    prof = operator_profile()
    nodes: dict[str, PNode] = {}
    for n in snap.nodes.values():
        dp_alloc = {r: _int(v) for r, v in n.allocatable.items() if GPU_RESOURCE.match(r) and _int(v) > 0}
        real = [d for d in n.devices if d.driver in drivers]
        complete = all(seen >= count for (drv, _), (_, count, seen) in n.pools.items() if drv in drivers)
        dra_on = bool(real) and complete
        devices = real if real else ((expected_devices(n, prof) + expected_other(n, prof.vendor)) if dp_alloc else [])
        nodes[n.name] = PNode(n.name, n.labels, n.taints, dp_alloc, devices, bool(dp_alloc), dra_on,
                              cordoned=n.unschedulable, expected=not real)
    return nodes


def _requests(template: dict[str, Any], snap: Snapshot, reqs: list[dict[str, Any]] | None = None) -> list[Request]:
    out: list[Request] = []
    for req in claim_requests(template) if reqs is None else reqs:
        alts = alternatives(req)
        lists: list[list[str]] = []
        for a in alts:
            exprs, _ = snap.class_exprs(a.get("deviceClassName") or "")  # an unusable class matches nothing
            lists.append(exprs + selector_exprs(a))
        out.append(Request(count_of(alts[0]), lists))
    return out


def pods_at_once(kind: str, obj: dict[str, Any], where: str, replicas: int) -> int:
    """How many pods of this pod template must run at the same time for the workload to work: its
    replicas for a Deployment, StatefulSet, ReplicaSet or an operator's replica set (the
    ``replicas`` beside the template, e.g. a PyTorchJob's Worker: the workers rendezvous), one for
    Pods, Jobs and CronJobs. A DaemonSet needs one per node, checked node by node."""
    if kind in ONE_AT_A_TIME or kind == "DaemonSet":
        return 1
    if where == "/spec/template/spec":
        return replicas
    parent = pod_at(obj, where[: -len("/template/spec")]) if where.endswith("/template/spec") else None
    value = parent.get("replicas", 1) if parent is not None else 1
    return value if isinstance(value, int) and not isinstance(value, bool) else _int(value)


def kubectl_selector(selector: Any) -> str:
    """A LabelSelector in ``kubectl -l`` syntax (set-based requirements included)."""
    if not isinstance(selector, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        if not isinstance(e, dict):
            continue
        key, op, values = e.get("key"), e.get("operator"), ",".join(map(str, e.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": f"{key}",
                      "DoesNotExist": f"!{key}"}.get(str(op), ""))
    return ",".join(p for p in parts if p)


def _replicas(spec: dict[str, Any]) -> int:
    """spec.replicas (checked for the core kinds by the engine); 1 when absent or not an integer."""
    n = spec.get("replicas", 1)
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else 1


def build_plan(paths: list[tuple[str, str]], snap: Snapshot, mode: Mode, explain: bool = False,
               gpu_operator: str = "auto", jobs: int = 0) -> Plan:
    """``paths``: (file name, text) of today's manifests. ``gpu_operator``: the install the nodes
    end on (migrator/plan/topology.py: ``auto`` keeps the one the snapshot shows). ``jobs``: worker
    processes for the rewrite of the files (pairing.migrate_all; 0: automatic)."""
    from migrator.proof.kep5004 import mapping_classes
    from migrator.plan.topology import detect

    topology = detect(snap, gpu_operator)

    known = mapping_classes(snap)
    # the rewrite decides the KEP-5004 path with the cluster's mapping classes (migrator/proof/kep5004.py)
    mode = dataclasses.replace(mode, extended_classes=tuple(sorted(known.items())))
    extended: list[ExtendedPath] = []
    could: list[tuple[str, dict[str, int]]] = []  #: switched, but eligible for the KEP-5004 path
    matcher = DeviceMatcher()
    nodes = nodes_from(snap)
    model = Model(nodes, matcher)
    decisions: list[WorkloadDecision] = []
    notes: list[str] = []
    classes_used: set[str] = set()
    uses_first_available = False
    results: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
    template_files: dict[str, set[tuple[str, bool]]] = {}  #: "namespace/name" -> (file, written by the rewrite)
    errors: list[str] = []
    not_migrated: list[NotMigrated] = []
    unreadable: list[tuple[str, str]] = []  #: (claim, who names it) a converted pod names but nobody can read
    readable: list[tuple[str, str]] = []
    cp_version, cp_how = snap.control_plane_version()
    sts_gate = bool(cp_version) and releases().gate("MaxUnavailableStatefulSet", cp_version)
    for (path, text), migrated in zip(paths, migrate_all(paths, mode, jobs), strict=True):
        if isinstance(migrated, str):  # the rewrite's InvalidInput: this file is reported, the others planned
            errors.append(migrated)
            continue
        if migrated.unreadable is not None:
            # migrate_text passed it by without parsing (no GPU word in it, e.g. a Helm template):
            # as for rewrite and scan, there is nothing to plan in it
            continue
        result = migrated.result
        before = migrated.by_key("before")
        readable.append((path, text))
        after_docs = list(migrated.after) if result.text != text else list(before.values())
        results[path] = (result, objects_of(after_docs) + list(result.templates))
        written = {_ref(o) for o in before.values() if o.get("kind") == "ResourceClaimTemplate"}
        for o in results[path][1]:
            if o.get("kind") == "ResourceClaimTemplate":
                # a template the rewrite creates lives where `rewrite --templates file` writes it, so
                # the runbook can apply it on its own, before the workload that names it
                template_files.setdefault(_ref(o), set()).add(
                    (path, False) if _ref(o) in written else (templates_path(path), True))
        claims = claim_index(objects_of(after_docs) + list(result.templates))
        after = {key_of(o): o for o in objects_of(after_docs)}
        _not_migrated(result.findings, path, not_migrated, notes)
        for f in result.findings:
            if left_for_kep5004(f):
                _extended_workload(f, before, path, snap, mode, known, model, extended)
                continue
            if f.status is not Status.CONVERTED or f.code != "GPU000":
                continue
            fkey = finding_key(f)
            obj_b = before.get(fkey) if fkey is not None else None
            obj_a = after.get(fkey) if fkey is not None else None
            old_pod, new_pod = pod_at(obj_b, f.where), pod_at(obj_a, f.where)
            if obj_b is None or obj_a is None or old_pod is None or new_pod is None:
                continue
            meta = obj_b.get("metadata") or {}
            kind = str(obj_b.get("kind"))
            refs = [c.get("resourceClaimTemplateName") or c.get("resourceClaimName") for c in new_pod.get("resourceClaims") or []]
            mine = [claims[r] for r in refs if r in claims]
            requests: list[Request] = []
            reqs_of: dict[int, list[dict[str, Any]]] = {}  # each template's requests, its shape checked once
            for t in list(mine):
                try:
                    reqs_of[id(t)] = claim_requests(t)
                    requests += _requests(t, snap, reqs_of[id(t)])
                except ShapeError as exc:
                    mine.remove(t)
                    unreadable.append((f"{label_of(t)} ({exc})", f.workload))
            prefers = False
            for t in mine:
                for req in reqs_of[id(t)]:
                    prefers |= "firstAvailable" in req
                    for a in alternatives(req):
                        classes_used.add(a.get("deviceClassName") or "")
            uses_first_available |= prefers
            ns = meta.get("namespace")
            key = f.workload if f.where in ("/spec/template/spec", "/spec") else f"{f.workload} {f.where}"
            # the engine checked these fields' types for the kinds it models (migrator/text/shape.py); CRDs may
            # use the same names for other things
            spec = as_dict(obj_b.get("spec"))
            strategy = dict(as_dict(spec.get("strategy" if kind == "Deployment" else "updateStrategy")))
            modelled = kind in MODELLED and f.where == "/spec/template/spec"
            # consumable shares (several claims on one device) are not in the device ledger
            consumable = any(capacity_requests(a) for t in mine for req in reqs_of[id(t)] for a in alternatives(req))
            if consumable:
                modelled = False
            template_meta = as_dict(as_dict(spec.get("template")).get("metadata"))
            pdb = _pdb_for(snap.pdbs, ns, as_dict(template_meta.get("labels")))
            w = Workload(key=key, kind=kind, namespace=ns, name=str(meta.get("name") or meta.get("generateName")),
                         replicas=_replicas(spec) if kind != "DaemonSet" else 0,
                         strategy=strategy, old_pod=old_pod, new_pod=new_pod,
                         dp_need={r: n for r, n in pod_needs(old_pod).items() if GPU_RESOURCE.match(r)},
                         requests=requests, templates=[_ref(t) for t in mine if t["kind"] == "ResourceClaimTemplate"],
                         file=path, pdb=pdb, modelled=modelled,
                         shared_claim=any(t["kind"] == "ResourceClaim" for t in mine),
                         selector=kubectl_selector(spec.get("selector")))
            w.consumable = consumable
            w.at_once = pods_at_once(kind, obj_b, f.where, w.replicas)
            w.strategy_now = dict(strategy)
            if kind == "StatefulSet":
                w.sts_max_unavailable, w.sts_parallel = statefulset_budget(spec, w.replicas, sts_gate)
                if as_dict(strategy.get("rollingUpdate")).get("maxUnavailable") not in (None, 1):
                    where = (f"for Kubernetes {cp_version} (from {cp_how}), where MaxUnavailableStatefulSet is "
                             f"{'on' if sts_gate else 'off'} by default" if cp_version else
                             "with MaxUnavailableStatefulSet assumed off: the snapshot shows no Kubernetes "
                             "version (read it with --context, or keep the nodes' status.nodeInfo)")
                    notes.append(f"{key} sets rollingUpdate.maxUnavailable: planned as {w.sts_max_unavailable} "
                                 f"pod(s) at a time, {where} (on in 1.35.0-1.35.3 and from 1.37, off in "
                                 "1.35.4-1.36: rules/kubernetes.yaml)")
            if "kueue.x-k8s.io/queue-name" in (meta.get("labels") or {}):
                notes.append(f"{key} is managed by Kueue: configure deviceClassMappings and only ExactCount "
                             "templates before the switch (rollout-model.md §5.2-8)")
            if prefers and kind in ("Deployment", "StatefulSet") and \
                    strategy.get("type", "RollingUpdate") == "RollingUpdate":
                # A rolling update frees the preferred device only when the old pod is gone, so new pods
                # may settle for a fallback alternative (rollout-model.md §8.5 #7).
                notes.append(f"{key} states preferences (firstAvailable): during a rolling update the preferred "
                             "device may still be held by a terminating pod, so new pods can land on a fallback; "
                             "check ResourceClaim status.allocation after the rollout and delete pods to rebalance")
            if kind == "LeaderWorkerSet":
                notes.append(f"{key}: change the GPU template separately from replicas or size "
                             "(kubernetes-sigs/lws#1018); a Kueue-managed LeaderWorkerSet needs delete and re-create "
                             "(kubernetes-sigs/kueue#15733) (rollout-model.md §8.5 #17)")
            if w.shared_claim:
                w.modelled = False  # one claim shared by every replica: handled as a Recreate switch
            model.workloads[key] = w
            decisions.append(WorkloadDecision(w, False, None, ""))
            if f.kep5004 is not None and f.kep5004[0]:
                could.append((key, w.dp_need))
    _place_pods(model, snap, notes)
    notes += _could_keep(could, known, mode)
    preflight = _topology_preflight(topology) if _operator_in_play(topology, model, classes_used) else []
    preflight += _preflight(snap, nodes, classes_used, uses_first_available, mode)
    preflight += _extended_preflight(extended, snap, mode)
    missing = _missing_templates(readable, snap, results)
    preflight += [f"{t} named by {who} cannot be read: its devices are not modelled (fix it first)"
                  for t, who in unreadable]
    preflight += [f"template {t} referenced by {who} is MISSING from the manifests and the cluster: its pods "
                  "would stay Pending (create it first)" for t, who in missing]
    conflicts = _conflicting_templates(snap, results)
    preflight += [f"CONFLICT: ResourceClaimTemplate {t} already exists in the cluster with a different spec; the "
                  "spec is immutable, so applying would fail and pods would get the old request: give the new "
                  "template a new name, retire the old one after the rollback window" for t in conflicts]
    planner = Planner(model, preflight, {t: tuple(sorted(f)) for t, f in template_files.items()}, topology)
    for d in decisions:
        _deadlock_without_plan(planner, d)
    planner.run(decisions)
    plan = Plan(decisions, planner.steps, preflight, notes=notes)
    plan.proof = prove(model, plan.steps, decisions, explain)
    if missing:
        plan.proof.ok = False
        plan.proof.problems += [f"I2: {who} names ResourceClaimTemplate {t}, which does not exist" for t, who in missing]
    if unreadable:
        plan.proof.ok = False
        plan.proof.problems += [f"I2: {who} names {t}" for t, who in unreadable]
    if conflicts:
        plan.proof.ok = False
        plan.proof.problems += [f"I3: ResourceClaimTemplate {t} cannot be created: one with that name and another "
                                "spec exists (ResourceClaimTemplate.spec is immutable)" for t in conflicts]
    plan.alternative = _kep5004(snap, nodes, mode)
    plan.extended = extended
    unserved = [e.pod_template for e in extended if not e.served]
    if unserved:
        plan.proof.ok = False
        plan.proof.problems.append(f"KEP-5004 path: nothing serves {', '.join(unserved)} from DRA on this target "
                                   "(see the preflight): their nodes cannot be switched")
    plan.errors = errors
    plan.not_migrated = not_migrated
    plan.topology = topology
    # selectors that fail to evaluate abort allocation on that device: never chosen, and said
    plan.notes += [f"{where}: selector {err} (allocation aborts for any request that reaches this device)"
                   for where, err in list(matcher.errors)[:20]]
    blockers = _topology_blockers(topology, model, decisions, not_migrated)
    if blockers:
        plan.proof.ok = False
        plan.proof.problems += blockers
    return plan


def _operator_in_play(topology: Any, model: Model, classes_used: set[str]) -> bool:
    """The GPU Operator (rules/gpu-operator.yaml) installs one vendor's device plugin and DRA driver
    (its ``vendor``): its lines belong in a plan whose nodes or classes are that vendor's (or none is
    known), or in a cluster that shows the operator. Another vendor's runbook names none of its steps."""
    if topology.shown != "unknown":
        return True
    vendors = load_tables().vendors_of((r for n in model.nodes.values() for r in n.dp_alloc), classes_used)
    return not vendors or operator_profile().vendor in vendors  # as Planner.stack_for reads it


def _topology_preflight(topology: Any) -> list[str]:
    """What the runbook says about the GPU Operator install (rules/gpu-operator.yaml)."""
    t = topology
    prof = operator_profile()
    lines = [f"GPU Operator install: {t.shown} ({t.evidence})"]
    if t.shown == "both":
        lines.append("BLOCKED: ClusterPolicy and GPUCluster cannot coexist (the operator refuses to reconcile "
                     "either: gpu-operator v26.7.0 controllers/nodelabeling_controller.go); delete one first")
    if t.cluster_wide:
        lines.append("target GPUCluster: it cannot coexist with a ClusterPolicy, so every node switches at once: "
                     "one cluster-wide cut-over in which no GPU pod runs (the per-node path: --gpu-operator "
                     "clusterpolicy, with the DRA driver chart beside the ClusterPolicy)")
        if t.target.no_extended_resource_name:
            lines.append(f"{t.target.kind}'s {prof.whole_class} DeviceClass has no extendedResourceName "
                         f"({t.target.no_extended_resource_name}): pods that keep {prof.nodes.resource} need a "
                         "DeviceClass of your own that maps it")
    elif t.target.per_node:
        dra = t.target.dra_on
        others = [s.dra_on.split("=")[0] for s in stacks().values() if s is not t.target and not s.per_node]
        lines.append(f"nodes are switched one at a time: device plugin off by {t.target.device_plugin_off} (the "
                     f"operator keeps a value you set), DRA kubelet plugin on by {dra}: install the DRA driver chart "
                     f"with kubeletPlugin.nodeSelector {{{dra.split('=')[0]}: \"{dra.split('=')[1]}\"}} (its default "
                     f"affinity selects every {prof.name} node), not on {', '.join(others)}, which the "
                     f"{t.target.kind}'s labeller removes")
    else:
        lines.append(f"the GPUCluster install runs the DRA kubelet plugin on nodes labelled {t.target.dra_on} "
                     "(set on every GPU node; a node labelled false is paused)")
    return lines


def _topology_blockers(topology: Any, model: Model, decisions: list[WorkloadDecision],
                       not_migrated: list[NotMigrated]) -> list[str]:
    """A cluster-wide cut-over leaves no device plugin anywhere: whatever still needs one never runs again."""
    if topology.shown == "both":
        return ["ClusterPolicy and GPUCluster both exist: the GPU Operator reconciles neither"]
    if not topology.cluster_wide:
        return []
    out: list[str] = []
    left = sorted({n.pod_template for n in not_migrated})
    if left:
        out.append(f"cluster-wide cut-over: {len(left)} pod template(s) stay on the device plugin, which GPUCluster "
                   f"removes from every node ({', '.join(left[:5])}{', ...' if len(left) > 5 else ''}): migrate them "
                   "or switch per node (--gpu-operator clusterpolicy)")
    blocked = sorted(d.workload.key for d in decisions if d.blocked)
    if blocked:
        out.append(f"cluster-wide cut-over: {', '.join(blocked[:5])} cannot be switched, and no node keeps the "
                   "device plugin for it")
    outside = sorted({p.wl for pods in model.by_wl.values() for p in pods if p.dp and p.wl not in model.workloads})
    if outside:
        out.append(f"cluster-wide cut-over: device-plugin pods outside the manifests ({', '.join(outside[:5])}"
                   f"{', ...' if len(outside) > 5 else ''}) would never run again: migrate or remove them first")
    return out


def _not_migrated(findings: Any, path: str, out: list[NotMigrated], notes: list[str]) -> None:
    """The rewrite's manual and skipped findings: one on a pod template it converts (e.g. GPU007
    runtime hints) is a note on that workload; the others name what the runbook leaves as it is."""
    converted = {(f.workload, f.where) for f in findings if f.status is Status.CONVERTED and f.code == "GPU000"}
    for f in findings:
        if f.status not in (Status.MANUAL, Status.SKIPPED) or left_for_kep5004(f):
            continue  # a pod kept for KEP-5004 is migrated by switching its nodes (Plan.extended)
        key = f.workload if f.where in ("/spec/template/spec", "/spec", "") else f"{f.workload} {f.where}"
        if (f.workload, f.where) in converted:
            notes.append(f"{key}: switched, and needs manual action too ({f.code}: {f.message})")
            continue
        obj = f.obj
        out.append(NotMigrated(obj.kind if obj else None, obj.namespace if obj else None, obj.name if obj else None,
                               f.container, key or f.path or path, f.code, f.status.value, f.message,
                               f.path or path, f.line))


#: Fields the API server fills in on a template it stored (resource.k8s.io/v1 defaulting:
#: allocationMode ExactCount, count 1), so a stored copy is compared without them.
_DEFAULTED = {("allocationMode", "ExactCount"), ("count", 1)}


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in out.items()
                if v not in ({}, None, []) and not (isinstance(v, (str, int)) and (k, v) in _DEFAULTED)}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _conflicting_templates(snap: Snapshot, results: dict[str, Any]) -> list[str]:
    """Templates the rewrite would create under a name the cluster already uses for another spec."""
    stored = {t.ref: t.spec for t in snap.claim_templates}
    out: set[str] = set()
    for _, objs in results.values():
        for t in (o for o in objs if o.get("kind") == "ResourceClaimTemplate"):
            key = _ref(t)
            if key in stored and _normal(stored[key]) != _normal(t.get("spec")):
                out.add(key)
    return sorted(out)


def _ref(obj: dict[str, Any]) -> str:
    """``namespace/name`` of an object (empty namespace when it has none)."""
    meta = as_dict(obj.get("metadata"))
    return f"{meta.get('namespace') or ''}/{meta.get('name')}"


def _missing_templates(paths: list[tuple[str, str]], snap: Snapshot, results: dict[str, Any]) -> list[tuple[str, str]]:
    """ResourceClaimTemplates named by pod specs (after the rewrite) that exist nowhere."""
    have = {t.ref for t in snap.claim_templates}
    refs: list[tuple[str, str]] = []
    for path, _ in paths:
        objs = results[path][1]
        for o in objs:
            if o.get("kind") == "ResourceClaimTemplate":
                have.add(_ref(o))
        for o in objs:
            ns = as_dict(o.get("metadata")).get("namespace") or ""
            stack: list[Any] = [o]
            while stack:
                cur = stack.pop()
                if isinstance(cur, dict):
                    for c in as_list(cur.get("resourceClaims")) if isinstance(cur.get("containers"), list) else []:
                        if isinstance(c, dict) and c.get("resourceClaimTemplateName"):
                            refs.append((f"{ns}/{c['resourceClaimTemplateName']}", label_of(o)))
                    stack += list(cur.values())
                elif isinstance(cur, list):
                    stack += cur
    return sorted({(t, who) for t, who in refs if t not in have})


def _pdb_for(pdbs: tuple[PDB, ...], ns: str | None, labels: dict[str, Any]) -> dict[str, Any] | None:
    for p in pdbs:
        if (p.namespace or None) != (ns or None):
            continue
        if p.match_labels and all(labels.get(k) == v for k, v in p.match_labels.items()):
            return p.spec()
    return None


def _place_pods(model: Model, snap: Snapshot, notes: list[str]) -> None:
    """Pods from the snapshot hold what they hold; planned workloads without pods are placed."""
    by_owner: dict[tuple[str | None, str, str], list[Pod]] = {}
    finished: set[tuple[str | None, str, str]] = set()  #: owners with pods that ran to the end
    for pod in snap.pods:
        if pod.phase in ("Succeeded", "Failed") and pod.owner:
            finished.add((pod.namespace or None, *pod.owner))
        if not pod.node or pod.phase in ("Succeeded", "Failed"):
            continue
        if pod.node not in model.nodes:
            # bound to a node the snapshot does not have (deleted: the pod garbage collector removes
            # such pods, kubernetes pkg/controller/podgc): it holds nothing the plan can use
            notes.append(f"Pod {pod.namespace + '/' if pod.namespace else ''}{pod.name}: bound to node "
                         f"{pod.node}, which is not in the snapshot; left out")
            continue
        owner = pod.owner or ("Pod", pod.name)
        by_owner.setdefault((pod.namespace, owner[0], owner[1]), []).append(pod)
    claimed: set[tuple[str, ...]] = set()
    for claim in snap.claims:
        for driver, pool, device in claim.allocated:
            if pool in model.nodes:
                claimed.add((pool, driver, pool, device))
    if claimed:
        for node in sorted({k[0] for k in claimed}):
            model.add(SimPod("allocated claims", "new", node, "running",
                             devs=sorted(k for k in claimed if k[0] == node)))
    used: set[tuple[str | None, str, str]] = set()
    assumed: list[Workload] = []  #: planned workloads without pods in the snapshot
    # index owners by the workload they belong to (a Deployment owns ReplicaSets <name>-<hash>)
    by_target: dict[tuple[str | None, str, str], list[tuple[str | None, str, str]]] = {}
    for owner_key in by_owner:
        ns, kind, name = owner_key
        target = ("Deployment", name.rsplit("-", 1)[0]) if kind == "ReplicaSet" else (kind, name)
        by_target.setdefault((ns or None, target[0], target[1]), []).append(owner_key)
    for w in model.workloads.values():
        pods: list[Pod] = []
        for owner_key in by_target.get((w.namespace or None, w.kind, w.name), []):
            pods += by_owner[owner_key]
            used.add(owner_key)
        if w.kind == "DaemonSet":
            nodes = [p.node for p in pods if p.node] or sorted(
                n.name for n in model.nodes.values() if n.dp_on and selects(w.old_pod, n) and tolerates(  # type: ignore[arg-type]  # PNode: what selects() reads
                    dict(w.old_pod, tolerations=admission_tolerations(w.old_pod)), n))  # type: ignore[arg-type]
            w.replicas = len(nodes)
            w.ds_nodes = list(nodes)
            for n in nodes:
                model.add(SimPod(w.key, "old", n, "running", dp=dict(w.dp_need), pinned=n))
            continue
        if pods:
            for p in pods[: w.replicas or len(pods)]:
                ordinal = None
                if w.kind == "StatefulSet":
                    tail = p.name.rsplit("-", 1)[-1]
                    ordinal = int(tail) if re.fullmatch(r"[0-9]+", tail) else None
                # a KEP-5004 pod on a DRA node holds its claim's devices (counted with the claims above)
                on_dra = w.extended and model.nodes[p.node].dra_on and not model.nodes[p.node].dp_on  # type: ignore[index]  # bound pods only (above)
                model.add(SimPod(w.key, "old", p.node, "running", dp={} if on_dra else dict(w.dp_need),
                                 ordinal=ordinal))
        elif (w.namespace or None, w.kind, w.name) not in finished:  # a finished Job holds no GPU
            assumed.append(w)
            for i in range(w.replicas):
                model.add(SimPod(w.key, "old", dp=dict(w.dp_need), ordinal=i if w.kind == "StatefulSet" else None))
    for (ns, kind, name), items in by_owner.items():
        if (ns, kind, name) in used:
            continue
        for p in items:
            gpus = {r: n for r, n in p.gpus.items() if GPU_RESOURCE.match(r)}
            if gpus:
                model.add(SimPod(f"{kind} {ns + '/' if ns else ''}{name}", "old", p.node, "running", dp=gpus))
    model._schedule()
    for w in assumed:
        pending = len([p for p in model.pods(w.key) if p.state == "pending"])
        notes.append(f"{w.key}: no pods in the snapshot; assumed {w.replicas} running where the scheduler would put them"
                     + (f" ({pending} Pending: no schedulable device-plugin node has room; cordoned nodes take no new "
                        "pods)" if pending else ""))


def _preflight(snap: Snapshot, nodes: dict[str, PNode], classes: set[str], first_available: bool,
               mode: Mode) -> list[str]:
    checks: list[str] = []
    for c in sorted(classes):
        problem = snap.class_exprs(c)[1] if c in snap.device_classes else None
        if problem:
            checks.append(f"{problem}: fix the class (its selector must compile) before anything else")
        elif c in snap.device_classes:
            checks.append(f"DeviceClass {c} exists")
        else:
            from migrator.tables import load_tables

            prof = load_tables().vendors.for_class(c)
            vendor = prof.name if prof is not None else "the vendor's"
            checks.append(f"DeviceClass {c} is MISSING: install the {vendor} DRA driver (it creates "
                          f"{c}) before anything else")
    dra = [n for n in nodes.values() if n.dra_on]
    checks.append(f"{len(dra)} node(s) publish complete DRA ResourceSlices "
                  f"({sum(len(n.devices) for n in dra)} device(s))")
    for n in snap.nodes.values():
        for (_drv, pool), (_, count, seen) in n.pools.items():
            if seen < count:
                checks.append(f"node {n.name}: pool {pool} has {seen} of {count} ResourceSlices: not counted as "
                              "capacity until complete")
    versions = sorted({n.kubelet_version for n in snap.nodes.values() if n.kubelet_version})
    if versions:
        checks.append(f"kubelet versions: {', '.join(versions)} (resource.k8s.io/v1 needs 1.34+"
                      + ("; firstAvailable needs DRAPrioritizedList, beta and on by default since 1.34"
                         if first_available else "")
                      + ")")
    both = sorted(n.name for n in nodes.values() if n.dp_on and n.dra_on)
    if both:
        checks.append(f"HAZARD: node(s) served by both the device plugin and the DRA driver: {', '.join(both)} "
                      "(two pods can get one GPU); fixed first")
    checks.append("DRA driver kubelet plugins healthy on every target node, and no driver upgrade during the "
                  "switch (kubernetes/kubernetes#141912)")
    return checks


def _blocked(planner: Planner, d: WorkloadDecision) -> bool:
    """One rule for every kind: a workload whose pods cannot all get matching DRA devices at once,
    even with every device-plugin node cut over and nothing else running, is not switched: no
    order helps, switching would only leave its pods Pending (rollout-model.md §8.5 #2)."""
    w, m = d.workload, planner.initial
    if w.consumable:  # its devices are shared by capacity, which the ledger does not count
        return False
    if w.kind == "DaemonSet" and not w.shared_claim:
        bad = [n for n in w.ds_nodes if not m.fits_on(w, n)]
        if not bad:
            return False
        d.reason = (f"its pod cannot get matching DRA devices on {len(bad)} of the {len(w.ds_nodes)} node(s) it runs "
                    f"on ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}) even once they are cut over; add "
                    "matching GPUs there or exclude those nodes first. Not switched")
    else:
        need = 1 if w.shared_claim else w.at_once  # a shared claim is allocated once for all its pods
        most = m.most_new(w, need)
        if most >= need:
            return False
        d.reason = (f"at most {most} of {need} pod(s) it needs at once can get matching DRA devices even with "
                    "every device-plugin node cut over and nothing else running; add matching GPUs or lower "
                    "replicas first. Not switched" if need > 1 else
                    "no node can give one of its pods the DRA devices it asks for, even with every device-plugin "
                    "node cut over and nothing else running (more than any node has, or none matches); add "
                    "matching GPUs or lower the request first. Not switched")
    d.blocked = d.deadlock_without_plan = True
    d.switch_strategy = None
    return True


def _deadlock_without_plan(planner: Planner, d: WorkloadDecision) -> None:
    w = d.workload
    if _blocked(planner, d):
        return
    if w.shared_claim:
        rolling = (w.strategy or {}).get("type", "RollingUpdate") != "Recreate" and w.kind == "Deployment"
        d.deadlock_without_plan = rolling
        d.reason = ("shared ResourceClaim: old pods keep the device-plugin GPUs while every new pod waits for the "
                    "one claim; Recreate switches all replicas at once" if rolling else
                    "shared ResourceClaim with Recreate: all replicas switch at once")
        d.switch_strategy = {"type": "Recreate"} if rolling else None
        return
    if not w.modelled and w.consumable:
        d.deadlock_without_plan = False
        d.reason = ("its claims take consumable shares of GPUs (several pods on one device): the planner does not "
                    "model shared device capacity; check that the DRA nodes publish enough shares before the switch")
        return
    if not w.modelled:
        d.deadlock_without_plan = False
        d.reason = ("CronJob has no rolling update to stall: the new template applies to Jobs created from now on"
                    if w.kind == "CronJob" else
                    "a Job's pod template is immutable: delete and re-create the Job (it runs again; wait until "
                    "the running one has finished)" if w.kind == "Job" else
                    "a bare Pod is immutable: delete and re-create it" if w.kind == "Pod" else
                    f"{w.kind} rolls its pods through its operator; not modelled")
        return
    ok, lost, _ = planner.own_strategy_completes(planner.initial, w)
    d.deadlock_without_plan = not ok
    if ok:
        d.reason = "its own strategy completes on this cluster: DRA capacity for every new pod is free"
        if lost:
            d.reason += f"; up to {lost} replica(s) unavailable at a time during the rollout"
        return
    if w.kind == "Deployment":
        S, U = deployment_fence(w.strategy, w.replicas)
        if U == 0:
            d.reason = (f"maxSurge {S} / maxUnavailable 0 (resolved for {w.replicas} replica(s)): the surge pod "
                        "needs a free DRA device, none is free, and no old pod is ever removed")
        else:
            d.reason = (f"manager switch: maxUnavailable {U} removes old pods on device-plugin nodes, whose GPUs "
                        f"the new pods cannot use; {lost} replica(s) lost and the rollout stalls")
    elif w.kind == "StatefulSet":
        d.reason = ("the deleted ordinal's replacement needs DRA capacity and stays Pending: one replica down"
                    if lost <= 1 else
                    f"maxUnavailable {w.sts_max_unavailable}: the deleted ordinals' replacements need DRA capacity "
                    f"and stay Pending: {lost} replica(s) down")
    else:
        d.reason = "pods on device-plugin nodes cannot use DRA devices: Pending until each node is cut over"


def statefulset_budget(spec: dict[str, Any], replicas: int, gate_on: bool) -> tuple[int, bool]:
    """(pods a StatefulSet rolling update takes down at once, podManagementPolicy Parallel).

    With MaxUnavailableStatefulSet off, one (and the field is dropped when written); on, the
    field resolved as the controller does: a percentage of replicas rounded down, at least 1,
    default 1 (kubernetes v1.37.2 pkg/controller/statefulset/stateful_set_utils.go
    getStatefulSetMaxUnavailable)."""
    parallel = spec.get("podManagementPolicy") == "Parallel"
    if not gate_on:
        return 1, parallel
    ru = as_dict(as_dict(spec.get("updateStrategy")).get("rollingUpdate"))
    try:
        n = resolve(ru.get("maxUnavailable", 1), replicas, False)
    except (TypeError, ValueError):
        n = 1
    # more than the replicas takes them all down, no more (the controller deletes what there is)
    return max(1, min(n, replicas)), parallel


def left_for_kep5004(f: Any) -> bool:
    """The rewrite left this pod as written for KEP-5004 (migrator/engine.py _left_for_kep5004)."""
    return f.code == "GPU108" and f.kep5004 is not None and f.kep5004[0] and f.status is not Status.INFO


def _extended_workload(f: Any, before: dict[ObjectRef, dict[str, Any]], path: str, snap: Snapshot, mode: Mode,
                       known: dict[str, str], model: Model, out: list[ExtendedPath]) -> None:
    """A workload on the KEP-5004 path: in the model with its manifest, never switched."""
    from migrator.proof import kep5004

    fkey = finding_key(f)
    obj = before.get(fkey) if fkey is not None else None
    pod = pod_at(obj, f.where)
    if obj is None or pod is None:
        return
    meta, kind = as_dict(obj.get("metadata")), str(obj.get("kind"))
    need = {r: n for r, n in pod_needs(pod).items() if GPU_RESOURCE.match(r)}
    served = kep5004.gate_on(mode.kube_version) and bool(need) and all(r in known for r in need)
    requests = [Request(n, [snap.class_exprs(known[r])[0]]) for r, n in sorted(need.items())] if served else []
    spec = as_dict(obj.get("spec"))
    key = f.workload if f.where in ("/spec/template/spec", "/spec") else f"{f.workload} {f.where}"
    ns = meta.get("namespace")
    pdb = _pdb_for(snap.pdbs, ns, as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels")))
    w = Workload(key=key, kind=kind, namespace=ns, name=str(meta.get("name") or meta.get("generateName")),
                 replicas=_replicas(spec) if kind != "DaemonSet" else 0,
                 strategy=dict(as_dict(spec.get("strategy" if kind == "Deployment" else "updateStrategy"))),
                 old_pod=pod, new_pod=pod, dp_need=need, requests=requests, templates=[], file=path, pdb=pdb,
                 modelled=kind in MODELLED and f.where == "/spec/template/spec",
                 selector=kubectl_selector(spec.get("selector")), extended=True)
    w.at_once = pods_at_once(kind, obj, f.where, w.replicas)
    model.workloads[key] = w
    out.append(ExtendedPath(kind, ns, w.name, key, path, need, {r: known.get(r) for r in need}, served,
                            f.kep5004[1]))


def _could_keep(could: list[tuple[str, dict[str, int]]], known: dict[str, str], mode: Mode) -> list[str]:
    """Workloads the plan switches that could keep their manifests on this target if the cluster had
    a DeviceClass mapping their resources (``auto`` found none): what to change for that path."""
    from migrator.proof import kep5004

    if not could or mode.migration_path != "auto" or not kep5004.gate_on(mode.kube_version):
        return []
    missing = tuple(sorted({(r, 0) for _, need in could for r in need if r not in known}))
    if not missing:
        return []
    keys = [k for k, _ in could]
    return [f"{len(keys)} pod template(s) switched here could keep their manifests (KEP-5004) on "
            f"{mode.kube_version} instead ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''}): the snapshot "
            f"{kep5004.class_text(missing, known)}; then plan again (auto takes that path once the class exists)"]


def _extended_preflight(extended: list[ExtendedPath], snap: Snapshot, mode: Mode) -> list[str]:
    """The DeviceClass and gate checks of the KEP-5004 path, and what to change when they fail."""
    from migrator.proof import kep5004

    if not extended:
        return []
    checks: list[str] = []
    facts = kep5004.facts()
    for res in sorted({r for e in extended for r in e.resources}):
        who = sum(1 for e in extended if res in e.resources)
        cls = next((e.device_classes[res] for e in extended if e.device_classes.get(res)), None)
        if cls is not None:
            checks.append(f"KEP-5004 path: DeviceClass {cls} maps {res} (extendedResourceName): {who} pod template(s) "
                          "keep their manifests")
            continue
        several = kep5004.ambiguous(snap).get(res)
        if several:
            checks.append(f"KEP-5004 path: MISSING: several DeviceClasses map {res} ({', '.join(several)}); the "
                          "scheduler serves it from the newest one: keep one, then plan again")
            continue
        v = facts.classes.get(res)
        have = snap.device_classes.get(v.device_class) if v else None
        why = (f"the snapshot's {v.device_class} has no extendedResourceName ({v.missing_from})" if have is not None and v
               else f"the snapshot has no DeviceClass {v.device_class} ({v.shipped_by} creates it with one)" if v
               else "no vendor DeviceClass maps it")
        fix = v.fix if v else f"create a DeviceClass with extendedResourceName: {res}"
        checks.append(f"KEP-5004 path: no DeviceClass maps {res} for {who} pod template(s) that keep their manifests: "
                      f"MISSING: {why}; {fix}")
    if not kep5004.gate_on(mode.kube_version):
        checks.append(f"KEP-5004 path: MISSING: {kep5004.gate_text(mode.kube_version)} "
                      "(or plan with --migration-path rewrite)")
    else:
        old = _old_kubelets(sorted({n.kubelet_version for n in snap.nodes.values() if n.kubelet_version}))
        checks.append(f"KEP-5004 path: {kep5004.gate_text(mode.kube_version)}" + (
            f"; the snapshot's kubelets run {', '.join(old)}, where it is off by default: upgrade the control plane "
            "and those nodes first, or enable the gate there" if old else ""))
    return checks


def _kep5004(snap: Snapshot, nodes: dict[str, PNode], mode: Mode) -> list[str]:
    prof = operator_profile()
    res = prof.nodes.resource
    mapped = sorted(name for name, cls in snap.device_classes.items()
                    if cls.extended_resource_name == res and not cls.problem)
    if not mapped:
        return []
    from migrator.proof import kep5004

    versions = sorted({n.kubelet_version for n in snap.nodes.values() if n.kubelet_version})
    old = _old_kubelets(versions)
    gate = kep5004.gate_text(mode.kube_version) + (
        f"; the snapshot's kubelets run {', '.join(old)}, where it is off by default" if old else "")
    return [
        f"DeviceClass {', '.join(mapped)} maps {res} to DRA (KEP-5004, DRAExtendedResource: {gate}).",
        "Nodes first, manifests later: cut device-plugin nodes over one at a time with the manifests unchanged "
        "(pods evicted from a device-plugin node reschedule onto DRA nodes with the same spec), then switch the "
        "templates later as same-manager rollouts; device-plugin-era rollbacks keep working.",
        "Limits: per pod only ExactCount of the mapped class (no selectors, firstAvailable, "
        f"{prof.partitions.name + ' profiles' if prof.partitions else 'partitions'} or sharing); "
        "each node is still either device plugin or DRA.",
    ]


def _old_kubelets(versions: list[str]) -> list[str]:
    """The kubelet versions of the snapshot on which DRAExtendedResource is off by default."""
    from migrator.proof import kep5004
    from migrator.errors import MigratorError

    out = []
    for v in versions:
        try:
            if not kep5004.gate_on(v):
                out.append(v)
        except MigratorError:
            continue
    return out

