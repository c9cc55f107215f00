"""Container names where one is a prefix of another: each container must keep only its own GPUs."""
from kubernetes import client

trainer = client.V1PodSpec(
    containers=[
        client.V1Container(name="w", image="x",
                           resources=client.V1ResourceRequirements(claims=[client.CoreV1ResourceClaim(name="gpu", request="w")])),
        client.V1Container(name="w-2", image="x",
                           resources=client.V1ResourceRequirements(claims=[client.CoreV1ResourceClaim(name="gpu", request="w-2")])),
    ],
    resource_claims=[client.V1PodResourceClaim(name="gpu", resource_claim_template_name="prefix-names-w-gpu-618cb9ae")],
    tolerations=[client.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
)

pod = {"containers": [
    {"name": "a", "image": "x", "resources": {"claims": [{"name": "gpu", "request": "a"}]}},
    {"name": "ab", "image": "x", "resources": {"claims": [{"name": "gpu", "request": "ab"}]}},
], "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "prefix-names-a-gpu-34643ef3"}], "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
