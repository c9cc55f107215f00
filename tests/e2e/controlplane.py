"""A real control plane for the e2e tier: etcd and kube-apiserver on loopback, one per version.

The binaries come from e2e/build.py (built once into ~/.cache/dra-migrate, or KUBEBUILDER_ASSETS).
Without Go and without prebuilt binaries the tests skip with one line saying why; a build that
fails with Go present is an error, not a skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ("1.35", "1.37")

# Feature gates beyond each version's defaults: none. The judge is the cluster a user has, so a
# shape that needs a gate the version keeps off must fail here, not pass because we turned it on.
# (Defaults per version: ../shared/reference/dra-api.md §3 for 1.35, dra-2026.md §1 for 1.37:
# DRAPrioritizedList is beta-on in 1.35 and GA in 1.37; DRAExtendedResource alpha-off in 1.35, GA
# in 1.37.)
FEATURE_GATES: dict[str, dict[str, bool]] = {"1.35": {}, "1.37": {}}
# resource.k8s.io v1beta1/v1beta2 are off by default since v1 (k8s.io/kubernetes
# pkg/controlplane/instance.go betaAPIGroupVersionsDisabledByDefault); --kube-version 1.32/1.33
# shapes need them served. v1beta1 is removed in 1.38 and v1beta2 in 1.39 (dra-2026.md §1).
RUNTIME_CONFIG = "resource.k8s.io/v1beta1=true,resource.k8s.io/v1beta2=true"
READY_TIMEOUT = float(os.environ.get("DRA_MIGRATE_E2E_READY_TIMEOUT", "180"))
TOKEN = "e2e-admin-token"


def _load_build() -> Any:
    if "dra_migrate_e2e_build" in sys.modules:  # tests/test_e2e_build.py loads it too
        return sys.modules["dra_migrate_e2e_build"]
    spec = importlib.util.spec_from_file_location("dra_migrate_e2e_build", REPO / "e2e" / "build.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up while the class is built
    spec.loader.exec_module(mod)
    return mod


build = _load_build()


@dataclass(frozen=True)
class ControlPlane:
    version: str  # v1.X.Y, as the apiserver reports it
    minor: str  # "1.35"
    server: str  # https://127.0.0.1:<port>
    kubeconfig: Path
    api_client: Any  # kubernetes.client.ApiClient (kube-scheduler and the claim controller run too)
    binaries: Any  # build.Binaries
    startup_seconds: float


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_bound(port: int) -> bool:
    """A listener (or any live socket) holds the port; connections in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:
    # Linux: a component is killed when pytest dies, even by SIGKILL, so none is left behind.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Processes:
    """Started components; stop() ends each one's process group, also after a failed start."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[tuple[str, subprocess.Popen[bytes], Any]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_die_with_parent)
        self.procs.append((name, proc, log))
        return proc

    def tail(self, name: str) -> str:
        """The last error line of a component's log (klog E lines), else its last line."""
        lines = (self.logdir / f"{name}.log").read_text(errors="replace").strip().splitlines() or ["(no output)"]
        errors = [ln for ln in lines if ln.startswith(("E", "F")) or '"level":"error"' in ln or "fatal" in ln]
        return (errors or lines)[-1][:400]

    def check_alive(self) -> None:
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {self.tail(name)} "
                                   f"(log: {self.logdir / (name + '.log')})")

    def stop(self) -> None:
        for _name, proc, log in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            log.close()
        self.procs.clear()


