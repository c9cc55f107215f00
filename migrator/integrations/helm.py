"""``dra-migrate post-render``: Helm's rendered stream in, the migrated stream out, a log on disk.

Where the templates go. Helm 3 splits hooks from the manifests *before* post-rendering and
creates the post-rendered stream in its order, one kind at a time, each batch finished before the
next (helm v3 pkg/action/action.go renderResources; pkg/kube/client.go batchPerform). Helm 4
post-renders first, then sorts by InstallOrder, where unknown kinds such as ResourceClaimTemplate
come last, and reads hook annotations the post-renderer added (helm v4 pkg/action/action.go;
pkg/release/util/kind_sorter.go). So every generated template is put right before the first
workload that names it (after the Namespaces and the rest Helm sorted first): Helm 3 then creates
it first; under Helm 4 only ``--gitops helm`` (a pre-install,pre-upgrade hook) does.

A pod created before its template exists is not lost: the resourceclaim controller fails to
create its claim (FailedResourceClaimCreation), retries with backoff up to 1000 s, and the pod stays
Pending meanwhile; before Kubernetes 1.36 creating the template does not requeue it promptly
(kubernetes/kubernetes pkg/controller/resourceclaim/controller.go; kubernetes#135835, fixed by
#135983; rollout-model.md §3).

The log: Helm 3 shows a post-renderer's stderr only when it fails and Helm 4 discards a plugin's,
so every run appends what it did and found to ``$XDG_CACHE_HOME/dra-migrate/post-render.log``
(default ``~/.cache/dra-migrate/post-render.log``).
"""

from __future__ import annotations

import dataclasses
import os
import stat
import re
import time
from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import MappingNode

from migrator.text.documents import detect_layout, parse, str_at
from migrator.text.edit import block_entries
from migrator.engine import migrate_text
from migrator.errors import InvalidInput
from migrator.mode import Mode
from migrator.model import Finding, Status

LOG_MAX_BYTES = 1 << 20  #: then the log is moved to post-render.log.1 and started again
PATH = "<helm>"  #: the stream's name inside the engine; never shown (see ``where``)
_SOURCE = re.compile(r"#\s*Source:\s*(\S.*?)\s*$")


def where(text: str, line: int | None) -> str:
    """How a message names a line of the rendered stream: the chart template it came from and the
    line in the stream. Helm writes ``---`` and ``# Source: <chart>/templates/<file>`` before each
    manifest it renders (helm pkg/action/action.go, renderResources)."""
    if not line:
        return "the Helm stream"
    lines = text.splitlines()
    for i in range(min(line, len(lines)) - 1, -1, -1):
        m = _SOURCE.match(lines[i])
        if m:
            return f"{m.group(1)} (Helm stream line {line})"
        if re.match(r"---(\s|$)", lines[i]) and i < line - 1:
            break
    return f"the Helm stream, line {line}"


def named(text: str, f: Finding) -> Finding:
    """``f`` with the template it came from in place of the stream's internal name."""
    return dataclasses.replace(f, path=where(text, f.line), line=None) if f.path == PATH else f


def error_line(text: str, exc: InvalidInput) -> str:
    return f"{where(text, exc.line)}: {exc.message}" if exc.path == PATH else str(exc)


@dataclass(frozen=True)
class Rendered:
    text: str
    findings: tuple[Finding, ...]
    templates: int
    placed_before: str | None  #: the workload the templates were put in front of


def _label(root: MappingNode) -> str:
    kind = str_at(root, "kind") or ""
    ns = str_at(root, "metadata", "namespace")
    name = str_at(root, "metadata", "name") or str_at(root, "metadata", "generateName") or "<unnamed>"
    return f"{kind} {ns + '/' if ns else ''}{name}"


def _before(text: str, labels: set[str]) -> tuple[int, str | None]:
    """The offset of the document separator (or start) of the first object in ``labels``."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    floor = 0  #: first line after the previous object
    for d in parse(text, PATH, checked=False):
        if not isinstance(d.root, MappingNode):
            continue
        first = d.root.start_mark.line
        if _label(d.root) in labels:
            for i in range(first, floor - 1, -1):
                if re.match(r"---(\s|$)", lines[i]):
                    return starts[i], _label(d.root)
            return starts[floor], _label(d.root)
        floor = min(d.root.end_mark.line, len(lines) - 1)
    return len(text), None


def render(text: str, mode: Mode) -> Rendered:
    """Migrate the stream; raise InvalidInput when Helm could not use it either."""
    parse(text, PATH)  # a stream Helm cannot use is a failure even when it has no GPU
    result = migrate_text(text, PATH, dataclasses.replace(mode, placement="file"))
    findings = tuple(named(text, f) for f in result.findings)
    if not result.templates:
        return Rendered(result.text, findings, 0, None)
    layout = detect_layout(text)
    nl = layout.newline
    block = "".join(f"---{nl}# GPUs of the workload below, written by dra-migrate{nl}"
                    + "".join(line + nl for line in block_entries(t, 0, layout)) for t in result.templates)
    converted = {f.workload for f in result.findings if f.status is Status.CONVERTED}
    at, label = _before(result.text, converted)
    head, tail = result.text[:at], result.text[at:]
    if head and not head.endswith(("\n", "\r")):
        head += nl
    if tail and not re.match(r"---(\s|$)", tail):
        tail = f"---{nl}" + tail
    return Rendered(head + block + tail, findings, len(result.templates), label)


def log_path() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # XDG: relative paths are ignored
    return base / "dra-migrate" / "post-render.log"


def write_log(lines: list[str]) -> None:
    """Append one run's lines; never fails the render (an unwritable cache is not Helm's problem)."""
    path = log_path()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    helm = f"Helm 4 plugin {os.environ['HELM_PLUGIN_NAME']}" if os.environ.get("HELM_PLUGIN_NAME") else "Helm 3 or direct"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size > LOG_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
        # only a regular file of our own: never follow a symlink, never block on a FIFO
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            fh.write(f"{stamp} dra-migrate post-render ({helm}, pid {os.getpid()})\n")
            fh.write("".join(f"  {line}\n" for line in lines))
    except OSError:
        pass


def summary(r: Rendered, gitops: str | None) -> list[str]:
    from migrator.output import finding_line

    converted = len({f.workload for f in r.findings if f.status is Status.CONVERTED})
    out = [f"{converted} workload(s) converted, {r.templates} ResourceClaimTemplate(s) added"
           + (f" before {r.placed_before}" if r.placed_before else "")]
    out += [finding_line(f) for f in r.findings if f.status in (Status.MANUAL, Status.SKIPPED)]
    if r.templates and gitops != "helm" and os.environ.get("HELM_PLUGIN_NAME"):
        out.append("note: Helm 4 creates ResourceClaimTemplates after the workloads (unknown kinds last), so "
                   "their pods wait Pending until it exists; --post-renderer-args=--gitops=helm makes the "
                   "templates pre-install,pre-upgrade hooks")
    return out
