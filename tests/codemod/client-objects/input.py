from kubernetes import client


def make_job(name: str, image: str, gpus_var: int):
    container = client.V1Container(
        name="trainer",
        image=image,
        resources=client.V1ResourceRequirements(
            limits={"nvidia.com/gpu": 2, "cpu": "4"},  # two GPUs
            requests={"cpu": "2"},
        ),
    )
    pod = client.V1PodSpec(containers=[container], restart_policy="Never")
    return pod


def dict_pod():
    return {
        "containers": [
            {"name": "server", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "1"}}},
        ],
    }


def dynamic(n):
    return client.V1ResourceRequirements(limits={"nvidia.com/gpu": n})
