"""plan --context: the real kubernetes client against recorded API responses served on loopback."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from migrator.cli import main
from migrator.errors import MigratorError
from migrator.proof.live import snapshot_from_context

RECORDED = Path(__file__).parent / "live"


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path = self.path.split("?")[0]
        _Handler.seen.append(("GET", path))
        f = RECORDED / (path.strip("/").replace("/", "-") + ".json")
        if f.name in getattr(_Handler, "missing", ()):
            body = b'{"kind": "Status", "code": 404}'
            self.send_response(404)
        elif f.name in getattr(_Handler, "override", {}):
            body = _Handler.override[f.name]
            self.send_response(200)
        elif not f.is_file():
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                               "reason": "NotFound"}).encode()
            self.send_response(404)
        else:
            body = f.read_bytes()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - anything but GET is a test failure
        _Handler.seen.append(("POST", self.path))
        self.send_response(405)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: recorded
  cluster: {{server: "http://{host}:{port}"}}
users:
- name: reader
  user: {{token: "read-only"}}
contexts:
- name: recorded
  context: {{cluster: recorded, user: reader}}
current-context: recorded
""")
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    _Handler.seen = []
    yield cfg
    server.shutdown()


def test_snapshot_from_recorded_api(kubeconfig) -> None:
    snap = snapshot_from_context("recorded")
    assert set(snap.nodes) == {"dp-1", "dra-1"}
    assert snap.nodes["dp-1"].allocatable["nvidia.com/gpu"] == "1"
    assert [d.name for d in snap.nodes["dra-1"].devices] == ["gpu-0"]
    assert snap.device_classes["gpu.nvidia.com"].extended_resource_name == "nvidia.com/gpu"
    assert [p.name for p in snap.pods] == ["web-5d4-abcde"]
    assert snap.pods[0].gpus == {"nvidia.com/gpu": 1} and snap.pods[0].owner == ("ReplicaSet", "web-5d4")
    assert all(method == "GET" for method, _ in _Handler.seen)  # read-only


def test_plan_with_context(kubeconfig, tmp_path: Path, capsys) -> None:
    wl = tmp_path / "web.yaml"
    wl.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ml}\nspec:\n"
                  "  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
                  "    spec:\n      containers:\n      - {name: c, image: x, resources: {limits: {nvidia.com/gpu: 1}}}\n")
    assert main(["plan", str(wl), "--context", "recorded", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["workloads"][0]["deadlock_without_plan"] is False  # one free DRA GPU: its own strategy works
    assert data["kep5004"] and "KEP-5004" in data["kep5004"][0]


def test_unreachable_context_is_one_line(tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:9'}\n"
                   "users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: gone\n  context: {cluster: c, user: u}\n"
                   "current-context: gone\n")
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    with pytest.raises(MigratorError):
        snapshot_from_context("gone")
    with pytest.raises(MigratorError):
        snapshot_from_context("no-such-context")


# --- kubeconfigs that are not usable: one line naming the file (and line), exit 2, no traceback ----

GOOD = {"apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ml"}}],
        "current-context": "x"}
#: field path in GOOD -> the types it may have
KUBECONFIG_FIELDS = {
    ("clusters",): list, ("clusters", 0): dict, ("clusters", 0, "name"): str, ("clusters", 0, "cluster"): dict,
    ("clusters", 0, "cluster", "server"): str, ("clusters", 0, "cluster", "insecure-skip-tls-verify"): bool,
    ("users",): list, ("users", 0): dict, ("users", 0, "name"): str, ("users", 0, "user"): dict,
    ("users", 0, "user", "token"): str,
    ("contexts",): list, ("contexts", 0): dict, ("contexts", 0, "name"): str, ("contexts", 0, "context"): dict,
    ("contexts", 0, "context", "cluster"): str, ("contexts", 0, "context", "user"): str,
    ("contexts", 0, "context", "namespace"): str,
}
VALUES = ["x", 7, 1.5, True, ["x"], {"a": "b"}]
#: fields the client reads that GOOD does not set: inserted with the wrong types
EXTRA = {("users", 0, "user", "exec"): {"command": "gke-gcloud-auth-plugin", "args": ["a"], "apiVersion": "v1"},
         ("users", 0, "user", "client-certificate-data"): "Y2VydA==",
         ("users", 0, "user", "auth-provider"): {"name": "oidc", "config": {"id-token": "t"}}}


def _with(cfg: dict, path: tuple, value: object) -> dict:
    import copy

    out = copy.deepcopy(cfg)
    cur = out
    for step in path[:-1]:
        cur = cur[step]
    cur[path[-1]] = value
    return out


