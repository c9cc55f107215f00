"""A synthetic manifest repository with a realistic mix.

10% of the files hold GPU workloads of several shapes (Deployment, StatefulSet, Job, PyTorchJob,
LeaderWorkerSet, a MIG Pod, a multi-container pod with an init container); the rest hold
Deployments, Services, ConfigMaps and Ingresses without GPUs. Files have comments, several
documents, quoted and plain scalars. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from pathlib import Path

GPU_SHAPES = [
    """# {n}: inference service
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm-{n}
  namespace: team-{t}
  labels: {{app: llm-{n}, tier: "gpu"}}
spec:
  replicas: {r}
  selector:
    matchLabels: {{app: llm-{n}}}
  template:
    metadata:
      labels: {{app: llm-{n}}}
    spec:
      nodeSelector:
        cloud.google.com/gke-accelerator: nvidia-l4
      containers:
      - name: server
        image: "registry.example.com/llm:{n}"
        args: ["--port", "8000"]
        resources:
          limits:
            cpu: "8"
            memory: 32Gi
            nvidia.com/gpu: {g}  # gpus per replica
          requests:
            cpu: "4"
            memory: 16Gi
---
apiVersion: v1
kind: Service
metadata:
  name: llm-{n}
  namespace: team-{t}
spec:
  selector: {{app: llm-{n}}}
  ports:
  - port: 80
    targetPort: 8000
""",
    """apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: embed-{n}
spec:
  serviceName: embed-{n}
  replicas: 2
  selector: {{matchLabels: {{app: embed-{n}}}}}
  template:
    metadata: {{labels: {{app: embed-{n}}}}}
    spec:
      initContainers:
      - name: warmup
        image: busybox
        resources: {{limits: {{nvidia.com/gpu: 1}}}}
      containers:
      - name: embed
        image: embed:1
        resources:
          limits: {{nvidia.com/gpu: "{g}"}}
""",
    """apiVersion: batch/v1
kind: Job
metadata:
  name: train-{n}
spec:
  template:
    spec:
      restartPolicy: Never
      tolerations:
      - {{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}
      containers:
      - name: trainer
        image: 'trainer:{n}'
        resources:
          requests:
            nvidia.com/gpu: '{g}'
          limits:
            nvidia.com/gpu: '{g}'
""",
    """apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata:
  name: ddp-{n}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        spec:
          containers:
          - name: pytorch
            image: pt:{n}
            resources: {{limits: {{nvidia.com/gpu: {g}}}}}
    Worker:
      replicas: 3
      template:
        spec:
          containers:
          - name: pytorch
            image: pt:{n}
            resources: {{limits: {{nvidia.com/gpu: {g}}}}}
""",
    """apiVersion: v1
kind: Pod
metadata:
  name: mig-{n}
spec:
  containers:
  - name: notebook
    image: jupyter
    resources:
      limits:
        nvidia.com/mig-1g.10gb: 1
  - name: sidecar
    image: envoy
""",
]

PLAIN = [
    """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{n}
  labels:
    app: web-{n}   # owned by team {t}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: web-{n}}}
  template:
    metadata:
      labels: {{app: web-{n}}}
    spec:
      containers:
      - name: web
        image: "nginx:1.27"
        ports: [{{containerPort: 80}}]
        resources:
          limits: {{cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: web-{n}
spec:
  selector: {{app: web-{n}}}
  ports:
  - port: 80
""",
    """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-{n}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
  config.yaml: |
    server:
      port: 8080
      workers: {t}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web-{n}
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /
spec:
  rules:
  - host: web-{n}.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {{name: web-{n}, port: {{number: 80}}}}
""",
]


def generate(root: Path, files: int, seed: int = 1, gpu_fraction: float = 0.10) -> int:
    rng = random.Random(seed)
    gpu_files = 0
    for i in range(files):
        d = root / f"team-{i % 50:02d}" / f"app-{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        gpu = rng.random() < gpu_fraction
        shapes = GPU_SHAPES if gpu else PLAIN
        text = rng.choice(shapes).format(n=i, t=i % 50, r=1 + i % 3, g=1 + i % 4)
        (d / f"m-{i:05d}.yaml").write_text(text)
        gpu_files += gpu
    return gpu_files
