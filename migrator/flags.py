"""What the command line's two front doors share: the typer app (migrator/commands.py) and the
pre-commit hook's own short path (migrator/cli.py, which runs ``rewrite`` without importing typer).

The choice enums, the project config of this run, the Mode the flags build, and the ``rewrite``
command's body. Nothing here imports typer or, at module level, the engine: the hook runs this on
every commit, and a file without a trigger string never needs more.
"""

from __future__ import annotations

import enum
import sys
from typing import Any

from migrator.errors import MigratorError

# ---- the shared options ---------------------------------------------------------------------------
# Each concept is defined once and every command that rewrites takes it under the same name.
# Choices are enums so that completion offers them and a bad value is a usage error listing them.

def _kube_versions() -> dict[str, str]:
    from migrator.mode import KUBE_VERSIONS  # one list for the flag and the config file

    return {"v" + v.replace(".", "_"): v for v in KUBE_VERSIONS}


KubeVersion = enum.Enum("KubeVersion", _kube_versions(), type=str)  # type: ignore[misc]
KUBE_DEFAULT = KubeVersion("1.35")


# The choices are migrator/mode.py OPTIONS' (one table for the flags, the config file and KRM);
# spelled out here so that completion and type checkers see them (tests/test_mode_builder.py
# checks that they are the table's).
class Templates(str, enum.Enum):
    inline = "inline"
    file = "file"


class Sharing(str, enum.Enum):
    timeslicing = "timeslicing"
    mps = "mps"


class MigrationPath(str, enum.Enum):
    auto = "auto"
    rewrite = "rewrite"
    extended_resource = "extended-resource"


class GpuOperator(str, enum.Enum):
    # values: migrator/plan/topology.py CHOICES
    auto = "auto"
    clusterpolicy = "clusterpolicy"
    gpucluster = "gpucluster"


class GitOps(str, enum.Enum):
    argocd = "argocd"
    helm = "helm"
    flux = "flux"


class ScanFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class VerifyFormat(str, enum.Enum):
    text = "text"
    json = "json"


class PreviewFormat(str, enum.Enum):
    markdown = "markdown"
    json = "json"


