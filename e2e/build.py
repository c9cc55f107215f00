#!/usr/bin/env python3
"""Build, or reuse, the control-plane binaries the e2e tier runs.

    python3 e2e/build.py [1.35|1.37|all ...] [--force]

prints one line per Kubernetes version: the version and the folder holding kube-apiserver,
kube-scheduler, kube-controller-manager, etcd and kwok (the envtest layout, so the folder can itself
be used as KUBEBUILDER_ASSETS).

Everything comes from the Go module proxy; no Kubernetes source is kept in this repository.
`k8s.io/kubernetes` replaces its staging modules (`k8s.io/api`, ...) with `./staging` paths, so
`go install k8s.io/kubernetes/cmd/...@v1.X.Y` cannot work. For each release a wrapper module is
generated that requires `k8s.io/kubernetes` at that release and replaces every staging module with
its published `v0.X.Y`; the list is read from the release's own go.mod (`go mod download -json`),
never written by hand (source: ../shared/reference/dra-2026.md §5; kubernetes-sigs/scheduler-plugins'
go.mod uses the same pattern). etcd (whose server module also carries local replaces) and kwok are
built inside one release's module graph (see TOOLS), so the packages they share with it compile once.

Cache: $DRA_MIGRATE_CACHE, else $XDG_CACHE_HOME/dra-migrate, else ~/.cache/dra-migrate:
  go/mod, go/build        one GOMODCACHE and GOCACHE shared by every build
  k8s/v1.X.Y/bin          the binaries (k8s is the multi-call binary; the three names link to it)
  k8s/v1.X.Y/stamp.json   written last; a build is reused only when its stamp matches the recipe
  k8s/tools/<name>-...    etcd and kwok, shared by the versions (linked into each bin folder)
KUBEBUILDER_ASSETS (envtest's convention: a folder with kube-apiserver and etcd) is honoured for the
version its kube-apiserver reports: its kube-apiserver and etcd are used, and its kwok, kube-scheduler
and kube-controller-manager when present; only what is missing is built.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# One patch release per minor. 1.35 is the seed post's cluster; 1.37 is current (KEP-5004 GA).
KUBERNETES = {"1.35": "v1.35.4", "1.37": "v1.37.2"}
# etcd and kwok are built inside the module graph of one pinned release (its go.mod requires and
# replaces, plus the tool), so what they share with it (client-go, grpc, otel...) compiles once.
# etcd: the go.etcd.io/etcd/server/v3 that release requires (1.35.4: v3.6.5; kubeadm pins 3.6.x for
# 1.34-1.36, dra-2026.md §5); its own go.mod replaces its siblings with ../api and so on, so it
# cannot be `go install`ed. kwok v0.8.0 requires k8s.io/* v0.36.1; here it gets 1.37's v0.37.2
# (same kwok source, newer client libraries; it builds and reports v0.8.0).
TOOLS = {  # name -> (module, version or None for "as the host release requires", package, host)
    "etcd": ("go.etcd.io/etcd/server/v3", None, "go.etcd.io/etcd/server/v3", "1.35"),
    "kwok": ("sigs.k8s.io/kwok", "v0.8.0", "sigs.k8s.io/kwok/cmd/kwok", "1.37"),
}
# Bump when the way things are built changes (flags, layout); stamps from another recipe rebuild.
RECIPE = 1
BINARIES = ("kube-apiserver", "kube-scheduler", "kube-controller-manager", "etcd", "kwok")
COMPONENTS = BINARIES[:3]
HERE = Path(__file__).resolve().parent
MAIN_GO = HERE / "k8s" / "main.go"
GO_FLAGS = ["-trimpath"]  # paths out of the binaries; with -s -w below, smaller and faster links


class BuildError(Exception):
    """A build could not be done; the message is one line, the log (if any) has the rest."""


class NoGo(BuildError):
    pass


class UsageError(BuildError):
    pass


@dataclass(frozen=True)
class Binaries:
    version: str  # the Kubernetes release, v1.X.Y
    paths: dict[str, Path]  # binary name -> executable
    source: str  # "cache", "built" or "KUBEBUILDER_ASSETS"
    seconds: float  # build time spent in this call (0 when reused)

    @property
    def folder(self) -> Path:
        return self.paths["kube-apiserver"].parent


def cache_root() -> Path:
    if os.environ.get("DRA_MIGRATE_CACHE"):
        return Path(os.environ["DRA_MIGRATE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dra-migrate"


def resolve(version: str) -> str:
    """'1.35' or 'v1.35.4' or '1.35.4' -> the pinned or named release 'v1.X.Y'."""
    v = version.removeprefix("v")
    if v in KUBERNETES:
        return KUBERNETES[v]
    if re.fullmatch(r"1\.\d+\.\d+(-[0-9A-Za-z.]+)?", v):
        return "v" + v
    raise UsageError(f"unknown Kubernetes version {version!r}: use one of {', '.join(KUBERNETES)} or 1.X.Y")


def go_binary() -> str:
    go = shutil.which("go")
    if go is None:
        raise NoGo("go is not on PATH, so the control-plane binaries cannot be built")
    return go


def go_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOCACHE=str(root / "go" / "build"),
        GOMODCACHE=str(root / "go" / "mod"),
        GOTOOLCHAIN="local",  # never download a toolchain behind the user's back
        GOWORK="off",
        GOFLAGS="-buildvcs=false",
        CGO_ENABLED="0",  # static binaries; no C toolchain needed
    )
    return env


def _nice() -> None:  # the build shares the machine with the test run and everything else
    try:
        os.nice(10)
    except OSError:
        pass


def run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path | None = None) -> str:
    """Run a go command; stdout is returned; on failure the error names the command and the log."""
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, preexec_fn=_nice)
    if log is not None:
        with log.open("a") as fh:
            fh.write(f"$ {' '.join(cmd)}  (in {cwd})\n{out.stderr}")
    if out.returncode != 0:
        last = [ln for ln in out.stderr.strip().splitlines() if ln.strip()][-1:] or ["(no output)"]
        where = f"; full log: {log}" if log else ""
        raise BuildError(f"`{' '.join(cmd[:3])} ...` failed: {last[0]}{where}")
    return out.stdout


def stamp_for(*parts: object) -> str:
    h = hashlib.sha256()
    for p in (RECIPE, GO_FLAGS, *parts):
        h.update(repr(p).encode() + b"\0")
    return h.hexdigest()


def go_version(go: str, env: dict[str, str]) -> str:
    return subprocess.run([go, "env", "GOVERSION"], env=env, capture_output=True, text=True).stdout.strip()


class _Lock:
    """One builder per target at a time (two test sessions may start together)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = path.open("w")

    def __enter__(self) -> _Lock:
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _fresh(dest: Path, stamp: str, names: tuple[str, ...]) -> bool:
    try:
        recorded = json.loads((dest / "stamp.json").read_text())["stamp"]
    except (OSError, ValueError, KeyError):
        return False
    return recorded == stamp and all(os.access(dest / "bin" / n, os.X_OK) for n in names)


