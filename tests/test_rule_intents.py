"""Rules return values (issue 12): each rule yields findings and typed fix intents and never
changes the plan itself; only PodPlan.apply does, as the engine hands it each intent. Checked on
every pod spec of the fixtures and examples (and the corpus when present) under the sharing
opt-in and the default mode: consuming a rule's output without applying it leaves the plan as it
was, and every intent is one of the typed kinds with an applicability."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from migrator.text.documents import parse, shared_nodes
from migrator.engine import _pod_metadata
from migrator.errors import InvalidInput
from migrator.k8s.locate import objects, pod_specs
from migrator.mode import Mode
from migrator.model import Finding, FixSafety
from migrator.tables import load_tables
from migrator.transforms import REGISTRY
from migrator.transforms.base import (AddRequest, Block, PodPlan, RemoveResource, ReplaceRequests, SetField,
                                      WireRequests, build_context)
from paths import CORPUS, REPO

INTENTS = (AddRequest, WireRequests, RemoveResource, ReplaceRequests, SetField, Block)
FIELDS = ("requests", "wiring", "removals", "tolerations", "claim_name", "remove_selector_keys", "mig_single",
          "sharing", "shares", "blocked", "findings")


def _inputs() -> list[Path]:
    out = sorted((REPO / "tests" / "cases").glob("*/input*.yaml")) + sorted((REPO / "examples").glob("*.yaml"))
    if CORPUS.is_dir():
        out += sorted(p for p in CORPUS.rglob("*.y*ml") if p.is_file() and not p.is_symlink())[:120]
    return out


def _state(plan: PodPlan) -> tuple:
    return tuple(copy.deepcopy(getattr(plan, f)) for f in FIELDS)


@pytest.mark.parametrize("mode", [Mode(), Mode(sharing="timeslicing"), Mode(sharing="mps", kube_version="1.34")],
                         ids=["default", "timeslicing", "mps"])
def test_rules_yield_intents_and_never_change_the_plan(mode: Mode) -> None:
    tables = load_tables()
    pods = unsafe = 0
    for path in _inputs():
        try:
            docs = parse(path.read_text(encoding="utf-8"), str(path))
        except (InvalidInput, UnicodeDecodeError):
            continue
        for obj in objects(docs):
            root = docs[obj.doc].root
            for ref in pod_specs(obj, tables):
                ctx = build_context(str(path), ref, tables, mode, _pod_metadata(obj, ref))
                ctx = dataclasses.replace(ctx, shared=frozenset(shared_nodes(root)))
                if not ctx.asks:
                    continue
                pods += 1
                plan = PodPlan()
                for rule in REGISTRY:
                    try:
                        before = _state(plan)
                        dry = list(rule.check(ctx, plan))  # consumed, nothing applied
                    except Exception:
                        break  # a reader that raises for a malformed pod (the engine reports it)
                    assert _state(plan) == before, f"{rule.CODE} changed the plan itself ({path})"
                    for item in dry:
                        assert isinstance(item, (Finding, *INTENTS)), (rule.CODE, item)
                        if not isinstance(item, (Finding, Block)):
                            assert isinstance(item.safety, FixSafety)
                            unsafe += item.safety is FixSafety.UNSAFE
                            # only the opt-in sharing rule makes fixes that change what a pod gets
                            assert item.safety is FixSafety.SAFE or rule.CODE == "GPU011", (rule.CODE, item)
                    for item in rule.check(ctx, plan):  # as the engine runs it
                        if not isinstance(item, Finding):
                            plan.apply(item)
                    if plan.blocked:
                        break
    assert pods > 20
    assert (unsafe > 0) is bool(mode.sharing)


def test_apply_refuses_what_is_not_an_intent() -> None:
    plan = PodPlan()
    with pytest.raises(ValueError):
        plan.apply(SetField("blocked", True))  # blocking is Block's, with the reason
    with pytest.raises(TypeError):
        plan.apply("requests")  # type: ignore[arg-type]
