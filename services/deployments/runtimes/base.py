"""What every runtime backend offers the deployments service: start, find, stop, read logs.

A runtime runs `Workload`s (a model server, a service, a job's run) in one of the platform's
three places: local processes, Docker containers, Kubernetes pods.  The service keeps the
desired state in its database and asks the runtime what really runs (`list`), so that after
a restart it adopts what still runs, starts what should, and removes what should not.

How a model reaches its server, in each place (the server is always
``python -m mllab.services.deployments.modelserver``, arguments from `model_server_args`):

- local: the server reads ``Workload.model_dir`` where it is;
- Docker: ``model_dir`` is bind-mounted read-only at `MODEL_MOUNT` (or copied there when the
  service and the engine share no file system);
- Kubernetes: an init container pulls ``Workload.model_ref`` from the registry into an
  ``emptyDir`` at `MODEL_MOUNT` (the service's folder is not on the cluster's nodes).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from mllab.hub.backends.resources import Resources
from traitlets import Float, Unicode
from traitlets.config import LoggingConfigurable

#: What runs a model: ``python -m MODEL_SERVER_MODULE --model-dir ...``.
MODEL_SERVER_MODULE = "mllab.services.deployments.modelserver"
#: Where a model's files are inside a container or pod.
MODEL_MOUNT = "/mnt/model"
#: The port the model server listens on inside a container or pod.
MODEL_PORT = 8080
#: Workload ids: DNS-1035 labels, valid as process markers, container names and Kubernetes
#: object names (Services need a leading letter and at most 63 characters).
WORKLOAD_ID = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class RuntimeUnavailable(Exception):
    """The backend (Docker engine, Kubernetes API) cannot be reached; answered with 503."""


class WorkloadError(Exception):
    """The backend refused the workload (no such image, no command, ...); the message says what to fix."""


def model_server_args(name: str, model_dir: str, host: str, port: int) -> list[str]:
    """The model server's arguments (after ``python -m mllab.services.deployments.modelserver``).

    In containers and pods they are the image's command (``CMD``; Kubernetes ``args``) after
    its entrypoint, which is the model server (``images/model-server/Dockerfile``).
    """
    return ["--model-dir", model_dir, "--name", name, "--host", host, "--port", str(port)]


def make_workload_id(kind: Literal["model", "service", "job"], namespace: str, name: str, token: str) -> str:
    """A `WORKLOAD_ID` for ``namespace/name``: ``mllab-m-users-alice-churn-<token>`` (``m``/``s``/``j``).

    Readable where it fits; a long namespace is shortened and a hash of it keeps ids distinct.
    ``token`` (lower-case letters and digits, e.g. a run number or a few random characters)
    makes each start distinct, so an old and a new version can run side by side in a rollout.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", f"{namespace}-{name}".lower()).strip("-")
    head, tail = f"mllab-{kind[0]}-", f"-{token}"
    room = 63 - len(head) - len(tail)
    if len(readable) > room:
        digest = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:8]
        readable = f"{readable[: room - 9].rstrip('-')}-{digest}"
    workload_id = f"{head}{readable}{tail}"
    if not WORKLOAD_ID.match(workload_id):
        raise ValueError(f"cannot make a workload id of {namespace}/{name} with token {token!r}")
    return workload_id


