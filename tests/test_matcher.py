"""One device matcher for verify and plan (migrator/proof/matcher.py): an evaluation error is never a
silent "no match". The device is not chosen (allocation aborts) and the error is reported."""

from __future__ import annotations

import pytest

from migrator.proof.cluster import Device, snapshot_from_objects
from migrator.proof.equivalence import Prover
from migrator.proof.matcher import DeviceMatcher
from migrator.mode import Mode
from migrator.plan.build import build_plan
from test_plan import CLASS, deployment, dra_node, running

DEV = Device("n1", "gpu.nvidia.com", "n1", "gpu-0", {"gpu.nvidia.com": {"productName": "Tesla T4", "type": "gpu"}},
             {"gpu.nvidia.com": {"memory": "15Gi"}})
ATTR = "device.attributes['gpu.nvidia.com']"

CASES = [  # (selectors, expected: True / False / "error")
    ([f"{ATTR}.productName == 'Tesla T4'"], True),
    ([f"{ATTR}.productName == 'L4'"], False),
    ([f"{ATTR}.type == 'gpu'", f"{ATTR}.productName == 'L4'"], False),
    ([f"int({ATTR}.productName) > 0"], "error"),  # a runtime error: not a bool, not false
    ([f"{ATTR}.type == 'gpu'", f"int({ATTR}.productName) > 0"], "error"),
    ([f"{ATTR}.productName == 'L4'", f"int({ATTR}.productName) > 0"], False),  # && stops at the first false
    ([f"{ATTR}.missing == 'x'"], "error"),  # no such key: CEL errors, the allocator aborts
]


@pytest.mark.parametrize("exprs,want", CASES)
def test_match_is_true_false_or_an_error_that_is_kept(exprs: list[str], want: object) -> None:
    m = DeviceMatcher()
    got = m.match(exprs, DEV)
    assert (got if isinstance(got, bool) else "error") == want
    assert m.matches(exprs, DEV) is (want is True)
    assert bool(m.errors) is (want == "error")
    m.match(exprs, DEV)  # asked again (cached): still reported once
    assert len(m.errors) == (1 if want == "error" else 0)


def _template(expr: str) -> str:
    return f"""apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {{name: t, namespace: ml}}
spec:
  spec:
    devices:
      requests:
      - name: gpu
        exactly:
          deviceClassName: gpu.nvidia.com
          selectors: [{{cel: {{expression: "{expr}"}}}}]
"""


def test_verify_and_plan_both_report_an_evaluation_error() -> None:
    bad = f"int({ATTR}.productName) > 0"
    objs = [CLASS, *dra_node("n1", 1)]
    snap = snapshot_from_objects(objs)
    pod = {"resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "t"}],
           "containers": [{"name": "c", "resources": {"claims": [{"name": "gpu"}]}}]}
    import yaml

    claims = {"t": yaml.safe_load(_template(bad))}
    reached, problems = Prover(snap).after(pod, claims)
    assert reached == {} and any("selector error" in p and "allocation would abort" in p for p in problems), problems
    # the plan: the DeviceClass's own selector fails on every device, so no new pod is placed, and
    # the plan says why instead of calling the devices a mismatch
    from test_plan import dp_node

    broken = dict(CLASS, spec={"selectors": [{"cel": {"expression": bad}}]})
    objs = [broken, *dra_node("n2", 1), dp_node("n1", 1), running("a-1", "n1", ("ReplicaSet", "a-1"))]
    plan = build_plan([("a.yaml", deployment("a", 1))], snapshot_from_objects(objs), Mode())
    notes = [n for n in plan.notes if "selector error" in n]
    # n1 is still on the device plugin: its devices are the ones it will publish after a cut-over
    assert notes and all(n.split(": ")[0] in ("n1/expected-gpu-0", "n2/gpu-0") and "allocation aborts" in n
                         for n in notes), notes
    # no device is usable: not switched, for that reason, and no step touches the workload
    (d,) = plan.decisions
    assert d.blocked and d.reason.startswith("no node can give one of its pods the DRA devices it asks for"), d.reason
    assert d.reason.endswith("Not switched") and d.switch_strategy is None
    assert not [s for s in plan.steps if s.name == d.workload.name and s.action == "update"]
