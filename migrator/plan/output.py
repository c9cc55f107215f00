"""The plan as text, a markdown runbook, or the JSON contract: the same content in each (the
trace of the proof only with ``explain``)."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from migrator.markdown import cell, code, fenced, text
from migrator.plan.planner import Plan
from migrator.plan.topology import operator_profile


def _resource() -> str:
    """The device-plugin resource the KEP-5004 path keeps: the operator's vendor's ``nodes.resource``
    (migrator/plan/build.py reads the mapping DeviceClass of the same one)."""
    return str(operator_profile().nodes.resource)


def to_json(plan: Plan, explain: bool = False) -> dict[str, Any]:
    proof: dict[str, Any] | None = None
    if plan.proof:
        proof = {"ok": plan.proof.ok, "problems": plan.proof.problems, "ticks": plan.proof.ticks}
        if explain:
            proof["trace"] = plan.proof.trace
    return {
        "workloads": [{
            "kind": d.workload.kind, "namespace": d.workload.namespace, "name": d.workload.name,
            "deadlock_without_plan": d.deadlock_without_plan, "switch_strategy": d.switch_strategy,
            "reason": d.reason, "capacity_lost": d.capacity_lost, "file": d.workload.file,
            "pod_template": d.workload.key, "blocked": d.blocked, "templates": list(d.workload.templates),
        } for d in plan.decisions],
        "steps": [{
            "wave": s.wave, "action": s.action, "kind": s.kind, **({"namespace": s.namespace} if s.namespace else {}),
            "name": s.name, "detail": s.detail, "command": s.command,
            "capacity_lost": s.capacity_lost,
        } for s in plan.steps],
        "preflight": plan.preflight,
        "proof": proof,
        "kep5004": plan.alternative,
        "notes": plan.notes,
        "not_migrated": [{
            "kind": n.kind, "namespace": n.namespace, "name": n.name, "container": n.container,
            "pod_template": n.pod_template, "code": n.code, "status": n.status, "reason": n.reason,
            "file": n.file, "line": n.line,
        } for n in plan.not_migrated],
        "extended_resource": [{
            "kind": e.kind, "namespace": e.namespace, "name": e.name, "pod_template": e.pod_template, "file": e.file,
            "resources": e.resources, "device_classes": e.device_classes, "served": e.served, "reason": e.reason,
        } for e in plan.extended],
        "gpu_operator": None if plan.topology is None else {
            "shown": plan.topology.shown, "evidence": plan.topology.evidence, "target": plan.topology.target.name,
            "cluster_wide": plan.topology.cluster_wide,
            "device_plugin_off": plan.topology.target.device_plugin_off, "dra_on": plan.topology.target.dra_on,
        },
        "summary": plan.summary(),
    }


def summary_line(plan: Plan) -> str:
    c = plan.summary()
    return (f"{c['workloads']} pod template(s) planned ({c['switched']} switched, {c['blocked']} blocked), "
            f"{c['not_migrated']} not migrated ({c['manual']} need manual action, {c['skipped']} skipped)"
            + (f", {c['extended_resource']} kept as written for KEP-5004 (their nodes switch)"
               if c['extended_resource'] else ""))


def _extended_line(e: Any) -> str:
    classes = ", ".join(f"{r} x {n} by {e.device_classes.get(r) or 'NO DeviceClass'}" for r, n in sorted(e.resources.items()))
    return (f"{e.pod_template} ({e.file}): manifest unchanged; {classes}"
            + ("" if e.served else " (not served on this target: see the preflight)"))


def _not_migrated_line(n: Any) -> str:
    container = f" container {n.container}" if n.container else ""
    where = f"{n.file}:{n.line}" if n.line else n.file
    return f"{n.pod_template}{container} ({where}): {n.status} {n.code}: {n.reason}"


def _proof_line(plan: Plan) -> str:
    assert plan.proof is not None
    switched = "every workload it switches" if any(d.blocked for d in plan.decisions) else "every workload"
    return (f"holds: {switched} completes, no node is served by both managers, every template exists before "
            "pods need it" if plan.proof.ok else "FAILS: " + "; ".join(plan.proof.problems))


def to_text(plan: Plan, explain: bool = False) -> str:
    out: list[str] = []
    for d in plan.decisions:
        w = d.workload
        flag = "BLOCKED" if d.blocked else "DEADLOCK without plan" if d.deadlock_without_plan else "safe as is"
        strat = f"; during the switch: {json.dumps(d.switch_strategy)}" if d.switch_strategy else ""
        out.append(f"{w.key}: {flag}{strat} ({d.reason}); capacity lost: {d.capacity_lost}")
    out.append("")
    for s in plan.steps:
        lost = "".join(f" [lost {v} of {k}]" for k, v in s.capacity_lost.items())
        ns = f"{s.namespace}/" if s.namespace else ""
        detail = f": {s.detail}" if s.detail else ""
        out.append(f"wave {s.wave:>2}  {s.action:<8} {s.kind} {ns}{s.name}{detail}{lost}")
        if s.command:
            out.append(f"          $ {s.command}")
    if plan.notes:
        out += ["", "notes:"] + [f"  - {n}" for n in plan.notes]
    if plan.extended:
        out += ["", "KEP-5004 path (manifests unchanged; DRA serves them through the mapping DeviceClass once "
                "their nodes switch):"] + [f"  - {_extended_line(e)}" for e in plan.extended]
    if plan.not_migrated:
        out += ["", "not migrated (left as they are; see `dra-migrate rules explain CODE`):"] + [
            f"  - {_not_migrated_line(n)}" for n in plan.not_migrated]
    if plan.alternative:
        out += ["", f"alternative: serve {_resource()} from DRA first (KEP-5004):"] + \
            [f"  - {a}" for a in plan.alternative]
    out.append("")
    out.append("summary: " + summary_line(plan))
    if plan.proof:
        out.append("proof: " + _proof_line(plan))
        blocked = [d.workload.key for d in plan.decisions if d.blocked]
        if blocked:
            out.append(f"blocked (not switched): {', '.join(blocked)}")
        if explain:
            out += ["", "simulation trace:"] + plan.proof.trace
    return "\n".join(out) + "\n"


def _item(n: int, head: str, command: str) -> list[str]:
    """An ordered-list item; its code block is indented to the item's content column (the marker's
    width: 3 for "9. ", 4 for "10. "), or it would fall out of the list (CommonMark 5.2)."""
    marker = f"{n}. "
    lines = [marker + head]
    if command:
        lines += [" " * len(marker) + line for line in fenced(command, "sh").split("\n")]
    return lines


def to_markdown(plan: Plan, explain: bool = False) -> str:
    out = ["# DRA switch plan", ""]
    if plan.proof:
        out.append("**Proof:** " + text("the plan was replayed in the cluster model: every workload completes, no "
                                        "node is ever served by both the device plugin and the DRA driver, and every "
                                        "template exists before anything can create pods from it." if plan.proof.ok
                                        else "does not hold: " + "; ".join(plan.proof.problems)))
        blocked = [d.workload.key for d in plan.decisions if d.blocked]
        if blocked:
            out.append("")
            out.append(f"**Blocked (not switched by this plan):** {text(', '.join(blocked))}: the cluster cannot run "
                       "them on DRA devices whatever the order.")
        out.append("")
    out += ["**Summary:** " + text(summary_line(plan)), ""]
    out += ["## Workloads", "", "| workload | stalls without this plan | strategy during the switch | replicas lost | why |",
            "|---|---|---|---|---|"]
    for d in plan.decisions:
        strat = code(json.dumps(d.switch_strategy)).replace("|", "\\|") if d.switch_strategy else "own (unchanged)"
        stalls = "**blocked**" if d.blocked else "**yes**" if d.deadlock_without_plan else "no"
        out.append(f"| {cell(d.workload.key)} | {stalls} | {strat} | {d.capacity_lost} | {cell(d.reason)} |")
    out += ["", "## Wave 1: preflight", ""] + [
        f"- [ ] {'**blocker:** ' if ('MISSING' in c or 'HAZARD' in c) else ''}{text(c)}" for c in plan.preflight]
    for note in plan.notes:
        out.append(f"- [ ] note: {text(note)}")
    out += ["", "## Runbook", "", "Each wave starts when the previous one has finished.", ""]
    n = 0
    for wave, group in groupby(plan.steps, key=lambda s: s.wave):
        steps = [s for s in group if s.action != "verify"]
        if not steps:
            continue
        out.append(f"### Wave {wave}")
        out.append("")
        for s in steps:
            n += 1
            ns = f"{s.namespace}/" if s.namespace else ""
            lost = "".join(f" _(capacity lost: {v} replica(s) of {text(k)})_" for k, v in s.capacity_lost.items())
            detail = f": {text(s.detail)}" if s.detail else ""
            out += _item(n, f"**{s.action}** {s.kind} {code(ns + s.name)}{detail}{lost}", s.command)
        out.append("")
    if plan.extended:
        out += ["## KEP-5004 path: manifests unchanged", "", f"These keep `{_resource()}`: once their nodes switch, "
                "the scheduler serves them from DRA through the DeviceClass with `extendedResourceName`. Check the "
                "preflight's DeviceClass and gate lines first.", ""] + [
                    f"- {text(_extended_line(e))}" for e in plan.extended] + [""]
    if plan.not_migrated:
        out += ["## Not migrated", "", "Left as they are by the rewrite and by this plan; see "
                "`dra-migrate rules explain CODE`.", "",
                "| pod template | container | file | rule | status | reason |", "|---|---|---|---|---|---|"]
        for n in plan.not_migrated:
            where = f"{n.file}:{n.line}" if n.line else n.file
            out.append(f"| {cell(n.pod_template)} | {cell(n.container or '')} | {cell(where)} | {code(n.code)} | "
                       f"{n.status} | {cell(n.reason)} |")
        out.append("")
    if plan.alternative:
        out += [f"## Alternative: serve `{_resource()}` from DRA first (KEP-5004)", ""] + \
            [f"- {text(a)}" for a in plan.alternative] + [""]
    if explain and plan.proof:
        out += ["## Simulation trace", "", fenced("\n".join(plan.proof.trace) or "(empty)", "text"), ""]
    return "\n".join(out)