@dataclass
class Workload:
    """What to run.  Built by the service from a deployment, or from a job's run."""

    #: Stable and unique among everything the platform runs: names the process group,
    #: container or Kubernetes objects, e.g. ``mllab-m-users-alice-churn-3f2a`` (`make_workload_id`).
    id: str
    kind: Literal["model", "service", "job"]
    namespace: str
    name: str
    #: Container backends: the image (models: default the runtime's ``model_image``, and an
    #: image of one's own must have the model server as its entrypoint, e.g. ``FROM
    #: mllab/model-server``).  The local backend runs ``command`` instead and refuses images.
    image: str | None = None
    #: Services and jobs: the command (containers: the image's ``CMD``, after its entrypoint).
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: The port a service listens on (``$PORT`` is set to it); containers and pods use it as
    #: it is, the local backend gives each workload a free port instead.  Models listen on
    #: `MODEL_PORT` in containers and pods.  None for jobs.
    port: int | None = None
    resources: Resources = field(default_factory=Resources)
    #: Kubernetes runs this many pods behind one Service; local processes and Docker run one.
    replicas: int = 1
    #: Models, local and Docker: a folder on the service's machine with the model's files.
    model_dir: str | None = None
    #: Models, Kubernetes: the registry version to pull, pinned (``users/alice/churn:3``).
    model_ref: str | None = None

    def __post_init__(self) -> None:
        if not WORKLOAD_ID.match(self.id):
            raise ValueError(f"workload id {self.id!r} must be a DNS-1035 label (see make_workload_id)")
        if self.kind not in ("model", "service", "job"):
            raise ValueError(f"workload kind {self.kind!r} must be model, service or job")


@dataclass
class Handle:
    """Where a started workload is: enough to reach it, find it after a restart, and stop it.

    JSON-serialisable with ``dataclasses.asdict``; ``Handle(**that)`` reads it back.
    """

    workload_id: str
    #: Backend-specific, JSON-serialisable (pid and start time, container id, object names).
    ref: dict[str, Any]
    #: The base URL the service forwards requests to (``http://127.0.0.1:41234``); None for jobs.
    url: str | None = None


@dataclass
class State:
    #: ``running`` (started, not known to be ready), ``exited`` (ended by itself or killed),
    #: ``gone`` (nothing of it is left, or it never existed).
    phase: Literal["running", "exited", "gone"]
    #: For ``exited``: the exit status; 128 + N for a process ended by signal N (137: SIGKILL).
    exit_code: int | None = None
    #: What the backend says is wrong, if anything (``OOMKilled``, ``ImagePullBackOff: ...``).
    message: str | None = None


class Runtime(LoggingConfigurable):
    """Base of the runtime backends; one module per backend overrides every method."""

    #: ``DeploymentsApp.runtime`` names it.
    name = ""

    instance = Unicode(
        "mllab",
        help="""
        Name of this platform among others sharing the same container engine or Kubernetes
        namespace: its workloads are labelled with it and `list` sees only those.

        Local processes are told apart by ``LocalRuntime.work_dir`` instead.

            c.Runtime.instance = "mllab-staging"
        """,
    ).tag(config=True)

    stop_timeout = Float(
        10,
        help="""
        Seconds a workload has to end after it is asked to (SIGTERM) before it is killed.

            c.Runtime.stop_timeout = 30
        """,
    ).tag(config=True)

    async def start(self, workload: Workload) -> Handle:
        """Start ``workload`` and return at once (readiness is the caller's to wait for).

        A workload with the same id that is still there is replaced.  Raises `WorkloadError`
        when the backend refuses it and `RuntimeUnavailable` when the backend cannot be reached.
        """
        raise NotImplementedError

    async def stop(self, handle: Handle) -> None:
        """Stop and remove it, with everything it made (logs too); nothing left behind.  Idempotent."""
        raise NotImplementedError

    async def state(self, handle: Handle) -> State:
        raise NotImplementedError

    async def logs(self, handle: Handle, tail: int | None = None) -> str:
        """Its output so far (the last ``tail`` lines); kept until `stop`."""
        raise NotImplementedError

    def follow(self, handle: Handle) -> AsyncIterator[str]:
        """Its output as it comes, from the start, until it ends."""
        raise NotImplementedError

    async def list(self) -> list[Handle]:
        """Every workload of this platform the backend holds, running or ended but not yet
        stopped (found by label, or by marker for processes), for reconciling."""
        raise NotImplementedError

    async def stop_all(self) -> None:
        """Stop every workload of this platform (`stop` each one `list` gives)."""
        for handle in await self.list():
            await self.stop(handle)

    async def close(self) -> None:
        """Release clients; workloads keep running."""
