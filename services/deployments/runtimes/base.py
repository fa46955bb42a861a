"""What every runtime backend offers the deployments service: start, find, stop, read logs.

A runtime runs `Workload`s (a model server, a service, a job's run) in one of the platform's
three places: local processes, Docker containers, Kubernetes pods.  The service keeps the
desired state in its database and asks the runtime what really runs (`list`), so that after
a restart it adopts what still runs, starts what should, and removes what should not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from traitlets.config import LoggingConfigurable

from mllab.hub.backends.resources import Resources


class RuntimeUnavailable(Exception):
    """The backend (Docker engine, Kubernetes API) cannot be reached; answered with 503."""


@dataclass
class Workload:
    """What to run.  Built by the service from a deployment, or from a job's run."""

    #: Stable and unique among everything the platform runs: names the process group,
    #: container or Kubernetes objects, e.g. ``mllab-d-users-alice-churn-3f2a``.
    id: str
    kind: Literal["model", "service", "job"]
    namespace: str
    name: str
    #: Container backends: the image.  The local backend runs ``command`` instead.
    image: str | None = None
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: The port the workload listens on (models and services); None for jobs.
    port: int | None = None
    resources: Resources = field(default_factory=Resources)
    replicas: int = 1
    #: A local folder with the model's files (models only); containers mount it.
    model_dir: str | None = None


@dataclass
class Handle:
    """Where a started workload is: enough to reach it, find it after a restart, and stop it."""

    workload_id: str
    #: Backend-specific, JSON-serialisable (pid and start time, container id, object names).
    ref: dict[str, Any]
    #: The base URL the service forwards requests to (``http://127.0.0.1:41234``); None for jobs.
    url: str | None = None


@dataclass
class State:
    phase: Literal["running", "exited", "gone"]
    #: For ``exited``.
    exit_code: int | None = None


class Runtime(LoggingConfigurable):
    """Base of the runtime backends; one module per backend overrides every method."""

    #: ``DeploymentsApp.runtime`` names it.
    name = ""

    async def start(self, workload: Workload) -> Handle:
        """Start ``workload`` and return at once (readiness is the caller's to wait for)."""
        raise NotImplementedError

    async def stop(self, handle: Handle) -> None:
        """Stop and remove it, with everything it made; nothing left behind.  Idempotent."""
        raise NotImplementedError

    async def state(self, handle: Handle) -> State:
        raise NotImplementedError

    async def logs(self, handle: Handle, tail: int | None = None) -> str:
        """Its output so far (the last ``tail`` lines)."""
        raise NotImplementedError

    def follow(self, handle: Handle) -> AsyncIterator[str]:
        """Its output as it comes, until it ends."""
        raise NotImplementedError

    async def list(self) -> list[Handle]:
        """Every workload this backend runs for the platform (found by label), for reconciling."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release clients; workloads keep running."""
