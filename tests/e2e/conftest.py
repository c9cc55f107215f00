"""Fixtures of the e2e tier (tests/e2e): a real control plane per Kubernetes version."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from controlplane import INPUT_ERRORS, NOT_VALIDATED, VERSIONS, ControlPlane, control_plane_for


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # One line per reason in the summary, not one per test function: every e2e skip is reported
    # at the place that decides it.
    rep = yield
    if rep.skipped and isinstance(rep.longrepr, tuple) and item.get_closest_marker("e2e"):
        rep.longrepr = (str(Path(__file__).with_name("controlplane.py")), 0, rep.longrepr[2])
        # CI: the tier must run; a missing control plane ("e2e: ..." skips) is a failure. Absent
        # shared data (../shared/corpus) still skips cleanly, as everywhere in the suite.
        if os.environ.get("DRA_MIGRATE_E2E") == "require" and "e2e:" in str(rep.longrepr[2])[:20]:
            rep.outcome = "failed"
    return rep


@pytest.fixture(scope="session", params=VERSIONS, ids=[f"k8s-{v}" for v in VERSIONS])
def control_plane(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver of one version; the tests that use it run once per version."""
    tmp = tmp_path_factory.mktemp(f"k8s-{request.param}")
    with control_plane_for(request.param, tmp, request.config) as cp:
        yield cp


def pytest_terminal_summary(terminalreporter: Any) -> None:
    import sys

    sched = sys.modules.get("test_scheduler_equivalence")
    if sched is not None and (sched.KNOWN_CHANGES or sched.NOT_JUDGED or sched.INPUT_REJECTED):
        terminalreporter.section("e2e: scheduler equivalence, what was not proven equal")
        for wid, machines in sorted(sched.KNOWN_CHANGES.items()):
            terminalreporter.write_line(f"{wid}: loses {', '.join(sorted(machines))} (a MIG slice or a share there; "
                                        "verify reports it, rewrite --cluster does not make it)")
        for line in sched.NOT_JUDGED:
            terminalreporter.write_line(f"not judged: {line}")
        for wid, why in sorted(sched.INPUT_REJECTED.items()):
            terminalreporter.write_line(f"input rejected: {wid}: {why}")
    if NOT_VALIDATED:
        terminalreporter.section("e2e: kinds this apiserver does not serve (no CRD installed, or a removed version)")
        verbose = terminalreporter.config.option.verbose > 0
        for kind, where in sorted(NOT_VALIDATED.items()):
            files = ", ".join(sorted(where)) if verbose else f"{len(where)} file(s); -v lists them"
            terminalreporter.write_line(f"{kind}: its pod templates validated, not the object ({files})")
    if INPUT_ERRORS:
        terminalreporter.section("e2e: rejected only for errors already in the input")
        if terminalreporter.config.option.verbose > 0:
            for where, reasons in sorted(INPUT_ERRORS.items()):
                terminalreporter.write_line(f"{where}: {', '.join(sorted(reasons))}")
        else:
            terminalreporter.write_line(f"{len(INPUT_ERRORS)} objects (fragments in the fixtures and the corpus; -v lists them)")
