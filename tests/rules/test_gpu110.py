"""GPU110: tests of the rule migrator/transforms/gpu110_python_codemod.py on the smallest inputs that show it."""

from __future__ import annotations

import textwrap

from migrator.integrations.codemod import run_codemod



def test_gpu110_literal_count_becomes_a_claim() -> None:
    source = textwrap.dedent("""
    from kubernetes import client

    pod = client.V1PodSpec(containers=[client.V1Container(
        name="trainer", image="x",
        resources=client.V1ResourceRequirements(limits={"nvidia.com/gpu": 2}))])
    """)
    result = run_codemod(source, "job.py")
    assert '{"nvidia.com/gpu": 2}' not in result.after
    assert 'request="trainer"' in result.after and "resource_claims=" in result.after
    assert [f.code for f in result.findings] == ["GPU000"]  # GPU110 is what it could not convert
    assert [t["kind"] for t in result.templates] == ["ResourceClaimTemplate"]


def test_gpu110_a_count_it_cannot_read_is_left_and_reported() -> None:
    source = textwrap.dedent("""
    from kubernetes import client

    def spec(n):
        return client.V1PodSpec(containers=[client.V1Container(
            name="trainer", image="x",
            resources=client.V1ResourceRequirements(limits={"nvidia.com/gpu": n}))])
    """)
    result = run_codemod(source, "job.py")
    assert result.after == source
    assert any(f.code == "GPU110" for f in result.findings)
