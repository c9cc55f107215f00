"""Plain dict pod specs, as e2e fixtures build them."""

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "spec": {
        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "initContainers": [],
        "containers": [
            {
                "name": "encoder",
                "resources": {
                    "limits": {"nvidia.com/gpu": 1, "memory": "8Gi"},
                    "requests": {"nvidia.com/gpu": "1"},
                },
            },
            {"name": "decoder", "resources": {"limits": {"nvidia.com/mig-1g.10gb": 2}}},
        ],
    },
}
