"""Container names where one is a prefix of another: each container must keep only its own GPUs."""
from kubernetes import client

trainer = client.V1PodSpec(
    containers=[
        client.V1Container(name="w", image="x",
                           resources=client.V1ResourceRequirements(limits={"nvidia.com/gpu": 1})),
        client.V1Container(name="w-2", image="x",
                           resources=client.V1ResourceRequirements(limits={"nvidia.com/gpu": 2})),
    ],
)

pod = {"containers": [
    {"name": "a", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 1}}},
    {"name": "ab", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 2}}},
]}
