"""GPU114: tests of the rule migrator/transforms/gpu114_other_device_plugins.py on the smallest inputs that show it."""

from __future__ import annotations

import textwrap

from migrator.engine import migrate_text
from migrator.mode import Mode
from migrator.model import Status



def test_gpu114_unknown_extended_resource_stays_and_is_listed() -> None:
    text = textwrap.dedent("""
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers: [{name: main, image: x, resources: {limits: {nvidia.com/gpu: 1, xilinx.com/fpga-xilinx_u250: 1}}}]
    """)
    result = migrate_text(text, "t.yaml", Mode())
    (f,) = [f for f in result.findings if f.code == "GPU114"]
    assert f.status is Status.INFO and "xilinx.com/fpga-xilinx_u250 (main)" in f.message
    assert "xilinx.com/fpga-xilinx_u250: 1" in result.text and "nvidia.com/gpu: 1" not in result.text


def test_gpu114_only_next_to_gpus_whatever_the_neighbours() -> None:
    fpga = textwrap.dedent("""
    apiVersion: v1
    kind: Pod
    metadata: {name: f}
    spec:
      containers: [{name: main, image: x, resources: {limits: {xilinx.com/fpga-xilinx_u250: 1}}}]
    """)
    gpu = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: g}\nspec:\n  containers: [{name: c, image: x}]\n"
    for text in (fpga, fpga + gpu.replace("image: x}", "image: x, resources: {limits: {nvidia.com/gpu: 1}}}")):
        result = migrate_text(text, "t.yaml", Mode())
        assert not [f for f in result.findings if f.code == "GPU114"], result.findings
