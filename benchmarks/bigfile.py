"""One manifest file holding many GPU Deployments (a rendered chart, a kustomize build output)."""

from __future__ import annotations

from pathlib import Path

DOC = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: ml
spec:
  replicas: 2
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels:
        app: app-{i}
    spec:
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
      containers:
      - name: server
        image: vllm/vllm-openai:v0.6.0
        args: ["--tensor-parallel-size", "2"]
        resources:
          limits:
            cpu: "8"
            nvidia.com/gpu: 2  # TP=2
"""


def write(path: Path, deployments: int) -> Path:
    path.write_text("---\n".join(DOC.format(i=i) for i in range(deployments)), encoding="utf-8")
    return path
