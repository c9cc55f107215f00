"""What the per-rule tests share: the smallest pod context, the registry run up to one rule, and the
check that a blocking rule leaves the file byte for byte (tests/rules/test_<code>.py use them)."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path


from migrator.cli import main
from migrator.text.documents import parse, shared_nodes
from migrator.engine import _pod_metadata, migrate_text
from migrator.k8s.locate import objects, pod_specs
from migrator.mode import Mode
from migrator.model import Finding, Status
from migrator.tables import load_tables
from migrator.transforms import REGISTRY
from migrator.transforms.base import Block, PodContext, PodPlan, build_context


def context(src: str, index: int = 0) -> PodContext:
    text = textwrap.dedent(src)
    docs = parse(text, "t.yaml")
    tables = load_tables()
    obj = list(objects(docs))[index]
    ref = next(iter(pod_specs(obj, tables)))
    ctx = build_context("t.yaml", ref, tables, Mode(), _pod_metadata(obj, ref))
    root = docs[obj.doc].root
    return PodContext(ctx.path, ctx.ref, ctx.tables, ctx.mode, ctx.containers, ctx.asks, ctx.annotations,
                      ctx.node_selection, frozenset(shared_nodes(root)))


def run_until(code: str, ctx: PodContext) -> tuple[PodPlan, list]:
    """Run the registry in order up to and including ``code``; return the plan and its findings."""
    plan = PodPlan()
    found = []
    for rule in REGISTRY:
        out = []
        for item in rule.check(ctx, plan):  # rules return findings and fix intents; the engine applies these
            if isinstance(item, Finding):
                out.append(item)
            else:
                plan.apply(item)
                if isinstance(item, Block):
                    out.append(item.finding)
        if rule.CODE == code:
            return plan, out
        found += out
        if plan.blocked:
            break
    raise AssertionError(f"{code} did not run (blocked earlier: {found})")


def assert_blocked(src: str, code: str, status: Status, reason: str) -> None:
    """``code`` blocks the pod with its own finding (``status``, a message holding ``reason``), and the
    file is left byte for byte: by the engine and by ``rewrite --write``."""
    plan, out = run_until(code, context(src))
    assert plan.blocked, out
    assert out and (out[0].code, out[0].status) == (code, status) and reason in out[0].message, out
    text = textwrap.dedent(src)
    result = migrate_text(text, "t.yaml", Mode())
    assert result.text == text
    assert any(f.code == code and f.status is status and reason in f.message for f in result.findings), result.findings
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "t.yaml"
        f.write_bytes(text.encode())
        assert main(["rewrite", "--write", "-q", str(f)]) != 2
        assert f.read_bytes() == text.encode()


def pod(resources: str, extra: str = "", init: str = "") -> str:
    return f"""
    apiVersion: v1
    kind: Pod
    metadata:
      name: p
    spec:
    {extra}
    {init}
      containers:
      - name: main
        image: x
        resources:
    {resources}
    """