def _bad_kubeconfigs() -> list[tuple[str, str | bytes]]:
    import yaml

    cases: list[tuple[str, str | bytes]] = []
    for path, want in KUBECONFIG_FIELDS.items():
        for v in VALUES:
            if isinstance(v, want) and not (want is not bool and isinstance(v, bool)):
                continue
            cases.append((f"{path}={v!r}", yaml.safe_dump(_with(GOOD, path, v))))
    for path, value in EXTRA.items():
        for v in VALUES:
            if type(v) is type(value):
                continue
            cases.append((f"{path}={v!r}", yaml.safe_dump(_with(GOOD, path, v))))
        if isinstance(value, dict):
            for key, sub in value.items():
                for v in VALUES:
                    if type(v) is not type(sub):
                        bad = _with(GOOD, path, dict(value, **{key: v}))
                        cases.append((f"{path}.{key}={v!r}", yaml.safe_dump(bad)))
    cases += [
        ("invalid YAML", "clusters: [\n"), ("invalid YAML (tab)", "clusters:\n\t- name: c\n"),
        ("not a mapping", "- a\n- b\n"), ("a scalar", "kubeconfig\n"), ("two documents", "a: 1\n---\nb: 2\n"),
        ("duplicate key", yaml.safe_dump(GOOD) + "clusters: []\n"), ("non-UTF-8", b"clusters: [\xff]\n"),
        ("alias bomb", "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(6))),
        ("missing context", yaml.safe_dump(dict(GOOD, contexts=[]))),
        ("context names no cluster", yaml.safe_dump(_with(GOOD, ("contexts", 0, "context"), {"user": "u"}))),
        ("context names a missing cluster", yaml.safe_dump(_with(GOOD, ("contexts", 0, "context", "cluster"), "gone"))),
        ("context names a missing user", yaml.safe_dump(_with(GOOD, ("contexts", 0, "context", "user"), "gone"))),
        ("cluster without server", yaml.safe_dump(_with(GOOD, ("clusters", 0, "cluster"), {}))),
        ("entry without name", yaml.safe_dump(_with(GOOD, ("users", 0), {"user": {}}))),
        ("exec without command", yaml.safe_dump(_with(GOOD, ("users", 0, "user", "exec"), {"apiVersion": "v1"}))),
    ]
    return cases


@pytest.mark.parametrize("case,content", _bad_kubeconfigs(), ids=[c for c, _ in _bad_kubeconfigs()])
def test_bad_kubeconfig_is_one_line_exit_2(case: str, content: str | bytes, tmp_path: Path, monkeypatch,
                                           capsys) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_bytes(content if isinstance(content, bytes) else content.encode())
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    wl = tmp_path / "wl.yaml"
    wl.write_text("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n")
    assert main(["plan", str(wl), "--context", "x"]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("dra-migrate: ") and (str(cfg) in lines[0] or "--context 'x'" in lines[0]), lines
    assert out == ""


def test_kubeconfig_special_files(tmp_path: Path, monkeypatch, capsys) -> None:
    import os

    wl = tmp_path / "wl.yaml"
    wl.write_text("kind: Pod\nmetadata: {name: p}\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, words in ((fifo, "not a regular file"), (tmp_path, "not a regular file"),
                        (tmp_path / "missing", "no kubeconfig file")):
        monkeypatch.setenv("KUBECONFIG", str(path))
        assert main(["plan", str(wl), "--context", "x"]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and words in err, err


def test_kubeconfig_list_is_merged_first_wins(kubeconfig, tmp_path: Path, monkeypatch) -> None:
    """$KUBECONFIG with several files: a missing one is skipped, the first to name a context wins."""
    import os

    other = tmp_path / "other"
    other.write_text("apiVersion: v1\nkind: Config\ncontexts:\n- name: recorded\n  context: {cluster: nowhere}\n")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), str(kubeconfig), str(other)]))
    assert set(snapshot_from_context("recorded").nodes) == {"dp-1", "dra-1"}


def test_malformed_api_answers_are_one_line(kubeconfig, tmp_path: Path, monkeypatch, capsys) -> None:
    """Objects of the wrong shape from the API server go through the snapshot reader."""
    wl = tmp_path / "wl.yaml"
    wl.write_text("kind: Pod\nmetadata: {name: p}\n")
    answers = {
        "api-v1-nodes.json": (b'{"kind": "NodeList", "items": [{"metadata": {"name": "n", "labels": ["x"]}}]}',
                              "--context recorded: Node n: metadata.labels: expected an object, got list"),
        "api-v1-pods.json": (b'{"kind": "PodList", "items": 5}', "not a list of objects"),
        "apis-resource.k8s.io-v1-resourceslices.json": (b"<html>", "not JSON"),
        "apis-policy-v1-poddisruptionbudgets.json": (
            b'{"items": [{"metadata": {"name": "p"}, "spec": {"minAvailable": "two"}}]}',
            "PodDisruptionBudget p: spec.minAvailable: expected an integer or a percentage"),
    }
    for name, (body, words) in answers.items():
        original = (RECORDED / name).read_bytes()
        monkeypatch.setattr(_Handler, "override", {name: body}, raising=False)
        assert main(["plan", str(wl), "--context", "recorded"]) == 2, name
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and words in err, err
        assert (RECORDED / name).read_bytes() == original


@pytest.mark.parametrize("name", ["api-v1-nodes.json", "api-v1-pods.json", "apis-policy-v1-poddisruptionbudgets.json"])
@pytest.mark.parametrize("command", ["plan", "verify"])
def test_a_server_without_the_core_api_is_not_an_empty_cluster(kubeconfig, monkeypatch, capsys, name: str,
                                                                command: str) -> None:
    """Every Kubernetes API server serves nodes, pods and PDBs: a 404 there is a wrong server, not a
    cluster with none of them (which would plan or prove over nothing)."""
    from migrator.cli import main

    monkeypatch.setattr(_Handler, "missing", {name}, raising=False)
    examples = str(Path(__file__).parent.parent / "examples")
    assert main([command, examples, "--context", "recorded"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not a Kubernetes API server" in err, err
