"""Workloads as containers on Docker or podman (its Docker API), one container per workload.

Containers are named by the workload id, labelled ``org.mllab.role=deployment`` with the
workload's id, kind, namespace, name and the platform's `instance` (so `list` finds them), and
hardened as workspaces are (`containers.security_settings`: user 1000, no capabilities, no
privilege escalation).  They sit on their own network (`DockerRuntime.network_name`).

The service reaches a model or service either through a port published on 127.0.0.1 only
(``publish_host_port = True``: the service runs on the host, ``mllab up``), or at the
container's address on the network (``False``: the service runs in a container on that
network, as in the compose file).  A model's files are bind-mounted read-only at `MODEL_MOUNT`,
or copied there before the container starts when the engine does not see the service's
folder (``model_transfer = "copy"``: the service in a container, or a remote engine).

Jobs run to completion and stay (with their log and exit status) until `stop` removes them.
Every engine call blocks, so each runs in a thread.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from mllab.hub.backends import containers
from traitlets import Bool, Enum, Unicode

from .base import (
    MODEL_MOUNT,
    MODEL_PORT,
    Handle,
    Runtime,
    RuntimeUnavailable,
    State,
    Workload,
    WorkloadError,
    model_server_args,
)

T = TypeVar("T")
ROLE = "deployment"
PUBLISH_IP = "127.0.0.1"
#: Label of the port the workload listens on inside its container.
PORT_LABEL = f"{containers.LABEL_PREFIX}port"


@contextlib.contextmanager
def _engine_errors(action: str) -> Iterator[None]:
    """The engine being unreachable becomes `RuntimeUnavailable`."""
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
        raise RuntimeUnavailable(f"the container engine cannot be reached ({action}): {e}") from e
    except docker.errors.DockerException as e:
        if isinstance(e, docker.errors.APIError):
            raise
        raise RuntimeUnavailable(f"the container engine cannot be reached ({action}): {e}") from e


def _model_archive(model_dir: str) -> io.BufferedIOBase:
    """A tar of ``model_dir`` as ``mnt/model/...``, owned by root and read-only, in a temporary file."""
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o555 if info.isdir() else 0o444
        return info

    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(model_dir, arcname=MODEL_MOUNT.lstrip("/"), filter=owned_by_root)
    archive.seek(0)
    return archive


class DockerRuntime(containers.DockerEngine, Runtime):
    """Runs workloads as containers through the Docker API (Docker, or podman's)."""

    name = "docker"

    network_name = Unicode(
        "mllab-deployments",
        help="""
        Network the containers join; created (a bridge) when missing.

        Kept apart from the workspaces' network, so workspaces do not reach deployments
        except through the platform's URL.  With ``publish_host_port = False`` the service
        must be on this network too.

            c.DockerRuntime.network_name = "mllab-deployments"
        """,
    ).tag(config=True)

    model_image = Unicode(
        "mllab/model-server:latest",
        help="""
        Image that serves models (``images/model-server/Dockerfile``), unless a deployment
        names its own (which must have the model server as its entrypoint, e.g. built
        ``FROM mllab/model-server``).

            c.DockerRuntime.model_image = "registry.example.org/mllab/model-server:0.1"
        """,
    ).tag(config=True)

    publish_host_port = Bool(
        True,
        help="""
        Reach models and services through a port published on 127.0.0.1 of the engine's host
        (for a service running on that host, as with ``mllab up``).  False: at the container's
        address on `network_name` (for a service running in a container on that network, as
        in the compose file); nothing is published then.

            c.DockerRuntime.publish_host_port = False
        """,
    ).tag(config=True)

    model_transfer = Enum(
        ["mount", "copy"],
        "mount",
        help="""
        How a model's files get into its container: ``mount`` binds the service's model folder
        read-only (the engine must see that path: the service runs on the engine's host);
        ``copy`` copies them in, read-only, before the container starts (the service runs in
        a container, or the engine is on another machine).

            c.DockerRuntime.model_transfer = "copy"
        """,
    ).tag(config=True)

    pull_policy = Enum(
        ["ifnotpresent", "always", "never"],
        "ifnotpresent",
        help="""
        When to pull an image: when the engine lacks it (``ifnotpresent``), at every start
        (``always``), or never (the image must be there).

            c.DockerRuntime.pull_policy = "always"
        """,
    ).tag(config=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._client: docker.APIClient | None = None

    # --- the engine ---

    @property
    def client(self) -> docker.APIClient:
        """docker-py's low-level client (made on first use; blocks: call it from a thread)."""
        if self._client is None:
            with _engine_errors("connecting"):
                self._client = docker.APIClient(version="auto", **self.docker_client_kwargs())
        return self._client

    async def _call(self, action: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def call() -> T:
            with _engine_errors(action):
                return function(*args, **kwargs)

        return await asyncio.to_thread(call)

    def _labels(self, workload: Workload, port: int | None) -> dict[str, str]:
        labels = containers.labels(ROLE, workload=workload.id, kind=workload.kind, namespace=workload.namespace,
                                   name=workload.name, instance=self.instance)
        if port is not None:
            labels[PORT_LABEL] = str(port)
        return labels

    # --- start ---

    def _image(self, workload: Workload) -> str:
        image = workload.image or (self.model_image if workload.kind == "model" else None)
        if not image:
            raise WorkloadError(f"the docker runtime needs an image to run {workload.kind} {workload.name}")
        return image

    def _create(self, image: str, **kwargs: Any) -> str:
        client = self.client
        if self.pull_policy == "always":
            self._pull(image)
        try:
            return client.create_container(image, **kwargs)["Id"]
        except docker.errors.NotFound as e:
            if self.pull_policy == "never" or "image" not in str(e).lower():
                raise WorkloadError(f"image {image} is not on the container engine: {e.explanation}") from e
        self._pull(image)
        return client.create_container(image, **kwargs)["Id"]

    def _pull(self, image: str) -> None:
        self.log.info("Pulling image %s", image)
        error = None
        try:
            # Engines report a failed pull inside a successful answer, as a line with "error".
            for line in self.client.pull(image, stream=True, decode=True):
                error = line.get("error") or error
        except docker.errors.APIError as e:
            error = e.explanation or str(e)
        if error:
            raise WorkloadError(f"cannot pull image {image}: {error}")

    def _start(self, workload: Workload) -> Handle:
        client = self.client
        self._remove(workload.id)
        containers.ensure_network(client, self.network_name, containers.labels(ROLE, instance=self.instance))
        image = self._image(workload)
        if workload.kind == "model":
            if not workload.model_dir:
                raise WorkloadError(f"model workload {workload.id} has no model_dir")
            port: int | None = MODEL_PORT
            command: list[str] | None = model_server_args(workload.name, MODEL_MOUNT, "0.0.0.0", MODEL_PORT)
        elif workload.kind == "service":
            if not workload.port:
                raise WorkloadError(f"service {workload.name} needs the port it listens on")
            port, command = workload.port, list(workload.command) or None
        else:
            port, command = None, list(workload.command) or None
        env = dict(workload.env)
        if port is not None:
            env["PORT"] = str(port)
        binds = {}
        if workload.kind == "model" and self.model_transfer == "mount":
            binds[str(Path(workload.model_dir).absolute())] = {"bind": MODEL_MOUNT, "mode": "ro"}
        publish = self.publish_host_port and port is not None
        host_config = client.create_host_config(
            binds=binds or None,
            port_bindings={port: (PUBLISH_IP, None)} if publish else None,
            network_mode=self.network_name,
            **containers.host_config(workload.resources),
            **containers.security_settings(),
        )
        if workload.replicas > 1:
            self.log.warning("The docker runtime runs one container of %s, not %d", workload.id, workload.replicas)
        try:
            container = self._create(
                image, command=command, name=workload.id, environment=env, labels=self._labels(workload, port),
                host_config=host_config, user=containers.container_user(), ports=[port] if port else None,
                detach=True,
            )
            if workload.kind == "model" and self.model_transfer == "copy":
                with _model_archive(workload.model_dir) as archive:
                    client.put_archive(container, "/", archive)
            client.start(container)
        except docker.errors.APIError as e:
            self._remove(workload.id)
            raise WorkloadError(f"cannot start {workload.kind} {workload.name}: {e.explanation or e}") from e
        self.log.info("Started %s %s/%s as container %s (%s)", workload.kind, workload.namespace, workload.name,
                      workload.id, container[:12])
        return self._handle(client.inspect_container(container))

    def _handle(self, info: dict) -> Handle:
        labels = info["Config"]["Labels"] or {}
        port = int(labels[PORT_LABEL]) if labels.get(PORT_LABEL) else None
        url = None
        host_port = None
        if port is not None:
            if self.publish_host_port:
                bound = (info["NetworkSettings"].get("Ports") or {}).get(f"{port}/tcp") or []
                host_port = next((int(b["HostPort"]) for b in bound if b.get("HostPort")), None)
                url = f"http://{PUBLISH_IP}:{host_port}" if host_port else None
            else:
                network = (info["NetworkSettings"].get("Networks") or {}).get(self.network_name) or {}
                url = f"http://{network['IPAddress']}:{port}" if network.get("IPAddress") else None
        workload_id = labels.get(f"{containers.LABEL_PREFIX}workload") or info["Name"].lstrip("/")
        ref = {"container": info["Id"], "name": info["Name"].lstrip("/"), "kind": labels.get(
            f"{containers.LABEL_PREFIX}kind"), "port": port, "host_port": host_port}
        return Handle(workload_id, ref, url)

    async def start(self, workload: Workload) -> Handle:
        return await self._call(f"starting {workload.id}", self._start, workload)

    # --- state, stop, list ---

    def _container(self, handle: Handle) -> str:
        return handle.ref.get("container") or handle.workload_id

    def _inspect(self, handle: Handle) -> dict | None:
        try:
            info = self.client.inspect_container(self._container(handle))
        except docker.errors.NotFound:
            return None
        labels = info["Config"]["Labels"] or {}
        if labels.get(f"{containers.LABEL_PREFIX}instance") != self.instance:
            return None
        return info

    def _state(self, handle: Handle) -> State:
        info = self._inspect(handle)
        if info is None:
            return State("gone")
        state = info["State"]
        if state.get("Status") in ("created", "running", "restarting", "paused") or state.get("Running"):
            return State("running")
        message = "OOMKilled: the container ran out of memory" if state.get("OOMKilled") else (
            state.get("Error") or None)
        return State("exited", int(state.get("ExitCode", -1)), message)

    async def state(self, handle: Handle) -> State:
        return await self._call(f"inspecting {handle.workload_id}", self._state, handle)

    def _remove(self, container: str) -> None:
        client = self.client
        try:
            info = client.inspect_container(container)
        except docker.errors.NotFound:
            return
        if (info["Config"]["Labels"] or {}).get(f"{containers.LABEL_PREFIX}instance") != self.instance:
            raise WorkloadError(f"container {container} is not one of this platform's: not touched")
        self.log.info("Removing container %s (%s)", info["Name"].lstrip("/"), info["Id"][:12])
        with contextlib.suppress(docker.errors.NotFound):
            if info["State"].get("Running"):
                client.stop(info["Id"], timeout=int(self.stop_timeout))
        with contextlib.suppress(docker.errors.NotFound):
            client.remove_container(info["Id"], v=True, force=True)

    async def stop(self, handle: Handle) -> None:
        await self._call(f"removing {handle.workload_id}", self._remove, self._container(handle))

    def _list(self) -> list[Handle]:
        client = self.client
        filters = {"label": [f"{containers.LABEL_PREFIX}role={ROLE}",
                             f"{containers.LABEL_PREFIX}instance={self.instance}"]}
        handles = []
        for summary in client.containers(all=True, filters=filters):
            with contextlib.suppress(docker.errors.NotFound):
                handles.append(self._handle(client.inspect_container(summary["Id"])))
        return handles

    async def list(self) -> list[Handle]:
        return await self._call("listing deployments", self._list)

    # --- logs ---

    async def logs(self, handle: Handle, tail: int | None = None) -> str:
        if tail is not None and tail <= 0:
            return ""

        def read() -> bytes:
            try:
                return self.client.logs(self._container(handle), stdout=True, stderr=True,
                                        tail="all" if tail is None else tail)
            except docker.errors.NotFound:
                return b""

        return (await self._call(f"reading the log of {handle.workload_id}", read)).decode("utf-8", "replace")

    async def follow(self, handle: Handle) -> AsyncIterator[str]:
        def open_stream():
            try:
                return self.client.logs(self._container(handle), stdout=True, stderr=True, stream=True, follow=True)
            except docker.errors.NotFound:
                return None

        stream = await self._call(f"following the log of {handle.workload_id}", open_stream)
        if stream is None:
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                chunk = await self._call(f"following the log of {handle.workload_id}", next, stream, None)
                if chunk is None:
                    break
                if text := decoder.decode(chunk):
                    yield text
            if rest := decoder.decode(b"", final=True):
                yield rest
        finally:
            # Unblocks a thread still waiting for the next line when the reader goes away.
            with contextlib.suppress(Exception):
                stream.close()

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