def _wait(what: str, check: Any, procs: Processes, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            if check():
                return
        except OSError as e:  # refused, reset, TLS not up yet
            last = str(e)
        time.sleep(0.25)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s{': ' + last if last else ''}")


def _http_ok(url: str, ctx: ssl.SSLContext | None = None, token: str | None = None) -> bool:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


def _service_account_key(path: Path) -> None:
    # openssl is everywhere the tests run; Python's stdlib cannot make an RSA key.
    subprocess.run(["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True)


def say(config: pytest.Config, line: str) -> None:
    """A progress line on the terminal, past pytest's output capture (a cold build takes minutes)."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    cap = config.pluginmanager.get_plugin("capturemanager")
    if tr is None:
        return
    with cap.global_and_fixture_disabled() if cap else contextlib.nullcontext():
        tr.write_line(line)


# What this tier runs so far; kwok joins with the rollout slice (PodScheduled needs no kubelet: the
# scheduler binds, the resourceclaim controller makes claims, nothing has to become Running).
CORE = ("kube-apiserver", "etcd")
NEEDED = (*CORE, "kube-scheduler", "kube-controller-manager")
# minor -> why the scheduler and the claim controller do not run (their tests skip with it)
SCHEDULING_MISSING: dict[str, str] = {}
# The controller-manager runs only the claim controller: it creates each pod's ResourceClaim from
# its template and frees the devices when the pod is gone (dra-2026.md §5). The rest (node
# lifecycle, namespace, GC...) would act on nodes that no kubelet reports for.
CONTROLLERS = ("resourceclaim-controller",)


def binaries_for(minor: str, config: pytest.Config) -> Any:
    if not build.is_fresh(minor, NEEDED):
        say(config, f"e2e: building the Kubernetes {minor} control plane into {build.cache_root()} "
                    "(once; see BENCHMARKS.md for how long)")
    try:
        b = build.ensure(minor, need=NEEDED)
    except build.NoGo as e:
        assets = os.environ.get("KUBEBUILDER_ASSETS")
        why = (f"KUBEBUILDER_ASSETS={assets} lacks {', '.join(build.missing_assets(minor, NEEDED))} for {minor}"
               if assets else "KUBEBUILDER_ASSETS is unset")
        try:  # envtest's folder has no scheduler: the apiserver's tests still run, the scheduler's skip
            b = build.ensure(minor, need=CORE)
        except build.NoGo:
            pytest.skip(f"e2e: {e}; {why}")
        SCHEDULING_MISSING[minor] = f"e2e: {e}; {why}"
    except build.BuildError as e:
        pytest.fail(f"e2e {minor}: {e}", pytrace=False)
    if b.seconds:
        say(config, f"e2e: built Kubernetes {b.version} in {b.seconds:.0f} s into {b.folder}")
    return b


@contextlib.contextmanager
def control_plane_for(minor: str, tmp: Path, config: pytest.Config) -> Iterator[ControlPlane]:
    binaries = binaries_for(minor, config)
    if not build.shutil.which("openssl"):
        pytest.skip("e2e: openssl is not on PATH (it makes the service-account signing key)")
    from kubernetes import config as kconfig

    start = time.monotonic()
    procs = Processes(tmp)
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    sched_port, kcm_port = free_port(), free_port()
    try:
        procs.start("etcd", [
            str(binaries.paths["etcd"]), "--name=e2e", f"--data-dir={tmp / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=e2e=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level=warn"])
        _wait("etcd", lambda: _http_ok(f"http://127.0.0.1:{etcd_port}/health"), procs)

        sa_key = tmp / "sa.key"
        _service_account_key(sa_key)
        (tmp / "tokens.csv").write_text(f'{TOKEN},e2e-admin,e2e-admin,"system:masters"\n')
        gates = ",".join(f"{k}={str(v).lower()}" for k, v in FEATURE_GATES[minor].items())
        server = f"https://127.0.0.1:{api_port}"
        procs.start("kube-apiserver", [
            str(binaries.paths["kube-apiserver"]),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
            f"--cert-dir={tmp / 'certs'}",  # self-signed serving certificate, made at start
            f"--service-account-issuer={server}",
            f"--service-account-key-file={sa_key}", f"--service-account-signing-key-file={sa_key}",
            "--service-cluster-ip-range=10.0.0.0/24",
            # 1.37 refuses a loopback advertise address for the `kubernetes` Service endpoints;
            # nothing here needs that Service.
            "--endpoint-reconciler-type=none",
            "--authorization-mode=AlwaysAllow",  # loopback only; nothing else can reach it
            # As GKE and EKS run it: a pod asking for nvidia.com/gpu tolerates the nvidia.com/gpu
            # taint (kubernetes/kubernetes#55839); `verify` models it by default.
            "--enable-admission-plugins=ExtendedResourceToleration",
            # It taints every new node not-ready until the node lifecycle controller sees a kubelet
            # report Ready; no kubelet runs here (nodes are objects), so the taint would stay.
            "--disable-admission-plugins=TaintNodesByCondition",
            f"--token-auth-file={tmp / 'tokens.csv'}",
            f"--runtime-config={RUNTIME_CONFIG}",
            *([f"--feature-gates={gates}"] if gates else []),
            "--allow-privileged=true", "--profiling=false"])
        ca = tmp / "certs" / "apiserver.crt"
        _wait("kube-apiserver certificate", ca.is_file, procs)
        ctx = ssl.create_default_context(cafile=str(ca))
        _wait("kube-apiserver /readyz", lambda: _http_ok(f"{server}/readyz", ctx, TOKEN), procs)

        kubeconfig = tmp / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "e2e",
            "clusters": [{"name": "e2e", "cluster": {"server": server, "certificate-authority": str(ca)}}],
            "users": [{"name": "e2e", "user": {"token": TOKEN}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "e2e"}}],
        }, indent=1))
        client = kconfig.new_client_from_config(config_file=str(kubeconfig))
        if all(n in binaries.paths for n in NEEDED):
            insecure = ssl.create_default_context()  # their serving certificates are self-signed
            insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
            common = [f"--kubeconfig={kubeconfig}", "--bind-address=127.0.0.1", "--leader-elect=false",
                      "--kube-api-qps=200", "--kube-api-burst=400"]
            procs.start("kube-scheduler", [str(binaries.paths["kube-scheduler"]), *common,
                                           f"--secure-port={sched_port}", f"--cert-dir={tmp / 'sched-certs'}"])
            procs.start("kube-controller-manager", [
                str(binaries.paths["kube-controller-manager"]), *common, f"--secure-port={kcm_port}",
                f"--cert-dir={tmp / 'kcm-certs'}", f"--controllers={','.join(CONTROLLERS)}"])
            for name, port in (("kube-scheduler", sched_port), ("kube-controller-manager", kcm_port)):
                _wait(f"{name} /healthz", lambda port=port: _http_ok(f"https://127.0.0.1:{port}/healthz", insecure), procs)
        with urllib.request.urlopen(urllib.request.Request(
                f"{server}/version", headers={"Authorization": f"Bearer {TOKEN}"}), context=ctx) as r:
            served = json.load(r)["gitVersion"]
        assert served == binaries.version, f"the apiserver reports {served}, built {binaries.version}"
        cp = ControlPlane(version=served, minor=minor, server=server, kubeconfig=kubeconfig,
                          api_client=client, binaries=binaries, startup_seconds=time.monotonic() - start)
        say(config, f"e2e: {served} etcd, kube-apiserver"
                    f"{'' if minor in SCHEDULING_MISSING else ', kube-scheduler, claim controller'} "
                    f"ready in {cp.startup_seconds:.1f} s ({binaries.source})")
        try:
            yield cp
        finally:
            client.close()
    except RuntimeError as e:
        pytest.fail(f"e2e {minor}: {e}", pytrace=False)
    finally:
        procs.stop()
        left = [p for p in (etcd_port, peer_port, api_port, sched_port, kcm_port) if port_bound(p)]
        assert not left, f"ports still bound after teardown: {left}"


# Kinds whose objects could not be created as such (their CRD is not installed), collected by the
# tests and listed at the end of the run.
NOT_VALIDATED: dict[str, set[str]] = {}
# Objects rejected only for errors their input already has (fragments in the fixtures).
INPUT_ERRORS: dict[str, set[str]] = {}


# ---- the rollout slice: kwok and the workload controllers ----------------------------------------

# The controllers whose rollouts the plan predicts, the disruption controller (PodDisruptionBudget
# status: the eviction API refuses while it is unset) and the pod GC (pods left on a deleted node).
# They run in a second kube-controller-manager for the rollout tests only: the other modules' bare
# pods and kubelet-less nodes are theirs alone.
WORKLOAD_CONTROLLERS = ("deployment-controller", "replicaset-controller", "statefulset-controller",
                        "daemonset-controller", "job-controller", "disruption-controller",
                        "pod-garbage-collector-controller")
# kwok manages only the nodes that carry this annotation (the scheduler tests' nodes stay objects).
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")


@dataclass(frozen=True)
class KwokCluster:
    cp: ControlPlane
    startup_seconds: float


@contextlib.contextmanager
def kwok_cluster_for(cp: ControlPlane, tmp: Path, config: pytest.Config) -> Iterator[KwokCluster]:
    """kwok (it plays every annotated node's kubelet) and the workload controllers, on `cp`."""
    try:
        kwok = build.ensure(cp.minor, need=("kwok",)).paths["kwok"]
    except build.NoGo as e:
        pytest.skip(f"e2e: kwok: {e}")
    except build.BuildError as e:
        pytest.fail(f"e2e {cp.minor}: kwok: {e}", pytrace=False)
    start = time.monotonic()
    procs = Processes(tmp)
    kwok_port, kcm_port = free_port(), free_port()
    # A standalone kwok runs only the Stages its config lists (kwokctl adds defaults): ours are in
    # kwok-stages.yaml beside this file.
    conf = Path(__file__).with_name("kwok-stages.yaml")
    try:
        procs.start("kwok", [
            str(kwok), f"--kubeconfig={cp.kubeconfig}", f"--config={conf}",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION[0]}={KWOK_ANNOTATION[1]}",
            f"--server-address=127.0.0.1:{kwok_port}", "--node-ip=127.0.0.1"])
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        procs.start("kube-controller-manager-workloads", [
            str(cp.binaries.paths["kube-controller-manager"]), f"--kubeconfig={cp.kubeconfig}",
            "--bind-address=127.0.0.1", "--leader-elect=false", "--kube-api-qps=200", "--kube-api-burst=400",
            f"--secure-port={kcm_port}", f"--cert-dir={tmp / 'kcm-workloads-certs'}",
            f"--controllers={','.join(WORKLOAD_CONTROLLERS)}",
            # a kwok pod is gone as soon as it is deleted; nothing here needs a slow resync
            "--concurrent-deployment-syncs=5", "--concurrent-statefulset-syncs=5"])
        _wait("kwok /healthz", lambda: _http_ok(f"http://127.0.0.1:{kwok_port}/healthz"), procs)
        _wait("kube-controller-manager (workloads) /healthz",
              lambda: _http_ok(f"https://127.0.0.1:{kcm_port}/healthz", insecure), procs)
        k = KwokCluster(cp, time.monotonic() - start)
        say(config, f"e2e: {cp.version} kwok and the workload controllers ready in {k.startup_seconds:.1f} s")
        yield k
        procs.check_alive()  # a component that died mid-module explains the failures
    except RuntimeError as e:
        pytest.fail(f"e2e {cp.minor}: {e}", pytrace=False)
    finally:
        procs.stop()
        left = [p for p in (kwok_port, kcm_port) if port_bound(p)]
        assert not left, f"ports still bound after teardown: {left}"