def _write_stamp(dest: Path, stamp: str, seconds: float, **info: object) -> None:
    tmp = dest / "stamp.json.tmp"
    tmp.write_text(json.dumps({"stamp": stamp, "seconds": round(seconds, 1), **info}, indent=1) + "\n")
    os.replace(tmp, dest / "stamp.json")


def module_info(go: str, env: dict[str, str], module: str, version: str) -> dict:
    """`go mod download -json` of one module, and its go.mod parsed by `go mod edit -json`."""
    with tempfile.TemporaryDirectory() as tmp:  # outside any module, so no go.mod is touched
        info = json.loads(run([go, "mod", "download", "-json", f"{module}@{version}"], Path(tmp), env))
        if info.get("Error"):
            raise BuildError(f"{module}@{version}: {info['Error']}")
        info["Mod"] = json.loads(run([go, "mod", "edit", "-json", info["GoMod"]], Path(tmp), env))
    return info


def wrapper_gomod(name: str, module: str, version: str, mod: dict,
                  extra: tuple[tuple[str, str], ...] = ()) -> str:
    """go.mod of a module that requires `module@version` and rewrites its local replaces.

    A replace is kept only in the main module, so the dependency's own `=> ./staging/...` (or
    `=> ../api`) lines are ignored there and its requirements (`k8s.io/api v0.0.0`) would not
    resolve; each local replace becomes `=> <same path> <published version>`. The published
    version of a k8s.io staging module is v0.X.Y for release v1.X.Y; for etcd's siblings it is the
    release itself. Replaces to other published modules are copied as they are.
    """
    sibling = "v0" + version[2:] if module == "k8s.io/kubernetes" else version
    lines = [f"module dra-migrate.local/{name}", "", f"go {mod['Go']}"]
    lines += [f"godebug {d['Key']}={d['Value']}" for d in mod.get("GoDebug") or []]
    lines += ["", "require ("] + [f"\t{m} {v}" for m, v in [(module, version), *extra]] + [")", ""]
    lines += [f"exclude {e['Path']} {e['Version']}" for e in mod.get("Exclude") or []]
    lines += ["replace ("]
    for r in mod.get("Replace") or []:
        old, new = r["Old"], r["New"]
        old_s = old["Path"] + (f" {old['Version']}" if old.get("Version") else "")
        if new.get("Version"):
            lines.append(f"\t{old_s} => {new['Path']} {new['Version']}")
        elif "FORBIDDEN" in new["Path"]:
            continue  # etcd's guard against importing its root module; nothing to build
        elif new["Path"].startswith(("./", "../")):
            lines.append(f"\t{old_s} => {old['Path']} {sibling}")
        else:
            raise BuildError(f"{module}@{version} replaces {old['Path']} with {new['Path']}, "
                             "which is not on the module proxy")
    lines += [")", ""]
    return "\n".join(lines)


