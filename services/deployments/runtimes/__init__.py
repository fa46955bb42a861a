"""Runtime backends of the deployments service: local processes, Docker, Kubernetes (see `base`)."""

from __future__ import annotations

from importlib import import_module

from .base import Handle, Runtime, RuntimeUnavailable, State, Workload, WorkloadError

#: ``DeploymentsApp.runtime`` short names -> classes (imported on use: Kubernetes' client is heavy).
RUNTIMES = {
    "local": "mllab.services.deployments.runtimes.local:LocalRuntime",
    "docker": "mllab.services.deployments.runtimes.docker:DockerRuntime",
    "kubernetes": "mllab.services.deployments.runtimes.kubernetes:KubernetesRuntime",
}


def runtime_class(name: str) -> type[Runtime]:
    """The class of runtime ``name`` (``local``, ``docker``, ``kubernetes``)."""
    try:
        module, _, attr = RUNTIMES[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown runtime {name!r}: one of {', '.join(RUNTIMES)}") from None
    return getattr(import_module(module), attr)


__all__ = ["RUNTIMES", "Handle", "Runtime", "RuntimeUnavailable", "State", "Workload", "WorkloadError", "runtime_class"]
