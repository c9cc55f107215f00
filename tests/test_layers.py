"""The package's layers: every import (module level or inside a function) goes to the same layer or
a lower one, and no modules import each other in a cycle. Read statically from the sources, so a
lazy import that would close a cycle is caught too. A new module must be placed in LAYERS."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "migrator"

#: lowest first; a module may import its own layer and the ones before it
LAYERS: list[set[str]] = [
    # facts and values: no dependency on how anything is read
    {"migrator", "text", "k8s", "proof", "integrations", "errors", "data", "vendors", "k8s.quantity", "tables",
     "model", "markdown", "text.linediff", "term", "text.shape", "k8s.tolerations"},
    # reading text and values
    {"k8s.kube", "mode", "text.documents", "text.sources", "k8s.cel", "text.edit", "text.verify", "k8s.validate"},
    # Kubernetes objects: where pod specs are, pods and claims as data, the DRA objects written
    {"k8s.locate", "config", "k8s.selection", "k8s.podspec", "proof.matcher", "dra", "report"},
    # clusters and the rules
    {"proof.cluster", "proof.nodes", "proof.live", "proof.kep5004", "transforms", "transforms.*"},
    # the engine: locate -> rules -> edits -> self-check
    {"engine"},
    # what is built on the engine
    {"k8s.pairing", "proof.equivalence", "runner", "output",
     "integrations.krm", "integrations.helm", "integrations.preview", "integrations.codemod"},
    {"plan", "plan.topology", "plan.model", "plan.planner", "plan.gitops", "plan.build", "plan.output"},
    # the command line: the shared values and rewrite body, the typer app, the entry point
    {"flags"},
    {"commands"},
    {"cli", "__main__"},
]


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "migrator"
        out[name] = p
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "migrator":
            base = node.module.removeprefix("migrator").lstrip(".") or "migrator"
            names = [f"{base}.{a.name}" if base != "migrator" else a.name for a in node.names] + [base]
        elif isinstance(node, ast.Import):
            names = [a.name.removeprefix("migrator").lstrip(".") or "migrator" for a in node.names
                     if a.name.split(".")[0] == "migrator"]
        found |= {n for n in names if n in modules}
    return found


def _layer(name: str) -> int:
    for i, layer in enumerate(LAYERS):
        if name in layer or any(p.endswith(".*") and name.startswith(p[:-1]) for p in layer):
            return i
    raise AssertionError(f"migrator/{name.replace('.', '/')}.py is in no layer of tests/test_layers.py")


MODULES = _modules()
GRAPH = {m: _imports(p, MODULES) - {m} for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    mine = _layer(module)
    up = sorted(f"{t} (layer {_layer(t)})" for t in GRAPH[module] if _layer(t) > mine)
    assert not up, f"{module} (layer {mine}) imports a layer above it: {up}"


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                scc.append(w)
                if w == v:
                    break
            # a package importing its own submodules (the registry) is not a cycle
            if len(scc) > 1 and not all(s == "transforms" or s.startswith("transforms.") for s in scc):
                cycles.append(sorted(scc))

    for m in sorted(GRAPH):
        if m not in index:
            visit(m)
    assert cycles == []


def test_the_check_sees_a_cycle(tmp_path: Path) -> None:
    """The reader finds function-level imports (the kind that used to close cycles)."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from migrator.engine import migrate_text\n    from migrator.proof import kep5004\n")
    assert _imports(src, MODULES) == {"engine", "proof.kep5004", "proof"}