def _ldflags(version: str) -> str:
    # What hack/lib/version.sh sets, so /version and --version report the release (the tool's
    # --kube-version detection reads /version). Both packages carry a copy of the version.
    major, minor = version[1:].split(".")[:2]
    xs = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        xs += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}",
               f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean"]
    return " ".join(["-s", "-w", *xs])


def _k8s_target(version: str, root: Path, go: str, env: dict[str, str]) -> tuple[Path, str]:
    return root / "k8s" / version, stamp_for("kubernetes", version, go_version(go, env), MAIN_GO.read_bytes())


def _tool_target(name: str, root: Path, go: str, env: dict[str, str]) -> tuple[Path, str]:
    module, version, package, host = TOOLS[name]
    host = KUBERNETES[host]
    folder = f"{name}-{version}-k8s-{host}" if version else f"{name}-k8s-{host}"
    return root / "k8s" / "tools" / folder, stamp_for(name, TOOLS[name], host, go_version(go, env))


def is_fresh(version: str, need: tuple[str, ...] = BINARIES) -> bool:
    """Whether ensure(version, need=need) would build nothing (also True when it cannot: no Go)."""
    version = resolve(version)
    paths = _assets(version)
    if all(n in paths for n in need) or shutil.which("go") is None:
        return True
    root = cache_root()
    go = go_binary()
    env = go_env(root)
    if any(c in need and c not in paths for c in COMPONENTS) and \
            not _fresh(*_k8s_target(version, root, go, env), COMPONENTS):
        return False
    return all(t not in need or t in paths or _fresh(*_tool_target(t, root, go, env), (t,))
               for t in ("etcd", "kwok"))


def build_kubernetes(version: str, root: Path, force: bool = False) -> tuple[Path, float]:
    """kube-apiserver, kube-scheduler, kube-controller-manager for `version` -> (bin folder, seconds)."""
    go = go_binary()
    env = go_env(root)
    dest, stamp = _k8s_target(version, root, go, env)
    with _Lock(root / "k8s" / f".{version}.lock"):
        if not force and _fresh(dest, stamp, COMPONENTS):
            return dest / "bin", 0.0
        start = time.monotonic()
        src, new = dest / "src", dest / "bin.new"
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(new, ignore_errors=True)
        src.mkdir(parents=True)
        log = dest / "build.log"
        log.write_text("")
        info = module_info(go, env, "k8s.io/kubernetes", version)
        (src / "go.mod").write_text(wrapper_gomod("k8s", "k8s.io/kubernetes", version, info["Mod"]))
        shutil.copy(MAIN_GO, src / "main.go")
        new.mkdir()
        run([go, "build", "-mod=mod", *GO_FLAGS, f"-ldflags={_ldflags(version)}",
             "-o", str(new / "k8s"), "."], src, env, log)
        for name in COMPONENTS:
            (new / name).symlink_to("k8s")
        _swap(new, dest / "bin")
        seconds = time.monotonic() - start
        _write_stamp(dest, stamp, seconds, kubernetes=version)
        return dest / "bin", seconds


