"""minik: a small, real Kubernetes-style orchestrator."""

__version__ = "0.1.0"
KUBE_VERSION = "v1.30.0"
