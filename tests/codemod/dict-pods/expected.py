"""Plain dict pod specs, as e2e fixtures build them."""

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "spec": {
        "tolerations": [{"key": "dedicated", "operator": "Exists"}, {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, {"key": "nvidia.com/mig-1g.10gb", "operator": "Exists", "effect": "NoSchedule"}],
        "initContainers": [],
        "containers": [
            {
                "name": "encoder",
                "resources": {
                    "limits": {"memory": "8Gi"},
                    "claims": [{"name": "gpu", "request": "encoder"}],
                },
            },
            {"name": "decoder", "resources": {"claims": [{"name": "gpu", "request": "decoder"}]}},
        ],
        "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "dict-pods-encoder-gpu-90bf468e"}],
    },
}