class PlanFormat(str, enum.Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def _choices(e: type[enum.Enum]) -> str:
    return "[" + "|".join(str(m.value) for m in e) + "]"


_CONFIG = None  # the project's config (read once per run: reset() starts a run)


def reset() -> None:
    """A new run (tests call cli.main many times in one process): the config is read again and the
    vendor profiles are the shipped ones only."""
    global _CONFIG
    _CONFIG = None
    loaded = sys.modules.get("migrator.tables")  # not imported yet: nothing to reset (start-up stays light)
    if loaded is not None:
        loaded.reset_vendor_files()


def _config():  # type: ignore[no-untyped-def]
    global _CONFIG
    if _CONFIG is None:
        from migrator.config import load_config

        _CONFIG = load_config()
    return _CONFIG


def _mode(kube_version: KubeVersion = KUBE_DEFAULT, placement: Templates = Templates.inline,  # type: ignore[no-untyped-def]
          convert_unknown: bool = False, keep_node_labels: bool = False, sharing: Sharing | None = None,
          gitops: GitOps | None = None,
          migration_path: MigrationPath = MigrationPath.auto):
    """The Mode of the shared options (typer has checked each against its choices)."""
    from migrator.mode import build_mode
    from migrator.tables import active_vendor_files

    return build_mode({"kube_version": _value(kube_version), "placement": _value(placement),
                       "convert_unknown": convert_unknown, "keep_node_labels": keep_node_labels,
                       "sharing": _value(sharing) if sharing else None, "gitops": _value(gitops) if gitops else None,
                       "migration_path": _value(migration_path)}, namespaces=tuple(_config().namespaces),
                      vendor_files=active_vendor_files())


def _use_vendors(files: list[str] | None, config: bool = True) -> None:
    """``--vendor-file`` and the config file's ``vendor-files``: the user's profiles join the shipped
    ones for this run (checked now: a bad or duplicate one is one line naming the file and line,
    exit 2). ``config=False`` for the commands that never read the config file (codemod)."""
    from migrator.tables import use_vendor_files

    use_vendor_files((tuple(_config().vendor_files) if config else ()) + tuple(files or ()))


def _value(choice: object) -> str:
    return str(choice.value if isinstance(choice, enum.Enum) else choice)


def _defaults():  # type: ignore[no-untyped-def]
    """The config's flag defaults; none when it is broken (the commands that read it report it)."""
    from migrator.config import default_map

    try:
        return default_map(_config())
    except MigratorError:
        return {}


def _read_inputs(paths: list[str], follow_symlinks: bool = False) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, text) of every input (``-`` is stdin) and one-line errors for the unreadable ones."""
    from migrator.errors import InvalidInput
    from migrator.text.sources import discover, read

    files: list[tuple[str, str]] = []
    errors: list[str] = []
    for item in discover(paths, _config().selected, follow_symlinks):
        if isinstance(item, InvalidInput):
            errors.append(str(item))
        elif not isinstance(item, str):
            sys.stderr.write(item.message() + "\n")
        else:
            try:
                files.append((item, read(item, _stdin([item]) if item == "-" else None).text))
            except InvalidInput as exc:
                errors.append(str(exc))
    return files, errors


def _snapshot(cluster: str | None, context: str | None = None):  # type: ignore[no-untyped-def]
    """The validated cluster snapshot (a file, or live from a kubeconfig context); the objects it
    reports and leaves out (e.g. a DeviceClass whose CEL does not compile) go to stderr here."""
    if cluster is not None:
        from migrator.proof.cluster import load_snapshot

        snap = load_snapshot(cluster)
    else:
        from migrator.proof.live import snapshot_from_context

        snap = snapshot_from_context(context or "")
    for line in snap.warnings:
        sys.stderr.write(f"dra-migrate: warning: {line}\n")
    return snap


def _stdin(paths: list[str]) -> bytes | None:
    from migrator.text.sources import read_stdin

    return read_stdin() if "-" in paths else None


def run_rewrite(paths: list[str], *, write: bool = False, check: bool = False, diff: bool = False,
                kube_version: Any = KUBE_DEFAULT, templates: Any = Templates.inline, convert_unknown: bool = False,
                keep_node_labels: bool = False, sharing: Any = None, migration_path: Any = MigrationPath.auto,
                gitops: Any = None, verbose: bool = False, quiet: bool = False, jobs: int = 0,
                color: bool | None = None, follow_symlinks: bool = False, vendor_file: list[str] | None = None,
                cluster: str | None = None, context: str | None = None) -> int:
    """The ``rewrite`` command (its flags as typer passes them, or their config defaults); the exit code.

    Choices are their enum members or the same values as strings (the config file's)."""
    _use_vendors(vendor_file)
    from migrator.mode import WriteBack
    from migrator.runner import run
    from migrator.term import painter

    wb = WriteBack.from_flags(write=write, check=check, diff=diff)
    mode = _mode(kube_version, templates, convert_unknown, keep_node_labels, sharing, gitops, migration_path)
    if cluster is not None and context is not None:
        raise MigratorError("give at most one of --cluster SNAPSHOT or --context NAME")
    if cluster is not None or context is not None:
        import dataclasses

        mode = dataclasses.replace(mode, cluster=_snapshot(cluster, context))
    out, err = sys.stdout, sys.stderr
    paint_out, paint_err = painter(out, color), painter(err, color)
    if mode.gitops == "flux" and not quiet:
        from migrator.plan.gitops import gitops_notes

        err.write("".join(f"note: {n}\n" for n in gitops_notes("flux")))

    def show(result):  # type: ignore[no-untyped-def]
        if result.error:
            err.write(result.error + "\n")
            return
        if not result.findings and not result.changed and not result.extra_files and result.path != "-":
            return  # nothing to show (a file without GPUs): output.py not even imported
        from migrator.output import finding_line, shown_by_default, unified_diff

        for f in result.findings:
            if verbose or shown_by_default(f):
                err.write(finding_line(f, paint_err) + "\n")
        if result.path == "-" and wb is not WriteBack.CHECK and not diff:
            out.write(result.after or "")
            return
        if wb is WriteBack.DIFF or (wb is WriteBack.CHECK and diff):
            if result.changed:
                out.write(paint_out.diff(unified_diff(result.before or "", result.after or "", result.path)))
            for side in result.extra_files:
                new = side.mtime_ns is None  # a new side file: its diff comes from /dev/null
                out.write(paint_out.diff(unified_diff(None if new else side.before, side.text, side.path)))
        if wb is WriteBack.CHECK and (result.changed or result.extra_files):
            err.write(f"would rewrite {result.path}\n")

    report = run(list(paths), mode, wb, _stdin(list(paths)), on_result=show, selected=_config().selected,
                 progress=not quiet and sys.stderr.isatty(), jobs=jobs, follow_symlinks=follow_symlinks)
    if not quiet:
        err.write(report.summary() + "\n")
    return report.return_code


def exit_code(failed: object = False, unmet: object = False) -> int:
    """migrator.report.exit_code, imported when a command ends (start-up stays light)."""
    from migrator.report import exit_code as decide

    return decide(bool(failed), bool(unmet))
