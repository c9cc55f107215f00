"""The typer app: every command, its flags and help. Thin: flags -> Mode/WriteBack -> runner ->
Report.return_code. The entry point is migrator/cli.py's main (which runs the pre-commit hook's
``rewrite`` without importing this module).

Heavy libraries (kubernetes, libcst, the CEL engine) are imported only inside
the commands that need them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from migrator import __version__
from migrator.errors import MigratorError
from migrator.flags import (KUBE_DEFAULT, GitOps, GpuOperator, KubeVersion, MigrationPath, PlanFormat, PreviewFormat,
                            ScanFormat, Sharing, Templates, VerifyFormat, _choices, _config, _mode, _read_inputs,
                            _snapshot, _stdin, _use_vendors, _value, exit_code, run_rewrite)

# One line per code (\b: click's help formatter keeps the lines of this paragraph as they are).
EXIT_CODES = """\b
Exit codes:
  0  success, or nothing to do
  1  changes needed (rewrite --check); a finding at --fail-on (scan);
     devices differ (verify); the proof fails or a workload is blocked (plan)
  2  some inputs could not be processed (each gets a one-line error naming
     the file; the others are still processed and written), or a usage error"""


class _Help:
    """The usage line as click writes it (``PATH...``), on every typer release.

    Typer 0.27 and later write a required argument as ``{paths}...``, which reads like a choice.
    """

    def collect_usage_pieces(self, ctx):  # type: ignore[no-untyped-def]
        pieces = [self.options_metavar] if self.options_metavar else []  # type: ignore[attr-defined]
        for p in self.get_params(ctx):  # type: ignore[attr-defined]  # mixed into a click Command
            if p.param_type_name == "argument":
                name = p.metavar or (p.name or "").upper() + ("..." if p.nargs != 1 else "")
                pieces.append(name if p.required else f"[{name}]")
        if hasattr(self, "subcommand_metavar"):
            pieces.append(self.subcommand_metavar)
        return pieces


class _Command(_Help, TyperCommand):
    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        # Every command ends with typer.Exit(exit_code(...)) (migrator/report.py decides them all);
        # one that returns instead forgot its exit code: a bug, not a silent 0 (pre-commit's
        # dispatch does the same).
        super().invoke(ctx)
        raise RuntimeError(f"command {ctx.command_path!r} ended without an exit code (report.exit_code)")


class _Group(_Help, TyperGroup):
    pass


app = typer.Typer(
    name="dra-migrate",
    cls=_Group,
    help="Move GPU workloads from device-plugin GPU resources (extended resources) to DRA "
         "(resource.k8s.io ResourceClaimTemplates).\n\n" + EXIT_CODES,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # click's plain help, not typer's rich panels: those squeeze the help text into a narrow column
    # at 80 columns, and their metavars change from one typer release to the next
    rich_markup_mode=None,
)
rules_app = typer.Typer(cls=_Group, help="The rules: list them, or explain one.", no_args_is_help=True,
                        rich_markup_mode=None)
app.add_typer(rules_app, name="rules")


# ---- the shared options (their values: migrator/flags.py) ---------------------------------------

def _paths_callback(paths: list[str]) -> list[str]:
    # '-' writes the migrated stream to stdout: with files too, a YAML stream and a diff would
    # share one stdout
    if "-" in paths and len(paths) > 1:
        raise typer.BadParameter("'-' (stdin) cannot be combined with other paths")
    return paths


Paths = Annotated[list[str], typer.Argument(
    metavar="PATH...", callback=_paths_callback,
    help="Files or directories (recursive *.yaml/*.yml); '-' alone reads stdin.")]
KubeVersionOpt = Annotated[KubeVersion, typer.Option(
    "--kube-version", metavar="VERSION",
    help=f"Target Kubernetes, {list(KubeVersion)[0].value} to {list(KubeVersion)[-1].value}: 1.34 and later get "
         "resource.k8s.io/v1, 1.33 v1beta2, 1.32 v1beta1 (flat request shape).")]
TemplatesOpt = Annotated[Templates, typer.Option(
    "--templates", metavar=_choices(Templates),
    help="inline: each ResourceClaimTemplate right after its workload; file: in "
         "<name>-claim-templates.yaml beside the input.")]
ConvertUnknownOpt = Annotated[bool, typer.Option(
    "--convert-unknown",
    help="Also convert pod specs found by shape in kinds missing from rules/workloads.yaml "
         "(their controller must keep resourceClaims).")]
KeepNodeLabelsOpt = Annotated[bool, typer.Option(
    "--keep-node-labels",
    help="Keep GPU node labels in the node selection after moving them into the claim's selectors "
         "(default: remove them; GFD may not label DRA nodes).")]
SharingOpt = Annotated[Sharing | None, typer.Option(
    "--sharing", metavar=_choices(Sharing),
    help="Opt in to converting time-slicing/MPS pods into one shared ResourceClaim with the driver's "
         "sharing settings (opaque config). This changes where pods land: all replicas share one GPU on one node; "
         "the driver needs an alpha feature gate.")]
MigrationPathOpt = Annotated[MigrationPath, typer.Option(
    "--migration-path", metavar=_choices(MigrationPath),
    help="extended-resource: leave pods that a DeviceClass with extendedResourceName serves unchanged "
         "(KEP-5004: nodes switch, manifests stay) and rewrite the rest; rewrite: rewrite every pod; "
         "auto (default): leave them only when the target turns DRAExtendedResource on by default (1.36+) "
         "and the input or the cluster snapshot holds the mapping DeviceClass.")]
GitOpsOpt = Annotated[GitOps | None, typer.Option(
    "--gitops", metavar=_choices(GitOps),
    help="Make templates apply before the workloads that name them: argocd and helm annotate them "
         "(Argo CD sync wave -1, Helm pre-install and pre-upgrade hook); flux needs a Kustomization "
         "of their own.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Also list converted pods and notes.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary line.")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", metavar="N", min=0,
                                      help="Worker processes (0: one per core for big batches).")]
VendorFileOpt = Annotated[list[str] | None, typer.Option(
    "--vendor-file", metavar="FILE",
    help="A vendor profile of your own (rules/vendors/README.md): another device plugin's resources and what they "
         "become under DRA, checked with the shipped ones in rules/vendors/ (repeatable).")]
FollowSymlinksOpt = Annotated[bool, typer.Option(
    "--follow-symlinks", help="Follow symlinks (to files and directories) that point outside the given directories.")]
ClusterOpt = Annotated[str | None, typer.Option(
    "--cluster", metavar="FILE",
    help="Snapshot (kubectl get nodes,resourceslices,deviceclasses -o yaml): its nodes say what a device-plugin "
         "GPU resource is where each pod may land (whole GPU, partition, share); pods on "
         "partitioned, shared or unknown nodes are reported or requested as partitions instead of whole GPUs.")]
ContextOpt = Annotated[str | None, typer.Option(
    "--context", metavar="NAME", help="As --cluster, read live (read-only) from this kubeconfig context.")]
ColorOpt = Annotated[bool | None, typer.Option(
    "--color/--no-color", show_default=False,
    help="Colour the output (default: only on a terminal, and not when NO_COLOR is set).")]


@app.command()
def rewrite(
    paths: Paths,
    write: bool = typer.Option(False, "--write", help="Write changed files in place (atomically)."),
    check: bool = typer.Option(False, "--check", help="Print a summary; exit 1 if any file would change "
                               "(with --diff: print the diff too)."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff (the default); modify nothing."),
    kube_version: KubeVersionOpt = KUBE_DEFAULT,
    templates: TemplatesOpt = Templates.inline,
    convert_unknown: ConvertUnknownOpt = False,
    keep_node_labels: KeepNodeLabelsOpt = False,
    sharing: SharingOpt = None,
    migration_path: MigrationPathOpt = MigrationPath.auto,
    gitops: GitOpsOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    jobs: JobsOpt = 0,
    color: ColorOpt = None,
    follow_symlinks: FollowSymlinksOpt = False,
    vendor_file: VendorFileOpt = None,
    cluster: ClusterOpt = None,
    context: ContextOpt = None,
) -> None:
    """Rewrite device-plugin GPU requests into DRA claims. Default: print a diff, touch nothing.

    '-' reads a stream on stdin and writes the migrated stream to stdout (with --diff, a diff).
    """
    raise typer.Exit(run_rewrite(list(paths), write=write, check=check, diff=diff, kube_version=kube_version,
                                 templates=templates, convert_unknown=convert_unknown,
                                 keep_node_labels=keep_node_labels, sharing=sharing, migration_path=migration_path,
                                 gitops=gitops, verbose=verbose, quiet=quiet, jobs=jobs, color=color,
                                 follow_symlinks=follow_symlinks, vendor_file=vendor_file, cluster=cluster,
                                 context=context))


@app.command(short_help="List what each workload gets (converted, skipped, manual); writes nothing.")
def scan(
    paths: Paths,
    format: ScanFormat = typer.Option(ScanFormat.text, "--format", metavar=_choices(ScanFormat),
                                      help="text, json, sarif (SARIF 2.1.0) or github (workflow-command "
                                           "annotations)."),
    fail_on: str = typer.Option("manual", "--fail-on", metavar="[manual|skipped|any]",
                                help="Exit 1 when a selected finding is at least: manual (needs manual "
                                     "action), skipped (or left alone), any (any finding, converted pods "
                                     "included)."),
    select: list[str] | None = typer.Option(None, "--select", metavar="CODES",
                                               help="Only these rule codes or prefixes (GPU1 = GPU1xx; "
                                                    "comma-separated or repeated; ALL)."),
    ignore: list[str] | None = typer.Option(None, "--ignore", metavar="CODES",
                                               help="Leave out these codes or prefixes (the longer prefix "
                                                    "wins over --select; a tie ignores)."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when findings fail --fail-on "
                                   "(2 still means some input could not be processed)."),
    statistics: bool = typer.Option(False, "--statistics", help="Print a count per rule code instead of "
                                    "the findings (text or json)."),
    kube_version: KubeVersionOpt = KUBE_DEFAULT,
    convert_unknown: ConvertUnknownOpt = False,
    keep_node_labels: KeepNodeLabelsOpt = False,
    sharing: SharingOpt = None,
    migration_path: MigrationPathOpt = MigrationPath.auto,
    quiet: QuietOpt = False,
    jobs: JobsOpt = 0,
    follow_symlinks: FollowSymlinksOpt = False,
    vendor_file: VendorFileOpt = None,
) -> None:
    """List, per workload: converted, skipped (reason), needs manual action (reason). Writes nothing.

    Exit 0 when no selected finding fails --fail-on (default: manual), 1 when one does, 2 when some
    input could not be processed.
    """
    _use_vendors(vendor_file)
    from migrator import output
    from migrator.mode import WriteBack
    from migrator.report import RuleFilter, fail_statuses
    from migrator.runner import run
    from migrator.transforms import BY_CODE

    if statistics and format not in ("text", "json"):
        raise MigratorError(f"--statistics: expected --format text or json, not {_value(format)}")
    failing = fail_statuses(fail_on)
    rules = RuleFilter.parse(select, ignore, BY_CODE)
    mode = _mode(kube_version, Templates.inline, convert_unknown, keep_node_labels, sharing, None, migration_path)
    report = run(list(paths), mode, WriteBack.DIFF, _stdin(list(paths)), selected=_config().selected,
                 progress=not quiet and sys.stderr.isatty(), jobs=jobs,
                 follow_symlinks=follow_symlinks).filtered(rules)
    code = report.scan_code(fail_on, exit_zero)
    if statistics:
        sys.stdout.write(output.statistics_json(report) if format == "json" else output.statistics_text(report))
    elif format == "json":
        sys.stdout.write(output.json_report(report, code, fail_on))
    elif format == "sarif":
        sys.stdout.write(output.sarif_report(report))
    elif format == "github":
        sys.stdout.write(output.github_annotations(report, frozenset() if exit_zero else failing))
    else:
        sys.stdout.write(output.text_listing(report))
    if format == "text" and not quiet:
        sys.stderr.write(report.summary() + report.gate_summary(fail_on, exit_zero) + "\n")
    raise typer.Exit(code)


@app.command(short_help="Prove on a cluster snapshot that migrated pods get the same devices.")
def verify(
    paths: Paths,
    cluster: str | None = typer.Option(None, "--cluster", metavar="FILE",
                                          help="Snapshot: kubectl get nodes,resourceslices,deviceclasses -o yaml"),
    context: str | None = typer.Option(None, "--context", metavar="NAME", help="Read the same objects live "
                                          "(read-only) from this kubeconfig context."),
    format: VerifyFormat = typer.Option(VerifyFormat.text, "--format", metavar=_choices(VerifyFormat),
                                        help="text or json"),
    kube_version: KubeVersionOpt = KUBE_DEFAULT,
    convert_unknown: ConvertUnknownOpt = False,
    keep_node_labels: KeepNodeLabelsOpt = False,
    sharing: SharingOpt = None,
    migration_path: MigrationPathOpt = MigrationPath.auto,
    extended_resource_toleration: bool = typer.Option(
        True, "--extended-resource-toleration/--no-extended-resource-toleration",
        help="Model the ExtendedResourceToleration admission plugin (on in GKE and EKS) for the "
             "device-plugin pods."),
    quiet: QuietOpt = False,
    follow_symlinks: FollowSymlinksOpt = False,
    vendor_file: VendorFileOpt = None,
) -> None:
    """Prove on a cluster snapshot that each migrated pod can get exactly the devices it could before.

    Exit 0 when every converted workload reaches the same (non-empty) set of devices; 1 when any
    differs or has nothing to compare (no device reachable before or after: nothing is proven);
    2 on bad input.
    """
    _use_vendors(vendor_file)
    import json

    from migrator.proof.equivalence import DIFFERENT, EQUIVALENT, NOTHING, Prover, prove_text
    from migrator.errors import InvalidInput

    if (cluster is None) == (context is None):
        raise MigratorError("give exactly one of --cluster SNAPSHOT or --context NAME")
    mode = _mode(kube_version, Templates.inline, convert_unknown, keep_node_labels, sharing, None, migration_path)
    snap = _snapshot(cluster, context)
    prover = Prover(snap, extended_resource_toleration)
    results = []
    files, errors = _read_inputs(list(paths), follow_symlinks)
    for item, text in files:
        try:
            results += [(item, o) for o in prove_text(text, item, snap, mode, prover)]
        except InvalidInput as exc:
            errors.append(str(exc))
    counts = {r: sum(o.result == r for _, o in results) for r in (EQUIVALENT, DIFFERENT, NOTHING)}
    if format == "json":
        sys.stdout.write(json.dumps({"workloads": [
            {"file": f, "workload": o.workload, "podSpec": o.where, "equivalent": o.equal, "result": o.result,
             "details": o.lines} for f, o in results],
            "summary": {"checked": len(results), "equivalent": counts[EQUIVALENT], "different": counts[DIFFERENT],
                        "nothingToCompare": counts[NOTHING]},
            "errors": errors}, indent=2) + "\n")
    else:
        for f, o in results:
            mark = {EQUIVALENT: "OK  ", DIFFERENT: "DIFF", NOTHING: "NONE"}[o.result]
            sys.stdout.write(f"{mark} {f}: {o.workload} {o.where}\n")
            for line in o.lines:
                sys.stdout.write(f"       {line}\n")
        for e in errors:
            sys.stderr.write(e + "\n")
        if not quiet:
            sys.stderr.write(f"{len(results)} workload(s) checked: {counts[EQUIVALENT]} with the same devices, "
                             f"{counts[DIFFERENT]} with different devices, {counts[NOTHING]} with nothing to "
                             "compare\n")
    raise typer.Exit(exit_code(errors, counts[DIFFERENT] or counts[NOTHING]))


@app.command(short_help="Rewrite Python that builds pod specs with device-plugin GPUs.")
def codemod(
    paths: list[str] = typer.Argument(..., metavar="PATH...", help="Python files or directories (recursive *.py)."),
    write: bool = typer.Option(False, "--write", help="Rewrite the files and write <module>-claim-templates.yaml."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if a file would change (with --diff: show it)."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff (the default); modify nothing."),
    kube_version: KubeVersionOpt = KUBE_DEFAULT,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
    color: ColorOpt = None,
    follow_symlinks: FollowSymlinksOpt = False,
    vendor_file: VendorFileOpt = None,
) -> None:
    """Rewrite Python that builds pod specs with nvidia.com/gpu (kubernetes client models, plain dicts).

    Values it cannot resolve statically are reported with file:line, not guessed.
    """
    _use_vendors(vendor_file, config=False)
    from migrator.integrations.codemod import run_codemod, side_file
    from migrator.errors import InvalidInput
    from migrator.mode import WriteBack
    from migrator.mode import api_version_for
    from migrator.output import finding_line, unified_diff
    from migrator.text.sources import STDIN, NotFollowed, Write, discover, encode, read, write_together
    from migrator.term import painter

    wb = WriteBack.from_flags(write=write, check=check, diff=diff)
    api_version = api_version_for(_value(kube_version))
    paint_out, paint_err = painter(sys.stdout, color), painter(sys.stderr, color)
    seen = 0
    failed = changed = 0
    # the same inputs as the YAML commands: regular files, bounded reads, no symlink out of a
    # given directory (reported), only *.py under a directory
    for item in discover(paths, follow_symlinks=follow_symlinks, suffixes=(".py",)):
        if isinstance(item, NotFollowed):
            sys.stderr.write(item.message() + "\n")
            continue
        try:
            if isinstance(item, InvalidInput):
                raise item
            if item == STDIN:
                raise InvalidInput("<stdin>", None, "codemod rewrites files, not stdin")
            f = item
            src = read(f)
            seen += 1
            res = run_codemod(src.text, f, api_version)
            for finding in res.findings:
                if verbose or finding.status.value != "converted":
                    sys.stderr.write(finding_line(finding, paint_err) + "\n")
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
            sys.stdout.write(paint_out.diff(unified_diff(res.before, res.after, f)))
            sys.stdout.write(paint_out.diff(unified_diff(side.before, side.after, side.path)))
        if wb is WriteBack.CHECK:
            sys.stderr.write(f"would rewrite {f}\n")
    if not quiet:
        verb = "rewritten" if wb is WriteBack.WRITE else "would be rewritten"
        sys.stderr.write(f"{changed} file(s) {verb}, {max(seen - changed - failed, 0)} unchanged"
                         + (f", {failed} could not be processed" if failed else "") + "\n")
    raise typer.Exit(exit_code(failed, wb is WriteBack.CHECK and changed))


@app.command(short_help="KRM function: a ResourceList on stdin, the migrated one on stdout.")
def krm() -> None:
    """KRM function: a config.kubernetes.io/v1 ResourceList on stdin, the migrated one on stdout.

    Use with kustomize (--enable-alpha-plugins --enable-exec) or kpt (fn eval --exec).
    """
    from migrator.errors import InvalidInput
    from migrator.integrations.krm import Problem, failure, run_krm
    from migrator.text.sources import decode, read_stdin

    # The specification reserves stdout for a ResourceList and reads a non-zero exit as failure:
    # every input we cannot process becomes error results in one, exit 1, and a line on stderr.
    try:
        text, _ = decode(read_stdin(), "<stdin>")
        res = run_krm(text)
        out, code, errors = res.text, res.code, list(res.errors)
    except MigratorError as exc:
        p = Problem(exc.message, line=exc.line) if isinstance(exc, InvalidInput) else Problem(str(exc))
        out, code, errors = failure([p]), exit_code(unmet=True), [p.line_text]
    except Exception as exc:  # a bug of ours: still a ResourceList, so the orchestrator can say why
        p = Problem(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
        out, code, errors = failure([p]), exit_code(unmet=True), [p.line_text]
    for e in errors:
        sys.stderr.write(f"dra-migrate krm: {e}\n")
    sys.stdout.write(out)
    raise typer.Exit(code)


@app.command("post-render", short_help="Helm post-renderer: rendered stream in, migrated stream out.")
def post_render(
    kube_version: KubeVersionOpt = KUBE_DEFAULT,
    convert_unknown: ConvertUnknownOpt = False,
    keep_node_labels: KeepNodeLabelsOpt = False,
    sharing: SharingOpt = None,
    migration_path: MigrationPathOpt = MigrationPath.auto,
    gitops: GitOpsOpt = None,
    vendor_file: VendorFileOpt = None,
) -> None:
    """Helm post-renderer: the rendered stream on stdin, the migrated stream (with templates) on stdout.

    \b
    Helm 3: helm install ... --post-renderer dra-migrate \\
                --post-renderer-args post-render
    Helm 4: install the plugin in helm-plugin/, then
            helm install ... --post-renderer dra-migrate

    Templates go right before the first workload that names them (Helm 3 creates them first);
    under Helm 4 add --gitops helm. What it did and found is appended to
    ~/.cache/dra-migrate/post-render.log (Helm hides a post-renderer's stderr).
    Exit 2 (and no output) when the stream cannot be processed.
    """
    from migrator.errors import InvalidInput
    from migrator.integrations.helm import error_line, render, summary, write_log
    from migrator.text.sources import decode, read_stdin

    text = ""
    try:
        _use_vendors(vendor_file)
        mode = _mode(kube_version, Templates.inline, convert_unknown, keep_node_labels, sharing, gitops, migration_path)
        text, _ = decode(read_stdin(), "<stdin>")
        rendered = render(text, mode)
    except InvalidInput as exc:
        line = error_line(text, exc)
        write_log([f"error: {line}"])
        raise MigratorError(line) from None
    except MigratorError as exc:
        write_log([f"error: {exc}"])
        raise
    lines = summary(rendered, gitops)
    write_log(lines)
    for line in lines[1:]:
        sys.stderr.write(line + "\n")
    sys.stdout.write(rendered.text)
    raise typer.Exit(exit_code())


@app.command(short_help="Describe the migration for a pull request comment.")
def preview(
    paths: Paths,
    format: PreviewFormat = typer.Option(PreviewFormat.markdown, "--format", metavar=_choices(PreviewFormat),
                                         help="markdown (a PR comment) or json"),
    cluster: str | None = typer.Option(None, "--cluster", metavar="FILE",
                                          help="Snapshot: adds the planner's rollout risks."),
    full_report: str | None = typer.Option(None, "--full-report", metavar="FILE",
                                              help="Also write the untruncated markdown here (named in the comment)."),
    full_report_name: str | None = typer.Option(
        None, "--full-report-name", metavar="NAME",
        help="How the comment names the full report when it is cut (markdown; default: the --full-report "
             "path, else the job's step summary)."),
    max_chars: int = typer.Option(65_536, "--max-chars", metavar="N", help="Size limit of the comment (GitHub: "
                                  "65,536; at least 1,000)."),
    kube_version: KubeVersionOpt = KUBE_DEFAULT,
    convert_unknown: ConvertUnknownOpt = False,
    keep_node_labels: KeepNodeLabelsOpt = False,
    sharing: SharingOpt = None,
    migration_path: MigrationPathOpt = MigrationPath.auto,
    gitops: GitOpsOpt = None,
    follow_symlinks: FollowSymlinksOpt = False,
    vendor_file: VendorFileOpt = None,
) -> None:
    """Describe the migration for a pull request: summary, per-workload semantic and unified diffs.

    Writes nothing but --full-report. Exit 0, or 2 when some inputs could not be processed.
    """
    _use_vendors(vendor_file)
    import dataclasses
    import json

    from migrator.markdown import code
    from migrator.integrations.preview import MIN_CHARS, build_preview, to_json, to_markdown

    if max_chars < MIN_CHARS:
        raise MigratorError(f"--max-chars {max_chars}: the summary and the truncation note need at least "
                            f"{MIN_CHARS:,} characters")
    mode = _mode(kube_version, Templates.inline, convert_unknown, keep_node_labels, sharing, gitops, migration_path)
    files, errors = _read_inputs(list(paths), follow_symlinks)
    result = build_preview(files, mode)
    result = dataclasses.replace(result, errors=tuple(errors) + result.errors)
    if cluster:
        from migrator.plan.build import build_plan

        plan_ = build_plan(files, _snapshot(cluster), mode)
        risks = [f"{d.workload.key}: stalls without a plan ({d.reason}); run `dra-migrate plan`"
                 for d in plan_.decisions if d.deadlock_without_plan]
        if plan_.proof and not plan_.proof.ok:
            risks += [f"plan proof fails: {p}" for p in plan_.proof.problems[:5]]
        result = dataclasses.replace(result, risks=tuple(risks))
    if format == "json":
        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        if full_report:
            from migrator.text.sources import write_atomic

            write_atomic(full_report, to_markdown(result, limit=None).encode())
        name = full_report_name or (code(full_report) if full_report else None)
        sys.stdout.write(to_markdown(result, max_chars, name))
    raise typer.Exit(exit_code(result.errors))


@app.command(short_help="Plan a switch-over that cannot deadlock, proven by simulation.")
def plan(
    paths: Paths,
    cluster: str | None = typer.Option(None, "--cluster", metavar="FILE",
                                          help="Snapshot: the output of kubectl get -A -o yaml for nodes, resourceslices, "
                                               "deviceclasses, pods, resourceclaims and poddisruptionbudgets."),
    context: str | None = typer.Option(None, "--context", metavar="NAME", help="Read the same objects live (read-only) from "
                                          "this kubeconfig context."),
    format: PlanFormat = typer.Option(PlanFormat.text, "--format", metavar=_choices(PlanFormat),
                                      help="text, markdown or json"),
    explain: bool = typer.Option(False, "--explain", help="Print the simulation trace of the proof."),
    gpu_operator: GpuOperator = typer.Option(
        GpuOperator.auto, "--gpu-operator", metavar=_choices(GpuOperator),
        help="The GPU Operator install the nodes end on: auto (the one the snapshot shows), clusterpolicy (the DRA "
             "driver chart beside the ClusterPolicy, nodes switched one at a time) or gpucluster (GPU Operator 26.7's "
             "GPUCluster: one cluster-wide cut-over)."),
    gitops: GitOpsOpt = None,
    kube_version: KubeVersionOpt = KUBE_DEFAULT,
    convert_unknown: ConvertUnknownOpt = False,
    keep_node_labels: KeepNodeLabelsOpt = False,
    sharing: SharingOpt = None,
    migration_path: MigrationPathOpt = MigrationPath.auto,
    follow_symlinks: FollowSymlinksOpt = False,
    vendor_file: VendorFileOpt = None,
    jobs: JobsOpt = 0,
) -> None:
    """Plan the switch: template, node cut-over and workload order that cannot deadlock, proven by simulation.

    PATH holds today's (device-plugin) manifests; the rewrite is computed here. Exit 0 when the
    proof holds, 1 when it does not or a workload is blocked (the cluster cannot run it on DRA
    devices in any order), 2 on bad input.
    """
    _use_vendors(vendor_file)
    import json

    from migrator.plan.build import build_plan
    from migrator.plan.output import to_json, to_markdown, to_text

    if (cluster is None) == (context is None):
        raise MigratorError("give exactly one of --cluster SNAPSHOT or --context NAME")
    # the same Mode as rewrite (flags, then the config file's defaults): the runbook applies the
    # manifests rewrite writes. Where templates go does not change what is planned: the runbook
    # applies them from the side file `rewrite --templates file` writes.
    mode = _mode(kube_version, Templates.inline, convert_unknown, keep_node_labels, sharing, gitops, migration_path)
    snap = _snapshot(cluster, context)
    texts, errors = _read_inputs(list(paths), follow_symlinks)
    result = build_plan(texts, snap, mode, explain, gpu_operator=gpu_operator.value, jobs=jobs)
    errors += result.errors  # inputs that could not be read as manifests (the others are planned)
    if gitops:
        from migrator.plan.gitops import gitops_notes

        result.notes += gitops_notes(_value(gitops))
    if format == "json":
        sys.stdout.write(json.dumps(to_json(result, explain), indent=2) + "\n")
    elif format == "markdown":
        sys.stdout.write(to_markdown(result, explain))
    else:
        sys.stdout.write(to_text(result, explain))
    for e in errors:
        sys.stderr.write(e + "\n")
    ok = result.proof is not None and result.proof.ok and not any(d.blocked for d in result.decisions)
    raise typer.Exit(exit_code(errors, not ok))


@rules_app.command("list")
def rules_list() -> None:
    """One line per rule: code, name, fix safety, summary."""
    from migrator.transforms import BY_CODE

    for rule in sorted(BY_CODE.values(), key=lambda r: r.CODE):
        sys.stdout.write(f"{rule.CODE}  {rule.NAME:<22} fix={rule.FIX.value:<5} {rule.SUMMARY}\n")
    raise typer.Exit(exit_code())


@rules_app.command("explain")
def rules_explain(code: str = typer.Argument(..., metavar="CODE", help="A rule code such as GPU001, or its name.")) -> None:
    """Print a rule's documentation."""
    from migrator.transforms import BY_CODE

    rules = BY_CODE
    rule = rules.get(code.upper()) or next((r for r in rules.values() if r.NAME == code), None)
    if rule is None:
        raise MigratorError(f"unknown rule {code!r}; see 'dra-migrate rules list'")
    sys.stdout.write((rule.__doc__ or "").strip() + "\n")
    raise typer.Exit(exit_code())


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        sys.stdout.write(f"dra-migrate {__version__}\n")
        raise typer.Exit(exit_code())


def _finish(*typers: typer.Typer) -> None:
    for t in typers:
        for info in t.registered_commands:
            if info.cls in (None, TyperCommand):  # typer fills in its default at decoration
                info.cls = _Command


_finish(app, rules_app)
