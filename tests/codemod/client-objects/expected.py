from kubernetes import client


def make_job(name: str, image: str, gpus_var: int):
    container = client.V1Container(
        name="trainer",
        image=image,
        resources=client.V1ResourceRequirements(
            limits={"cpu": "4"},  # two GPUs
            requests={"cpu": "2"},
            claims=[client.CoreV1ResourceClaim(name="gpu", request="trainer")],
        ),
    )
    pod = client.V1PodSpec(containers=[container], restart_policy="Never", resource_claims=[client.V1PodResourceClaim(name="gpu", resource_claim_template_name="client-objects-trainer-gpu-4b7bb335")], tolerations=[client.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")])
    return pod


def dict_pod():
    return {
        "containers": [
            {"name": "server", "image": "x", "resources": {"claims": [{"name": "gpu", "request": "server"}]}},
        ],
        "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "client-objects-server-gpu-45fb54af"}],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }


def dynamic(n):
    return client.V1ResourceRequirements(limits={"nvidia.com/gpu": n})
