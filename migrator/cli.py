"""Command line (typer). Thin: flags -> Mode/WriteBack -> runner -> Report.return_code.

Heavy libraries (kubernetes, libcst, deepdiff, kubernetes-validate) are imported only inside
the commands that need them: the pre-commit hook runs this on every commit.
"""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from migrator import __version__
from migrator.errors import MigratorError

EXIT_CODES = """Exit codes: 0 success or nothing to do; 1 changes needed (--check); 2 some inputs
could not be processed (each gets a one-line error naming the file; the others are still
processed and written)."""

app = typer.Typer(
    name="dra-migrate",
    help="Move GPU workloads from the NVIDIA device plugin (nvidia.com/gpu) to DRA "
         "(resource.k8s.io ResourceClaimTemplates).\n\n" + EXIT_CODES,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="The rules: list them, or explain one.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

PATHS = typer.Argument(..., help="Files or directories (recursive *.yaml/*.yml); '-' reads stdin.")
KUBE_VERSION = typer.Option("1.35", "--kube-version",
                            help="Target Kubernetes: >=1.34 writes resource.k8s.io/v1, 1.33 v1beta2, "
                                 "1.32 v1beta1 (flat request shape).")
PLACEMENT = typer.Option("inline", "--templates",
                         help="inline: each ResourceClaimTemplate right after its workload; file: in "
                              "<name>-claim-templates.yaml beside the input.")
CONVERT_UNKNOWN = typer.Option(False, "--convert-unknown",
                               help="Also convert pod specs found by shape in kinds missing from "
                                    "rules/workloads.yaml (their controller must keep resourceClaims).")


KEEP_LABELS = typer.Option(False, "--keep-node-labels",
                           help="Keep GPU node labels in the node selection after moving them into the "
                                "claim's selectors (default: remove them; GFD may not label DRA nodes).")
SHARING = typer.Option(None, "--sharing",
                       help="Opt in to converting time-slicing/MPS pods: 'timeslicing' or 'mps' makes one "
                            "shared ResourceClaim with the driver's GpuConfig sharing (pins the pods to "
                            "one node; needs the driver's alpha feature gates).")


GITOPS = typer.Option(None, "--gitops", help="argocd or helm: annotate generated templates so they apply before "
                      "the workloads that name them (sync-wave -1 / pre-install,pre-upgrade hook).")


_CONFIG = None  # the project's config (set by main)


def _config():  # type: ignore[no-untyped-def]
    global _CONFIG
    if _CONFIG is None:
        from migrator.config import load_config

        _CONFIG = load_config()
    return _CONFIG


def _mode(kube_version: str, placement: str, convert_unknown: bool, keep_node_labels: bool = False,
          sharing: Optional[str] = None, gitops: Optional[str] = None):  # type: ignore[no-untyped-def]
    from migrator.mode import Mode, api_version_for

    if placement not in ("inline", "file"):
        raise MigratorError(f"--templates {placement!r}: expected inline or file")
    if sharing not in (None, "timeslicing", "mps"):
        raise MigratorError(f"--sharing {sharing!r}: expected timeslicing or mps")
    if gitops not in (None, "argocd", "helm"):
        raise MigratorError(f"--gitops {gitops!r}: expected argocd or helm (for Flux, see `plan --gitops flux`)")
    return Mode(api_version=api_version_for(kube_version), placement=placement,
                convert_unknown=convert_unknown, keep_node_labels=keep_node_labels, sharing=sharing,
                gitops=gitops, namespaces=tuple(_config().namespaces))


def _read_inputs(paths: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, text) of every input (``-`` is stdin) and one-line errors for the unreadable ones."""
    from migrator.errors import InvalidInput
    from migrator.sources import discover, read

    files: list[tuple[str, str]] = []
    errors: list[str] = []
    for item in discover(paths, _config().selected):
        if isinstance(item, InvalidInput):
            errors.append(str(item))
        elif not isinstance(item, str):
            sys.stderr.write(f"{item.path}: symlink outside the given directory, not followed\n")
        else:
            try:
                files.append((item, read(item, _stdin([item]) if item == "-" else None).text))
            except InvalidInput as exc:
                errors.append(str(exc))
    return files, errors


def _stdin(paths: list[str]) -> bytes | None:
    return sys.stdin.buffer.read() if "-" in paths else None


@app.command()
def rewrite(
    paths: List[str] = PATHS,
    write: bool = typer.Option(False, "--write", help="Write changed files in place (atomically)."),
    check: bool = typer.Option(False, "--check", help="Print a summary; exit 1 if any file would change "
                               "(with --diff: print the diff too)."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff (the default); modify nothing."),
    kube_version: str = KUBE_VERSION,
    templates: str = PLACEMENT,
    convert_unknown: bool = CONVERT_UNKNOWN,
    keep_node_labels: bool = KEEP_LABELS,
    sharing: Optional[str] = SHARING,
    gitops: Optional[str] = GITOPS,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list converted pods and notes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (0: one per core for big batches)."),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks",
                                         help="Follow symlinks that point outside the given directories."),
) -> None:
    """Rewrite device-plugin GPU requests into DRA claims. Default: print a diff, touch nothing.

    '-' reads a stream on stdin and writes the migrated stream to stdout (with --diff, a diff).
    """
    from migrator.mode import WriteBack
    from migrator.output import finding_line, unified_diff
    from migrator.runner import run

    wb = WriteBack.from_flags(write=write, check=check, diff=diff)
    mode = _mode(kube_version, templates, convert_unknown, keep_node_labels, sharing, gitops)
    out, err = sys.stdout, sys.stderr

    def show(result):  # type: ignore[no-untyped-def]
        if result.error:
            err.write(result.error + "\n")
            return
        for f in result.findings:
            if verbose or f.status.value in ("skipped", "manual"):
                err.write(finding_line(f) + "\n")
        if result.path == "-" and wb is not WriteBack.CHECK and not diff:
            out.write(result.after or "")
            return
        if wb is WriteBack.DIFF or (wb is WriteBack.CHECK and diff):
            if result.changed:
                out.write(unified_diff(result.before or "", result.after or "", result.path))
            for path, text in result.extra_files:
                import os
                before = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
                out.write(unified_diff(before, text, path))
        if wb is WriteBack.CHECK and (result.changed or result.extra_files):
            err.write(f"would rewrite {result.path}\n")

    report = run(list(paths), mode, wb, _stdin(list(paths)), on_result=show, selected=_config().selected,
                 progress=not quiet and sys.stderr.isatty(), jobs=jobs, follow_symlinks=follow_symlinks)
    if not quiet:
        err.write(report.summary() + "\n")
    raise typer.Exit(report.return_code)


@app.command()
def scan(
    paths: List[str] = PATHS,
    format: str = typer.Option("text", "--format", help="text, json or sarif (SARIF 2.1.0)"),
    kube_version: str = KUBE_VERSION,
    convert_unknown: bool = CONVERT_UNKNOWN,
    keep_node_labels: bool = KEEP_LABELS,
    sharing: Optional[str] = SHARING,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (0: one per core for big batches)."),
) -> None:
    """List, per workload: converted, skipped (reason), needs manual action (reason). Writes nothing."""
    from migrator.mode import WriteBack
    from migrator.output import json_report, sarif_report, text_listing
    from migrator.runner import run

    if format not in ("text", "json", "sarif"):
        raise MigratorError(f"--format {format!r}: expected text, json or sarif")
    mode = _mode(kube_version, "inline", convert_unknown, keep_node_labels, sharing)
    report = run(list(paths), mode, WriteBack.DIFF, _stdin(list(paths)), selected=_config().selected,
                 progress=not quiet and sys.stderr.isatty(), jobs=jobs)
    if format == "json":
        sys.stdout.write(json_report(report))
    elif format == "sarif":
        sys.stdout.write(sarif_report(report))
    else:
        sys.stdout.write(text_listing(report))
        if not quiet:
            sys.stderr.write(report.summary() + "\n")
    raise typer.Exit(2 if report.failures else 0)


@app.command()
def verify(
    paths: List[str] = PATHS,
    cluster: str = typer.Option(..., "--cluster", help="Snapshot: kubectl get nodes,resourceslices,deviceclasses -o yaml"),
    format: str = typer.Option("text", "--format", help="text or json"),
    kube_version: str = KUBE_VERSION,
    keep_node_labels: bool = KEEP_LABELS,
    sharing: Optional[str] = SHARING,
    extended_resource_toleration: bool = typer.Option(
        True, "--extended-resource-toleration/--no-extended-resource-toleration",
        help="Model the ExtendedResourceToleration admission plugin (on in GKE and EKS) for the "
             "device-plugin pods."),
) -> None:
    """Prove on a cluster snapshot that each migrated pod can get exactly the devices it could before.

    Exit 0 when every converted workload reaches the same devices, 1 when any differs, 2 on bad input.
    """
    import json

    from migrator.cluster import load_snapshot
    from migrator.equivalence import Prover, prove_text
    from migrator.errors import InvalidInput

    if format not in ("text", "json"):
        raise MigratorError(f"--format {format!r}: expected text or json")
    mode = _mode(kube_version, "inline", False, keep_node_labels, sharing)
    snap = load_snapshot(cluster)
    prover = Prover(snap, extended_resource_toleration)
    results = []
    files, errors = _read_inputs(list(paths))
    for item, text in files:
        try:
            results += [(item, o) for o in prove_text(text, item, snap, mode, prover)]
        except InvalidInput as exc:
            errors.append(str(exc))
    if format == "json":
        sys.stdout.write(json.dumps({"workloads": [
            {"file": f, "workload": o.workload, "podSpec": o.where, "equivalent": o.equal, "details": o.lines}
            for f, o in results], "errors": errors}, indent=2) + "\n")
    else:
        for f, o in results:
            mark = "OK  " if o.equal else "DIFF"
            sys.stdout.write(f"{mark} {f}: {o.workload} {o.where}\n")
            for line in o.lines:
                sys.stdout.write(f"       {line}\n")
        for e in errors:
            sys.stderr.write(e + "\n")
        differ = sum(not o.equal for _, o in results)
        sys.stderr.write(f"{len(results)} workload(s) checked, {differ} with different devices\n")
    raise typer.Exit(2 if errors else 1 if any(not o.equal for _, o in results) else 0)


@app.command()
def codemod(
    paths: List[str] = typer.Argument(..., help="Python files or directories (recursive *.py)."),
    write: bool = typer.Option(False, "--write", help="Rewrite the files and write <module>-claim-templates.yaml."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if a file would change (with --diff: show it)."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff (the default); modify nothing."),
) -> None:
    """Rewrite Python that builds pod specs with nvidia.com/gpu (kubernetes client models, plain dicts).

    Values it cannot resolve statically are reported with file:line, not guessed.
    """
    from migrator.codemod import run_codemod, side_file
    from migrator.errors import InvalidInput
    from migrator.mode import WriteBack
    from migrator.output import finding_line, unified_diff
    from migrator.sources import STDIN, NotFollowed, Write, discover, encode, read, write_together

    wb = WriteBack.from_flags(write=write, check=check, diff=diff)
    failed = changed = 0
    # the same inputs as the YAML commands: regular files, bounded reads, no symlink out of a
    # given directory (reported), only *.py under a directory
    for item in discover(paths, suffixes=(".py",)):
        if isinstance(item, NotFollowed):
            sys.stderr.write(f"{item.path}: symlink to {item.target}, outside the given directory: not followed\n")
            continue
        try:
            if isinstance(item, InvalidInput):
                raise item
            if item == STDIN:
                raise InvalidInput("<stdin>", None, "codemod rewrites files, not stdin")
            f = item
            src = read(f)
            res = run_codemod(src.text, f)
            for finding in res.findings:
                if finding.status.value != "converted":
                    sys.stderr.write(finding_line(finding) + "\n")
            if res.after == res.before:
                continue
            side = side_file(f, res.templates)  # InvalidInput when it is not ours: neither is written
        except InvalidInput as exc:
            sys.stderr.write(str(exc) + "\n")
            failed += 1
            continue
        changed += 1
        if wb is WriteBack.WRITE:
            # templates first: a run killed between the two renames leaves templates nothing
            # names yet (the next run finds them ours and complete), never code that names
            # templates that do not exist; a failure of the second write takes the first back
            writes = [Write(f, encode(res.after, src.bom), src.mtime_ns, encode(src.text, src.bom))]
            if side.after != side.before:
                writes.insert(0, Write(side.path, encode(side.after, side.bom), side.mtime_ns,
                                       None if side.before is None else encode(side.before, side.bom)))
            try:
                write_together(writes)
            except InvalidInput as exc:
                sys.stderr.write(f"{exc} (nothing written)\n")
                failed += 1
        elif wb is WriteBack.DIFF or diff:
            sys.stdout.write(unified_diff(res.before, res.after, f))
            sys.stdout.write(unified_diff(side.before or "", side.after, side.path))
        if wb is WriteBack.CHECK:
            sys.stderr.write(f"would rewrite {f}\n")
    raise typer.Exit(2 if failed else 1 if (wb is WriteBack.CHECK and changed) else 0)


@app.command()
def krm() -> None:
    """KRM function: a config.kubernetes.io/v1 ResourceList on stdin, the migrated one on stdout.

    Use with kustomize (--enable-alpha-plugins --enable-exec) or kpt (fn eval --exec).
    """
    from migrator.errors import InvalidInput
    from migrator.krm import Problem, failure, run_krm
    from migrator.sources import MAX_BYTES, decode

    # The specification reserves stdout for a ResourceList and reads a non-zero exit as failure:
    # every input we cannot process becomes error results in one, exit 1, and a line on stderr.
    try:
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise InvalidInput("<stdin>", None, f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
        text, _ = decode(data, "<stdin>")
        res = run_krm(text)
        out, code, errors = res.text, res.code, list(res.errors)
    except MigratorError as exc:
        p = Problem(exc.message, line=exc.line) if isinstance(exc, InvalidInput) else Problem(str(exc))
        out, code, errors = failure([p]), 1, [p.line_text]
    except Exception as exc:  # a bug of ours: still a ResourceList, so the orchestrator can say why
        p = Problem(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
        out, code, errors = failure([p]), 1, [p.line_text]
    for e in errors:
        sys.stderr.write(f"dra-migrate krm: {e}\n")
    sys.stdout.write(out)
    raise typer.Exit(code)


@app.command("post-render")
def post_render(
    kube_version: str = KUBE_VERSION,
    keep_node_labels: bool = KEEP_LABELS,
) -> None:
    """Helm post-renderer: the rendered stream on stdin, the migrated stream (with templates) on stdout.

    Helm 3: helm install ... --post-renderer dra-migrate --post-renderer-args post-render.
    Helm 4: install the plugin in helm-plugin/ and pass --post-renderer dra-migrate.
    Exit 2 (and no output) when the stream cannot be processed.
    """
    from migrator.engine import migrate_text
    from migrator.output import finding_line
    from migrator.sources import decode

    import os

    log_lines: list[str] = []
    try:
        mode = _mode(kube_version, "inline", False, keep_node_labels, None)
        text, _ = decode(sys.stdin.buffer.read(), "<stdin>")
        from migrator.documents import parse

        parse(text, "<helm>")  # a stream Helm cannot use is a failure even when it has no GPU
        result = migrate_text(text, "<helm>", mode)
    except MigratorError as exc:
        log_lines.append(f"dra-migrate: {exc}")
        raise
    finally:
        # Helm 4 discards a post-renderer plugin's stderr: keep a log it can be read from
        if os.environ.get("HELM_PLUGIN_NAME") and log_lines:
            _helm_log(log_lines)
    for f in result.findings:
        if f.status.value in ("skipped", "manual"):
            log_lines.append(finding_line(f))
            sys.stderr.write(finding_line(f) + "\n")
    if os.environ.get("HELM_PLUGIN_NAME") and log_lines:
        _helm_log(log_lines)
    sys.stdout.write(result.text)
    raise typer.Exit(0)


def _helm_log(lines: list[str]) -> None:
    import os
    from pathlib import Path

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dra-migrate"
    try:
        base.mkdir(parents=True, exist_ok=True)
        with open(base / "post-render.log", "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    except OSError:
        pass


@app.command()
def preview(
    paths: List[str] = PATHS,
    format: str = typer.Option("markdown", "--format", help="markdown (a PR comment) or json"),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Snapshot: adds the planner's rollout risks."),
    full_report: Optional[str] = typer.Option(None, "--full-report",
                                              help="Also write the untruncated markdown here (named in the comment)."),
    max_chars: int = typer.Option(65_536, "--max-chars", help="Size limit of the comment (GitHub: 65,536)."),
    kube_version: str = KUBE_VERSION,
    keep_node_labels: bool = KEEP_LABELS,
) -> None:
    """Describe the migration for a pull request: summary, per-workload semantic and unified diffs.

    Writes nothing but --full-report. Exit 0, or 2 when some inputs could not be processed.
    """
    import json

    from migrator.preview import build_preview, to_json, to_markdown

    if format not in ("markdown", "json"):
        raise MigratorError(f"--format {format!r}: expected markdown or json")
    mode = _mode(kube_version, "inline", False, keep_node_labels, None)
    files, errors = _read_inputs(list(paths))
    result = build_preview(files, mode)
    result.errors = errors + result.errors
    if cluster:
        from migrator.cluster import load_snapshot
        from migrator.plan.build import build_plan

        plan_ = build_plan(files, load_snapshot(cluster), mode)
        result.risks = [f"{d.workload.key}: stalls without a plan ({d.reason}); run `dra-migrate plan`"
                        for d in plan_.decisions if d.deadlock_without_plan]
        if plan_.proof and not plan_.proof.ok:
            result.risks += [f"plan proof fails: {p}" for p in plan_.proof.problems[:5]]
    if format == "json":
        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        if full_report:
            from migrator.sources import write_atomic

            write_atomic(full_report, to_markdown(result, limit=10**9).encode())
        sys.stdout.write(to_markdown(result, max_chars, full_report))
    raise typer.Exit(2 if result.errors else 0)


@app.command()
def plan(
    paths: List[str] = PATHS,
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Snapshot: kubectl get nodes,resourceslices,"
                                          "deviceclasses,pods,resourceclaims,poddisruptionbudgets -A -o yaml"),
    context: Optional[str] = typer.Option(None, "--context", help="Read the same objects live (read-only) from "
                                          "this kubeconfig context."),
    format: str = typer.Option("text", "--format", help="text, markdown or json"),
    explain: bool = typer.Option(False, "--explain", help="Print the simulation trace of the proof."),
    gitops: Optional[str] = typer.Option(None, "--gitops", help="argocd, helm or flux: how templates are made to "
                                         "apply before workloads."),
    kube_version: str = KUBE_VERSION,
    keep_node_labels: bool = KEEP_LABELS,
) -> None:
    """Plan the switch: template, node cut-over and workload order that cannot deadlock, proven by simulation.

    PATH holds today's (device-plugin) manifests; the rewrite is computed here. Exit 0 when the
    proof holds, 1 when it does not or a workload is blocked (the cluster cannot run it on DRA
    devices in any order), 2 on bad input.
    """
    import json

    from migrator.plan.build import build_plan
    from migrator.plan.output import to_json, to_markdown, to_text

    if format not in ("text", "markdown", "json"):
        raise MigratorError(f"--format {format!r}: expected text, markdown or json")
    if gitops not in (None, "argocd", "helm", "flux"):
        raise MigratorError(f"--gitops {gitops!r}: expected argocd, helm or flux")
    if (cluster is None) == (context is None):
        raise MigratorError("give exactly one of --cluster SNAPSHOT or --context NAME")
    mode = _mode(kube_version, "inline", False, keep_node_labels, None)
    if cluster is not None:
        from migrator.cluster import load_snapshot

        snap = load_snapshot(cluster)
    else:
        from migrator.live import snapshot_from_context

        snap = snapshot_from_context(context or "")
    texts, errors = _read_inputs(list(paths))
    result = build_plan(texts, snap, mode, explain)
    if gitops:
        from migrator.plan.gitops import gitops_notes

        result.notes += gitops_notes(gitops)
    if format == "json":
        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    elif format == "markdown":
        sys.stdout.write(to_markdown(result))
    else:
        sys.stdout.write(to_text(result, explain))
    for e in errors:
        sys.stderr.write(e + "\n")
    ok = result.proof is not None and result.proof.ok and not any(d.blocked for d in result.decisions)
    raise typer.Exit(2 if errors else 0 if ok else 1)


@rules_app.command("list")
def rules_list() -> None:
    """One line per rule: code, name, fix safety, summary."""
    from migrator.transforms import BY_CODE

    for rule in sorted(BY_CODE.values(), key=lambda r: r.CODE):
        sys.stdout.write(f"{rule.CODE}  {rule.NAME:<22} fix={rule.FIX.value:<5} {rule.SUMMARY}\n")


@rules_app.command("explain")
def rules_explain(code: str = typer.Argument(..., help="A rule code such as GPU001, or its name.")) -> None:
    """Print a rule's documentation."""
    from migrator.transforms import BY_CODE

    rules = BY_CODE
    rule = rules.get(code.upper()) or next((r for r in rules.values() if r.NAME == code), None)
    if rule is None:
        raise MigratorError(f"unknown rule {code!r}; see 'dra-migrate rules list'")
    sys.stdout.write((rule.__doc__ or "").strip() + "\n")


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        sys.stdout.write(f"dra-migrate {__version__}\n")
        raise typer.Exit(0)


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point; returns the exit code (tests call it directly)."""
    import gc

    # A batch run holds many small objects and creates few cycles: Python's default thresholds
    # make full collections scan the growing heap again and again (quadratic time on big repos
    # and plans; see BENCHMARKS.md). Collect rarely instead.
    gc.set_threshold(200_000, 100, 100)
    global _CONFIG
    _CONFIG = None
    try:
        from migrator.config import default_map

        rv = app(args=argv, prog_name="dra-migrate", standalone_mode=False, default_map=default_map(_config()))
        return rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except MigratorError as exc:
        sys.stderr.write(f"dra-migrate: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return int(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            return 130
        raise
