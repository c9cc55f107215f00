"""Read a cluster snapshot live, read-only, through the kubernetes Python client.

Only GET requests on list endpoints: nodes, ResourceSlices, DeviceClasses, pods, ResourceClaims
and PodDisruptionBudgets (what ``plan --cluster`` reads from a file). The newest
resource.k8s.io version the server serves is used (v1, then v1beta2, v1beta1).

The kubeconfig files are checked here before the client reads them (regular files only, bounded,
UTF-8, YAML without alias bombs, the shape of a ``kind: Config``, the context and what it names):
the client would block on a FIFO, expand an alias bomb, or raise a traceback on a wrong type.
The answers are read by the same validating reader as a snapshot file.
"""

from __future__ import annotations

import dataclasses

import os
import stat
from typing import Any

from migrator.proof.cluster import Snapshot, snapshot_from_objects
from migrator.errors import InvalidInput, MigratorError
from migrator.tables import gpu_operator

CORE = [("/api/v1/nodes", "Node"), ("/api/v1/pods", "Pod"),
        ("/apis/policy/v1/poddisruptionbudgets", "PodDisruptionBudget")]
RESOURCE = [("resourceslices", "ResourceSlice"), ("deviceclasses", "DeviceClass"),
            ("resourceclaims", "ResourceClaim"), ("resourceclaimtemplates", "ResourceClaimTemplate")]
RESOURCE_VERSIONS = ("v1", "v1beta2", "v1beta1")
#: The sections of a kubeconfig: list of named entries -> the key of each entry's body, and the
#: types of the fields the client reads (k8s.io/client-go tools/clientcmd/api/v1 types.go).
_SECTIONS: dict[str, tuple[str, dict[str, type]]] = {
    "clusters": ("cluster", {"server": str, "certificate-authority": str, "certificate-authority-data": str,
                             "proxy-url": str, "tls-server-name": str, "insecure-skip-tls-verify": bool}),
    "users": ("user", {"token": str, "tokenFile": str, "username": str, "password": str,
                       "client-certificate": str, "client-certificate-data": str, "client-key": str,
                       "client-key-data": str, "as": str, "as-groups": list, "exec": dict,
                       "auth-provider": dict}),
    "contexts": ("context", {"cluster": str, "user": str, "namespace": str}),
}
_EXEC: dict[str, type] = {"command": str, "apiVersion": str, "args": list, "env": list}


