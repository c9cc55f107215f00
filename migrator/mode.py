"""Configuration of one run: what to target and how to write results back."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from migrator.errors import MigratorError


class WriteBack(enum.Enum):
    DIFF = "diff"  #: print a unified diff, touch nothing (default)
    WRITE = "write"  #: write changed files in place, atomically
    CHECK = "check"  #: print a summary; exit 1 when something would change

    @classmethod
    def from_flags(cls, *, write: bool, check: bool, diff: bool) -> WriteBack:
        if write and (check or diff):
            raise MigratorError("--write excludes --check and --diff")
        if write:
            return cls.WRITE
        if check:
            return cls.CHECK
        return cls.DIFF


#: The target versions --kube-version and the config file accept (rules/kubernetes.yaml says what
#: each serves: 1.32 v1beta1, 1.33 v1beta2, 1.34+ v1); 1.38 is the newest release the claim API
#: was checked against (shared/reference/dra-2026.md §1).
KUBE_VERSIONS = ("1.32", "1.33", "1.34", "1.35", "1.36", "1.37", "1.38")
KUBE_DEFAULT = "1.35"


def api_version_for(kube_version: str) -> str:
    """The resource.k8s.io version written for a target release (its newest)."""
    from migrator.k8s.kube import releases

    m = re.fullmatch(r"v?1\.(\d+)(?:\.\d+)?", kube_version.strip())
    if not m:
        raise MigratorError(f"--kube-version {kube_version!r}: expected a version like 1.35")
    return releases().write_version(kube_version)


@dataclass(frozen=True, slots=True)
class Mode:
    api_version: str = "resource.k8s.io/v1"
    #: the target release (--kube-version): which gates are on by default there (rules/kubernetes.yaml)
    kube_version: str = KUBE_DEFAULT
    #: "inline": each template right after its workload; "file": in <stem>.claims.yaml beside it
    placement: str = "inline"
    #: also convert pod specs found by shape in kinds missing from rules/workloads.yaml
    convert_unknown: bool = False
    #: keep translated GPU labels in the node selection as well (GPU008)
    keep_node_labels: bool = False
    #: opt-in conversion of time-slicing/MPS pods to a shared claim: "timeslicing" or "mps"
    sharing: str | None = None
    #: argocd or helm: annotate generated templates so they apply before workloads
    gitops: str | None = None
    #: KRM function mode: new templates get the path/index annotations of their workload's file
    krm: bool = False
    #: only objects in these namespaces are migrated (config file); empty: all
    namespaces: tuple[str, ...] = ()
    #: --migration-path: "auto" (keep manifests KEP-5004 serves where sure), "rewrite", "extended-resource"
    migration_path: str = "auto"
    #: (resource, DeviceClass) of the classes with extendedResourceName a cluster snapshot holds (plan)
    extended_classes: tuple[tuple[str, str], ...] = ()
    #: ``rewrite --cluster``/``--context``: the cluster.Snapshot whose nodes say what
    #: nvidia.com/gpu is where each pod may land (GPU113); None: decided from the manifest alone
    cluster: Any = field(default=None, compare=False, hash=False, repr=False)
    #: --vendor-file: the user's vendor profiles (rules/vendors/README.md), read with the shipped ones
    vendor_files: tuple[str, ...] = ()


# ---- the options, once for every front end ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Option:
    """One rewrite option as each front end names it: the command-line flag, the config file's key
    (``[tool.dra-migrate]`` / ``.dra-migrate.yaml``) and the KRM functionConfig's (None: not there)."""

    field: str  #: the Mode field
    flag: str
    config: str
    krm: str | None
    kind: str  #: "bool", "choice" or "version"
    choices: tuple[str, ...] = ()
    default: Any = None


OPTIONS: tuple[Option, ...] = (
    Option("kube_version", "--kube-version", "kube-version", "kubeVersion", "version", KUBE_VERSIONS, KUBE_DEFAULT),
    Option("placement", "--templates", "templates", None, "choice", ("inline", "file"), "inline"),
    Option("keep_node_labels", "--keep-node-labels", "keep-node-labels", "keepNodeLabels", "bool", (), False),
    Option("sharing", "--sharing", "sharing", "sharing", "choice", ("timeslicing", "mps")),
    Option("convert_unknown", "--convert-unknown", "convert-unknown", "convertUnknown", "bool", (), False),
    Option("gitops", "--gitops", "gitops", None, "choice", ("argocd", "helm", "flux")),
    #: migrator/proof/kep5004.py PATHS
    Option("migration_path", "--migration-path", "migration-path", "migrationPath", "choice",
           ("auto", "rewrite", "extended-resource"), "auto"),
)
BY_FIELD = {o.field: o for o in OPTIONS}


def build_mode(values: dict[str, Any], **extra: Any) -> Mode:
    """The one Mode builder: ``values`` by Mode field, already checked against ``OPTIONS`` by the
    front end that read them (typer, config.py, krm.py); absent ones take their defaults. The
    resource.k8s.io version written follows the target release."""
    fields = {o.field: values.get(o.field, o.default) for o in OPTIONS}
    fields["api_version"] = api_version_for(fields["kube_version"])
    return Mode(**fields, **extra)
