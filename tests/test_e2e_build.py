"""e2e/build.py's go.mod generator: each local replace of a release becomes its published module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st


def _load() -> object:
    name = "dra_migrate_e2e_build"  # also loaded by tests/e2e/controlplane.py
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent.parent / "e2e" / "build.py")
        assert spec and spec.loader
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


build: Any = _load()

_staging = st.lists(st.from_regex(r"[a-z][a-z-]{1,20}", fullmatch=True), min_size=1, max_size=40, unique=True)


def _replace(old: str, new: str, version: str | None = None) -> dict:
    return {"Old": {"Path": old}, "New": {"Path": new, **({"Version": version} if version else {})}}


def _parse_replaces(gomod: str) -> dict[str, str]:
    block = gomod.split("replace (", 1)[1].split(")", 1)[0]
    return {ln.split(" => ")[0].strip(): ln.split(" => ")[1].strip() for ln in block.splitlines() if "=>" in ln}


@given(_staging, st.integers(30, 40), st.integers(0, 9))
def test_every_staging_replace_becomes_the_published_v0(names: list[str], minor: int, patch: int) -> None:
    release = f"v1.{minor}.{patch}"
    mod = {"Go": "1.25.0", "GoDebug": [{"Key": "default", "Value": "go1.25"}],
           "Replace": [_replace(f"k8s.io/{n}", f"./staging/src/k8s.io/{n}") for n in names]
           + [_replace("example.com/fork", "example.com/fork", "v1.2.3")]}
    gomod = build.wrapper_gomod("k8s", "k8s.io/kubernetes", release, mod)
    replaces = _parse_replaces(gomod)
    assert replaces == {**{f"k8s.io/{n}": f"k8s.io/{n} v0.{minor}.{patch}" for n in names},
                        "example.com/fork": "example.com/fork v1.2.3"}
    assert f"\tk8s.io/kubernetes {release}\n" in gomod
    assert "\ngo 1.25.0\n" in gomod and "\ngodebug default=go1.25\n" in gomod


def test_sibling_replaces_take_the_release_version_and_guards_are_dropped() -> None:
    # go.etcd.io/etcd/server/v3's go.mod: ../api style siblings, and a FORBIDDEN_DEPENDENCY guard.
    mod = {"Go": "1.24.0", "Replace": [_replace("go.etcd.io/etcd/api/v3", "../api"),
                                       _replace("go.etcd.io/etcd", "./FORBIDDEN_DEPENDENCY")]}
    gomod = build.wrapper_gomod("etcd", "go.etcd.io/etcd/server/v3", "v3.6.5", mod)
    assert _parse_replaces(gomod) == {"go.etcd.io/etcd/api/v3": "go.etcd.io/etcd/api/v3 v3.6.5"}


def test_a_replace_to_an_absolute_local_path_cannot_be_built() -> None:
    mod = {"Go": "1.25.0", "Replace": [_replace("k8s.io/api", "/home/someone/api")]}
    with pytest.raises(build.BuildError, match="not on the module proxy"):
        build.wrapper_gomod("k8s", "k8s.io/kubernetes", "v1.35.4", mod)


@pytest.mark.parametrize(("arg", "want"), [("1.35", "v1.35.4"), ("v1.37", "v1.37.2"), ("1.36.3", "v1.36.3"),
                                           ("v1.38.0-beta.0", "v1.38.0-beta.0")])
def test_versions_resolve_to_releases(arg: str, want: str) -> None:
    assert build.resolve(arg) == want


@pytest.mark.parametrize("arg", ["1.3", "2.0.0", "latest", "1.35.x"])
def test_a_bad_version_is_a_usage_error(arg: str) -> None:
    assert build.main([arg]) == 2