def _get(api: Any, path: str) -> dict[str, Any] | None:
    """One GET through the client's own auth and TLS handling; None for 404."""
    import json

    method, url, headers, _, _ = api.param_serialize(
        method="GET", resource_path=path, header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"])
    resp = api.call_api(method, url, header_params=headers)
    resp.read()
    if resp.status == 404:
        return None
    if resp.status >= 300:
        raise MigratorError(f"{path}: the API server answered {resp.status} {resp.reason}")
    try:
        data = json.loads(resp.data)
    except ValueError:
        raise MigratorError(f"{path}: the API server's answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("items") or [], list):
        raise MigratorError(f"{path}: the API server's answer is not a list of objects")
    return data


def kubeconfig_paths() -> list[str]:
    """The kubeconfig files the client merges ($KUBECONFIG, ':'-separated, or ~/.kube/config)."""
    env = os.environ.get("KUBECONFIG")
    paths = [os.path.expanduser(p) for p in env.split(os.pathsep) if p] if env else \
        [os.path.expanduser("~/.kube/config")]
    return paths


class _Config:
    """One kubeconfig file: errors name it, the line and the field."""

    def __init__(self, path: str, root: Any, data: Any) -> None:
        self.path, self.root, self.data = path, root, data

    def fail(self, where: tuple[Any, ...], message: str) -> InvalidInput:
        from migrator.proof.cluster import _fmt, _line_of

        return InvalidInput(self.path, _line_of(self.root, where), f"kubeconfig: {_fmt(where)}: {message}")

    def typed(self, where: tuple[Any, ...], value: Any, want: type) -> None:
        from migrator.proof.cluster import _WANT, _tname

        if value is not None and (not isinstance(value, want) or (want is not bool and isinstance(value, bool))):
            raise self.fail(where, f"expected {_WANT[want]}, got {_tname(value)}")

    def entries(self, section: str) -> dict[str, dict[str, Any]]:
        """``name -> body`` of one section (clusters, users, contexts), every read field type-checked."""
        body_key, fields = _SECTIONS[section]
        value = self.data.get(section)
        self.typed((section,), value, list)
        out: dict[str, dict[str, Any]] = {}
        for i, item in enumerate(value or []):
            here: tuple[Any, ...] = (section, i)
            self.typed(here, item, dict)
            if item is None:
                continue
            name = item.get("name")
            self.typed(here + ("name",), name, str)
            if not name:
                raise self.fail(here + ("name",), "missing field")
            body = item.get(body_key)
            self.typed(here + (body_key,), body, dict)
            for key, want in fields.items():
                self.typed(here + (body_key, key), (body or {}).get(key), want)
            self._nested(here + (body_key,), body or {})
            out.setdefault(name, body or {})
        return out

    def _nested(self, here: tuple[Any, ...], body: dict[str, Any]) -> None:
        for i, group in enumerate(body.get("as-groups") or []):
            self.typed(here + ("as-groups", i), group, str)
        ex = body.get("exec")
        if ex is not None:
            for key, want in _EXEC.items():
                self.typed(here + ("exec", key), ex.get(key), want)
            if not ex.get("command"):
                raise self.fail(here + ("exec", "command"), "missing field")
            for i, arg in enumerate(ex.get("args") or []):
                self.typed(here + ("exec", "args", i), arg, str)
            for i, env in enumerate(ex.get("env") or []):
                self.typed(here + ("exec", "env", i), env, dict)
                for key in ("name", "value"):
                    self.typed(here + ("exec", "env", i, key), (env or {}).get(key), str)
        ap = body.get("auth-provider")
        if ap is not None:
            self.typed(here + ("auth-provider", "name"), ap.get("name"), str)
            self.typed(here + ("auth-provider", "config"), ap.get("config"), dict)
            for key, v in (ap.get("config") or {}).items():
                self.typed(here + ("auth-provider", "config", key), v, str)


def check_kubeconfig(context: str) -> str:
    """Validate the kubeconfig files and the context; returns the paths for the client (':'-joined)."""
    from migrator.text.documents import parse, to_python
    from migrator.text.sources import read

    paths = kubeconfig_paths()
    merged: dict[str, dict[str, tuple[dict[str, Any], str]]] = {s: {} for s in _SECTIONS}
    found: list[str] = []
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue  # the client skips missing files in $KUBECONFIG too
        except OSError as exc:
            raise InvalidInput(path, None, f"cannot read kubeconfig: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):  # the client would block on a FIFO
            raise InvalidInput(path, None, "cannot read kubeconfig: not a regular file")
        docs = [d for d in parse(read(path).text, path) if d.root is not None]
        data = to_python(docs[0].root) if len(docs) == 1 else None
        if not isinstance(data, dict):
            raise InvalidInput(path, None, "kubeconfig: expected one YAML mapping (kind: Config)")
        cfg = _Config(path, docs[0].root, data)
        found.append(path)
        for section in _SECTIONS:
            for name, body in cfg.entries(section).items():
                merged[section].setdefault(name, (body, path))  # the first file to name it wins
    if not found:
        raise MigratorError(f"--context {context!r}: no kubeconfig file ({os.pathsep.join(paths)})")
    files = os.pathsep.join(found)
    ctx = merged["contexts"].get(context)
    if ctx is None:
        known = ", ".join(sorted(merged["contexts"])) or "none"
        raise MigratorError(f"--context {context!r}: no such context in {files} (contexts: {known})")
    body, where = ctx
    if not body.get("cluster"):
        raise InvalidInput(where, None, f"kubeconfig: context {context!r} names no cluster")
    for key, section in (("cluster", "clusters"), ("user", "users")):
        ref = body.get(key)
        if ref and ref not in merged[section]:
            raise InvalidInput(where, None, f"kubeconfig: context {context!r} names {key} {ref!r}, which is "
                                            f"not in {files}")
    cluster, cluster_file = merged["clusters"][body["cluster"]]
    if not cluster.get("server"):
        raise InvalidInput(cluster_file, None, f"kubeconfig: cluster {body['cluster']!r} has no server")
    return files


def snapshot_from_context(context: str) -> Snapshot:
    files = check_kubeconfig(context)
    try:
        from kubernetes import config

        # persist_config=False: read-only, even when an auth provider refreshes a token
        api = config.new_client_from_config(config_file=files, context=context, persist_config=False)
    except Exception as exc:  # ConfigException and whatever a kubeconfig value we did not check raises
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MigratorError(f"--context {context!r}: {files}: {text}") from None
    objs: list[dict[str, Any]] = []
    try:
        for path, kind in CORE:
            data = _get(api, path)
            if data is None:  # every Kubernetes API server serves these: this one is something else
                raise MigratorError(f"--context {context!r}: {path}: 404 Not Found: not a Kubernetes API server?")
            objs += [dict(i, kind=kind) if isinstance(i, dict) else i for i in data.get("items") or []]
        for version in RESOURCE_VERSIONS:
            probe = _get(api, f"/apis/resource.k8s.io/{version}/deviceclasses")
            if probe is None:
                continue
            for plural, kind in RESOURCE:
                data = probe if plural == "deviceclasses" else \
                    _get(api, f"/apis/resource.k8s.io/{version}/{plural}") or {}
                objs += [dict(i, kind=kind, apiVersion=f"resource.k8s.io/{version}") if isinstance(i, dict) else i
                         for i in data.get("items") or []]
            break
        for kind, obj in gpu_operator()["objects"].items():  # the GPU Operator's install, when it is there
            try:
                data = _get(api, obj["path"]) or {}
            except MigratorError:  # e.g. 403: not allowed to read it; the plan then goes by node labels
                data = {}
            objs += [dict(i, kind=kind, apiVersion=obj["apiVersion"]) if isinstance(i, dict) else i
                     for i in data.get("items") or []]
    except MigratorError:
        raise
    except Exception as exc:  # connection refused, TLS, timeouts: one line, no traceback
        raise MigratorError(f"--context {context!r}: cannot read the cluster: {str(exc).splitlines()[0]}") from None
    snap = snapshot_from_objects(objs, f"--context {context}")
    try:  # the exact release decides controller arithmetic (rules/kubernetes.yaml gates)
        version = str((_get(api, "/version") or {}).get("gitVersion") or "")
    except Exception:
        version = ""
    return dataclasses.replace(snap, server_version=version) if version else snap
