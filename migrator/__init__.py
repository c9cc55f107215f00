"""dra-migrate: rewrite device-plugin GPU requests (nvidia.com/gpu) into DRA ResourceClaims."""

__version__ = "0.1.0"
