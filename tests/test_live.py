"""plan --context: the real kubernetes client against recorded API responses served on loopback."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from migrator.cli import main
from migrator.errors import MigratorError
from migrator.live import snapshot_from_context

RECORDED = Path(__file__).parent / "live"


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path = self.path.split("?")[0]
        _Handler.seen.append(("GET", path))
        f = RECORDED / (path.strip("/").replace("/", "-") + ".json")
        if not f.is_file():
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