def build_tool(name: str, root: Path, force: bool = False) -> tuple[Path, float]:
    """etcd or kwok -> (executable, seconds)."""
    go = go_binary()
    env = go_env(root)
    module, version, package, host = TOOLS[name]
    host = KUBERNETES[host]
    dest, stamp = _tool_target(name, root, go, env)
    with _Lock(dest.with_name(f".{dest.name}.lock")):
        if not force and _fresh(dest, stamp, (name,)):
            return dest / "bin" / name, 0.0
        start = time.monotonic()
        src, new = dest / "src", dest / "bin.new"
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(new, ignore_errors=True)
        src.mkdir(parents=True)
        new.mkdir()
        log = dest / "build.log"
        log.write_text("")
        mod = module_info(go, env, "k8s.io/kubernetes", host)["Mod"]
        if version is None:
            version = next((r["Version"] for r in mod.get("Require") or [] if r["Path"] == module), None)
            if version is None:
                raise BuildError(f"k8s.io/kubernetes {host} does not require {module}")
        gomod = wrapper_gomod(name, "k8s.io/kubernetes", host, mod, extra=((module, version),))
        (src / "go.mod").write_text(gomod)
        run([go, "build", "-mod=mod", *GO_FLAGS, "-ldflags=-s -w", "-o", str(new / name), package],
            src, env, log)
        _swap(new, dest / "bin")
        seconds = time.monotonic() - start
        _write_stamp(dest, stamp, seconds, **{name: version, "graph": f"k8s.io/kubernetes {host}"})
        return dest / "bin" / name, seconds


def _swap(new: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _assets(version: str) -> dict[str, Path]:
    """The KUBEBUILDER_ASSETS binaries for `version`'s minor, or {} when that folder serves another."""
    folder = os.environ.get("KUBEBUILDER_ASSETS")
    if not folder:
        return {}
    folder_p = Path(folder).expanduser()
    found = {n: folder_p / n for n in BINARIES if os.access(folder_p / n, os.X_OK)}
    if "kube-apiserver" not in found or "etcd" not in found:
        return {}
    try:
        out = subprocess.run([str(found["kube-apiserver"]), "--version"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    m = re.search(r"v(\d+)\.(\d+)", out)
    want = version[1:].split(".")[:2]
    return found if m and [m.group(1), m.group(2)] == want else {}


def ensure(version: str, force: bool = False, need: tuple[str, ...] = BINARIES) -> Binaries:
    """The binaries `need` names for `version` ('1.35', 'v1.37.2'...), built only when not cached."""
    version = resolve(version)
    root = cache_root()
    paths = {} if force else {n: p for n, p in _assets(version).items() if n in need}
    source = "KUBEBUILDER_ASSETS" if paths else "cache"
    seconds, folder = 0.0, None
    if any(c in need and c not in paths for c in COMPONENTS):
        folder, s = build_kubernetes(version, root, force)
        seconds += s
        for c in COMPONENTS:
            if c in need:
                paths.setdefault(c, folder / c)
    for tool in ("etcd", "kwok"):
        if tool in need and tool not in paths:
            paths[tool], s = build_tool(tool, root, force)
            seconds += s
            if folder is not None:  # keep the version folder a complete envtest-style folder
                link = folder / tool
                if not (link.is_symlink() and link.resolve() == paths[tool].resolve()):
                    link.unlink(missing_ok=True)
                    link.symlink_to(paths[tool])
                paths[tool] = link
    if seconds and source == "cache":
        source = "built"
    return Binaries(version=version, paths=paths, source=source, seconds=seconds)


def missing_assets(version: str, need: tuple[str, ...] = BINARIES) -> list[str]:
    """What KUBEBUILDER_ASSETS lacks of `need` for `version` (all of it when it serves another)."""
    have = _assets(resolve(version))
    return [n for n in need if n not in have]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="e2e/build.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("versions", nargs="*", default=["all"], help="1.35, 1.37, 1.X.Y or all (default)")
    ap.add_argument("--force", action="store_true", help="rebuild even when the cache is fresh")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) and 2
    wanted = [v for a in args.versions for v in (KUBERNETES if a == "all" else [a])]
    try:
        for v in wanted:
            b = ensure(v, args.force)
            how = f"built in {b.seconds:.0f} s" if b.seconds else f"from {b.source}"
            print(f"{b.version} {b.folder} ({how})", flush=True)
    except BuildError as e:
        print(f"e2e/build.py: {e}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
