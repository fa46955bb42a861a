"""Workloads as containers on Docker or podman (its Docker API), one container per workload.

Containers are named by the workload id, labelled ``org.mllab.role=deployment`` with the
workload's id, kind, namespace, name and the platform's `instance` (so `list` finds them), and
hardened as workspaces are (`containers.security_settings`: user 1000, no capabilities, no
privilege escalation).

Workloads reach each other only through the platform's proxy, where the invoke scope is
checked: each container sits alone on a bridge network of its own, named after it (the
workload id) and labelled as it is.  Bridge networks are isolated from each other: Docker
always does so, podman's Docker API creates its networks with ``isolate=true`` (netavark drops
traffic between isolated networks; see `NETWORK_OPTIONS`).  The network goes with its
container (`stop`), and `list` removes networks whose container is gone.  One network per
workload means one bridge and one address range each: podman hands out /24 ranges from
10.89.0.0 on (300 networks made in 8 s here); Docker's default address pools hold about 30
networks, so a Docker host running more workloads needs more (``default-address-pools`` in
``daemon.json``, e.g. ``{"base": "10.200.0.0/16", "size": 24}`` for 256).

The service reaches a model or service either through a port published on 127.0.0.1 only
(``publish_host_port = True``: the service runs on the host, ``mllab up``), or at the
container's address on its network (``False``: the service runs in a container, as in the
compose file; that container, `DockerRuntime.service_container`, joins each workload's network
while the workload runs).  A model's files are bind-mounted read-only at `MODEL_MOUNT`,
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
import re
import socket
import tarfile
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from mllab.hub.backends import containers
from traitlets import Bool, Enum, Unicode, default, observe

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
#: Where a workload listens inside its container (``$HOST``): every address of the container's own
#: network namespace, which only its network's members (itself, the service) and published ports reach.
LISTEN_HOST = "0.0.0.0"
#: Options of each workload's bridge network.  podman (netavark) isolates networks only when asked:
#: ``isolate`` drops traffic between two isolated networks (podman 4's Docker API sets it on every
#: network it creates whatever is asked; podman's own CLI does not).  Docker ignores options its
#: bridge driver does not know and isolates its bridge networks from each other anyway.
NETWORK_OPTIONS = {"isolate": "true"}
#: The id in a container's ``/proc/self/mountinfo``: its ``/etc/hostname`` is a file of the engine's
#: folder of that container (``/var/lib/docker/containers/<id>/hostname``, podman's
#: ``.../overlay-containers/<id>/userdata/hostname``).
_MOUNTED_ID = re.compile(r"containers/([0-9a-f]{64})/")


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


def own_container_id(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The id of the container this process runs in, read from where its ``/etc/hostname`` comes
    from; None outside a container (or on an engine that mounts it otherwise)."""
    try:
        lines = Path(mountinfo).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/etc/hostname" and (found := _MOUNTED_ID.search(fields[3])):
            return found.group(1)
    return None


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
        "",
        help="""
        No longer used: each workload has a bridge network of its own, named after its
        container, so that workloads reach each other only through the platform's proxy.

        .. deprecated:: the shared network let every workload reach every other one directly.
        """,
    ).tag(config=True)

    @observe("network_name")
    def _network_name_ignored(self, change: dict) -> None:
        if change["new"]:
            self.log.warning("DockerRuntime.network_name = %r is ignored: each workload has a network of its "
                             "own now; remove the setting", change["new"])

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
        address on the workload's own network (for a service running in a container, as in the
        compose file: that container, `service_container`, joins the network of each workload
        while it runs); nothing is published then.

            c.DockerRuntime.publish_host_port = False
        """,
    ).tag(config=True)

    service_container = Unicode(
        help="""
        With ``publish_host_port = False``: the container the deployments service runs in (name
        or id), which joins each workload's network while the workload runs, so that it alone
        reaches the workload.

        Default: the container this process runs in, found in ``/proc/self/mountinfo`` (where its
        ``/etc/hostname`` comes from), else this machine's host name (Docker's and podman's
        default host name is the container's short id).  Empty with ``publish_host_port = True``;
        set it empty too for a service on the engine's host that reaches container addresses
        directly (a rootful engine routes them).

            c.DockerRuntime.service_container = "mllab-hub-1"
        """,
    ).tag(config=True)

    @default("service_container")
    def _default_service_container(self) -> str:
        if self.publish_host_port:
            return ""
        return own_container_id() or socket.gethostname()

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
        # Workloads whose network exists before their container does: not orphans (see `_tidy_networks`).
        self._starting: set[str] = set()
        self._starting_lock = threading.Lock()

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
        with self._starting_lock:
            self._starting.add(workload.id)
        try:
            self._remove(workload.id, network=workload.id)
            return self._create_and_start(client, workload)
        finally:
            with self._starting_lock:
                self._starting.discard(workload.id)

    def _create_and_start(self, client: docker.APIClient, workload: Workload) -> Handle:
        image = self._image(workload)
        if workload.kind == "model":
            if not workload.model_dir:
                raise WorkloadError(f"model workload {workload.id} has no model_dir")
            port: int | None = MODEL_PORT
            command: list[str] | None = model_server_args(workload.name, MODEL_MOUNT, LISTEN_HOST, MODEL_PORT)
        elif workload.kind == "service":
            if not workload.port:
                raise WorkloadError(f"service {workload.name} needs the port it listens on")
            port, command = workload.port, list(workload.command) or None
        else:
            port, command = None, list(workload.command) or None
        env = dict(workload.env)
        if port is not None:
            env.update(PORT=str(port), HOST=LISTEN_HOST)
        binds = {}
        if workload.kind == "model" and self.model_transfer == "mount":
            binds[str(Path(workload.model_dir).absolute())] = {"bind": MODEL_MOUNT, "mode": "ro"}
        publish = self.publish_host_port and port is not None
        if workload.replicas > 1:
            self.log.warning("The docker runtime runs one container of %s, not %d", workload.id, workload.replicas)
        network = workload.id  # its own (`_make_network`)
        try:
            self._make_network(workload)
            host_config = client.create_host_config(
                binds=binds or None,
                port_bindings={port: (PUBLISH_IP, None)} if publish else None,
                network_mode=network,
                **containers.host_config(workload.resources),
                **containers.security_settings(),
            )
            container = self._create(
                image, command=command, name=workload.id, environment=env, labels=self._labels(workload, port),
                host_config=host_config, user=containers.container_user(), ports=[port] if port else None,
                detach=True,
            )
            if workload.kind == "model" and self.model_transfer == "copy":
                with _model_archive(workload.model_dir) as archive:
                    client.put_archive(container, "/", archive)
            client.start(container)
        except BaseException as e:
            # Nothing of a workload that did not start stays behind: neither its container nor its network.
            with contextlib.suppress(Exception):
                self._remove(workload.id, network=network)
            if isinstance(e, docker.errors.APIError):
                raise WorkloadError(f"cannot start {workload.kind} {workload.name}: {e.explanation or e}") from e
            raise
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
                # Its own network is named after it (`_make_network`).
                network = (info["NetworkSettings"].get("Networks") or {}).get(info["Name"].lstrip("/")) or {}
                url = f"http://{network['IPAddress']}:{port}" if network.get("IPAddress") else None
        workload_id = labels.get(f"{containers.LABEL_PREFIX}workload") or info["Name"].lstrip("/")
        ref = {"container": info["Id"], "name": info["Name"].lstrip("/"), "kind": labels.get(
            f"{containers.LABEL_PREFIX}kind"), "port": port, "host_port": host_port}
        return Handle(workload_id, ref, url)

    # --- networks: one per workload ---

    def _make_network(self, workload: Workload) -> None:
        """Create the workload's own network, named after its container, and let the service's
        container in.  One of that name left by this platform is used; another's is refused."""
        client, name = self.client, workload.id
        try:
            client.create_network(name, driver="bridge", options=NETWORK_OPTIONS, labels=self._labels(workload, None),
                                  check_duplicate=True)
            self.log.info("Created network %s for %s %s/%s", name, workload.kind, workload.namespace, workload.name)
        except docker.errors.APIError as e:
            if e.status_code != 409:
                raise WorkloadError(
                    f"cannot create the network of {workload.kind} {workload.name}: {e.explanation or e} (each "
                    "workload has a network of its own: when the engine has no address range left, give it more, "
                    "e.g. Docker's default-address-pools with /24 or smaller networks)") from e
            labels = client.inspect_network(name).get("Labels") or {}
            if labels.get(f"{containers.LABEL_PREFIX}instance") != self.instance:
                raise WorkloadError(f"network {name} is not one of this platform's: not used") from e
        if self.service_container:
            self._join(name)

    def _join(self, network: str) -> None:
        """Connect the service's own container to ``network`` (``publish_host_port = False``)."""
        try:
            self.client.connect_container_to_network(self.service_container, network)
        except docker.errors.NotFound as e:
            raise WorkloadError(
                f"the deployments service's container {self.service_container!r} is not on the engine, so it "
                f"cannot reach the workload on network {network}: set c.DockerRuntime.service_container to the "
                "name of the container the service runs in") from e
        self.log.debug("Connected container %s to network %s", self.service_container, network)

    def _remove_network(self, name: str) -> None:
        """Remove network ``name`` (or id) if it is one of this platform's workloads', disconnecting what is
        still on it (the service's container); nothing when it is gone."""
        client = self.client
        try:
            info = client.inspect_network(name)
        except docker.errors.NotFound:
            return
        labels = info.get("Labels") or {}
        if (labels.get(f"{containers.LABEL_PREFIX}role") != ROLE
                or labels.get(f"{containers.LABEL_PREFIX}instance") != self.instance):
            self.log.debug("Not removing network %s: not a workload network of this platform", name)
            return
        for member in info.get("Containers") or {}:
            # A member that already left (or went) is not an error; one that stays makes the removal fail.
            with contextlib.suppress(docker.errors.APIError):
                client.disconnect_container_from_network(member, info["Id"], force=True)
        self.log.info("Removing network %s (%s)", info["Name"], info["Id"][:12])
        with contextlib.suppress(docker.errors.NotFound):
            client.remove_network(info["Id"])

    def _workload_networks(self) -> list[dict]:
        filters = {"label": [f"{containers.LABEL_PREFIX}role={ROLE}",
                             f"{containers.LABEL_PREFIX}instance={self.instance}"]}
        # Only those of one workload: the network all workloads shared before (same role and
        # instance, no workload label) stays, with the workloads still running on it.
        return [network for network in self.client.networks(filters=filters)
                if (network.get("Labels") or {}).get(f"{containers.LABEL_PREFIX}workload")]

    def _tidy_networks(self, networks: list[dict], starting: set[str], workloads: list[Handle]) -> None:
        """Remove the workload networks whose container is gone (the service ended between making one
        and its container, or the container was removed by hand), and let the service's container
        (recreated since, as on an upgrade) back into those of the workloads that run.

        ``networks`` were listed before ``starting`` was copied, and that before ``workloads`` were:
        a network whose start was under way then is in ``starting``, one whose start had ended has
        its container in ``workloads``.  Removal goes by id, so a network made anew since stays.
        """
        present = {handle.workload_id for handle in workloads}
        for network in networks:
            name = network["Name"]
            if name in present or name in starting:
                continue
            with self._starting_lock:
                if name in self._starting:
                    continue
                self.log.info("Removing network %s: its workload's container is gone", name)
                try:
                    self._remove_network(network["Id"])
                except docker.errors.APIError:
                    self.log.exception("Removing network %s failed", name)
        if self.service_container:
            self._rejoin({network["Name"] for network in networks}, workloads)

    def _rejoin(self, networks: set[str], workloads: list[Handle]) -> None:
        try:
            info = self.client.inspect_container(self.service_container)
        except docker.errors.NotFound:
            self.log.warning("The deployments service's container %s is not on the engine "
                             "(c.DockerRuntime.service_container)", self.service_container)
            return
        joined = set(info["NetworkSettings"].get("Networks") or {})
        for handle in workloads:
            name = handle.workload_id
            if handle.ref.get("port") is not None and name in networks and name not in joined:
                try:
                    self._join(name)
                except (docker.errors.APIError, WorkloadError):
                    self.log.exception("Connecting container %s to network %s failed", self.service_container, name)

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

    def _remove(self, container: str, network: str | None = None) -> None:
        """Remove ``container`` and then ``network`` (default: the container's own), each if it is
        this platform's; what is gone already is not an error."""
        client = self.client
        try:
            info = client.inspect_container(container)
        except docker.errors.NotFound:
            info = None
        if info is not None:
            if (info["Config"]["Labels"] or {}).get(f"{containers.LABEL_PREFIX}instance") != self.instance:
                raise WorkloadError(f"container {container} is not one of this platform's: not touched")
            network = network or info["Name"].lstrip("/")
            self.log.info("Removing container %s (%s)", info["Name"].lstrip("/"), info["Id"][:12])
            with contextlib.suppress(docker.errors.NotFound):
                if info["State"].get("Running"):
                    client.stop(info["Id"], timeout=int(self.stop_timeout))
            with contextlib.suppress(docker.errors.NotFound):
                client.remove_container(info["Id"], v=True, force=True)
        if network:
            self._remove_network(network)

    async def stop(self, handle: Handle) -> None:
        await self._call(f"removing {handle.workload_id}", self._remove, self._container(handle), handle.workload_id)

    def _list(self) -> list[Handle]:
        client = self.client
        # In this order, for `_tidy_networks`: the networks, the starts under way, the containers.
        networks = self._workload_networks()
        with self._starting_lock:
            starting = set(self._starting)
        filters = {"label": [f"{containers.LABEL_PREFIX}role={ROLE}",
                             f"{containers.LABEL_PREFIX}instance={self.instance}"]}
        handles = []
        for summary in client.containers(all=True, filters=filters):
            with contextlib.suppress(docker.errors.NotFound):
                handles.append(self._handle(client.inspect_container(summary["Id"])))
        self._tidy_networks(networks, starting, handles)
        return handles

    async def list(self) -> list[Handle]:
        """This platform's workload containers; on the way, removes the networks left without one
        and reconnects the service's container to the networks it left (`_tidy_networks`)."""
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

