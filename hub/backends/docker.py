"""Workspaces as Docker containers (entry point ``mllab-docker``), on Docker or podman.

Each workspace is a container on a dedicated network (no host ports published: the proxy
reaches it by its address on that network), started from the image of the profile the user
chose, with the user's home on a named volume that outlives the container.  The volume is
removed when the admin deletes the user (``DELETE /hub/api/users/<name>``).  Resources,
labels, the network and volume names come from `containers`, which deployments use too.
"""

from __future__ import annotations

import asyncio
import html
from functools import partial
from urllib.parse import urlparse

import docker.errors
from dockerspawner import DockerSpawner
from tornado.web import HTTPError
from traitlets import Integer, Unicode, default
from traitlets.config import Config

from ..platform import MLLab
from . import containers
from .base import MLLabContainerSpawner
from .profiles import Profile, parse_profiles, spawner_overrides


class MLLabDockerSpawner(MLLabContainerSpawner, containers.DockerEngine, DockerSpawner):
    """DockerSpawner whose users choose one of the admin's profiles, and nothing else."""

    hub_host = Unicode(
        "hub",
        help="""
        Host name by which workspace containers reach the hub's machine.

        Workspaces talk to the hub API at ``http://<hub_host>:<hub API port>`` and to the
        platform (the proxy, with the services) at ``http://<hub_host>:<platform_port>``.
        The default suits the compose file (the hub's container is ``hub`` on the
        workspaces' network).  With the hub running on the host: ``host.containers.internal``
        (podman), ``host.docker.internal`` (Docker Desktop) or the host's address; the hub
        and proxy must then listen on an address the containers reach
        (``mllab up --ip 0.0.0.0``).

            c.MLLabDockerSpawner.hub_host = "host.containers.internal"
        """,
    ).tag(config=True)

    platform_port = Integer(
        8000,
        help="""
        Port of the platform (the proxy) on the hub's machine, as workspaces reach it at
        ``hub_host``.  Set by the hub configuration from the hub's URL.
        """,
    ).tag(config=True)

    home_volume = Unicode(
        "mllab-home-{username}",
        help="""
        Name template of the named volume that holds each user's home; ``{username}`` (and
        ``{servername}``) are escaped to the characters volume names allow.

        The volume is kept when the workspace stops and removed when the user is deleted.

            c.MLLabDockerSpawner.home_volume = "ml-home-{username}"
        """,
    ).tag(config=True)

    # --- DockerSpawner's own options, with the platform's defaults ---

    @default("network_name")
    def _default_network_name(self) -> str:
        # The workspaces' network, created on first spawn (see `ensure_network`).
        return "mllab"

    @default("use_internal_ip")
    def _default_use_internal_ip(self) -> bool:
        # The proxy reaches each container on the network; no host port is published.
        return True

    @default("remove")
    def _default_remove(self) -> bool:
        # A new container at each start, so a changed profile applies; the home is on its volume.
        return True

    @default("prefix")
    def _default_prefix(self) -> str:
        return "mllab"

    @default("client_kwargs")
    def _default_client_kwargs(self) -> dict:
        return self.docker_client_kwargs()

    @default("hub_connect_url")
    def _default_hub_connect_url(self) -> str | None:
        # The hub API's port is known at run time only (mllab up picks a free one).
        if self.hub is None:
            return None
        return f"http://{self.hub_host}:{urlparse(self.hub.api_url).port}"

    @default("platform_url")
    def _default_platform_url(self) -> str:
        return f"http://{self.hub_host}:{self.platform_port}/"

    @default("extra_create_kwargs")
    def _default_extra_create_kwargs(self) -> dict:
        # DockerSpawner fills in {raw_username} (this user's name) when it creates the container.
        # The image's non-root user, whatever the image says.
        return {"labels": containers.labels("workspace", user="{raw_username}"), "user": containers.container_user()}

    @default("extra_host_config")
    def _default_extra_host_config(self) -> dict:
        # The hardening the Kubernetes pods get; a profile's resources are merged into it.
        return containers.security_settings()

    @default("format_volume_name")
    def _default_format_volume_name(self):
        def format_volume_name(template: str, spawner: MLLabDockerSpawner) -> str:
            return containers.volume_name(template, username=spawner.user.name, servername=spawner.name or "")

        return format_volume_name

    @default("volumes")
    def _default_volumes(self) -> dict:
        return {self.home_volume: self.home_path}

    # --- Profiles ---

    def parsed_profiles(self) -> list[Profile]:
        return parse_profiles(self.profiles, self.image)

    @default("allowed_images")
    def _default_allowed_images(self) -> list[str]:
        return sorted({p.image for p in self.parsed_profiles()})

    @default("options_form")
    def _default_options_form(self) -> str:
        profiles = self.parsed_profiles()
        if len(profiles) < 2:
            return ""
        choices = "\n".join(
            f'<label class="form-check"><input class="form-check-input" type="radio" name="profile" '
            f'value="{html.escape(p.slug)}"{" checked" if p.default else ""}> '
            f"<strong>{html.escape(p.display_name)}</strong> "
            f'<span class="text-muted">{html.escape(p.description or p.summary())}</span></label>'
            for p in profiles
        )
        return f"<fieldset><legend>Choose a workspace profile</legend>\n{choices}\n</fieldset>"

    @default("options_from_form")
    def _default_options_from_form(self):
        def options_from_form(formdata: dict[str, list[str]]) -> dict:
            return {"profile": formdata["profile"][0]} if formdata.get("profile") else {}

        return options_from_form

    @default("apply_user_options")
    def _default_apply_user_options(self):
        return type(self).apply_profile

    def apply_profile(self, user_options: dict) -> None:
        """Set this spawner up for the chosen profile; 400 for anything but a known profile."""
        profiles = self.parsed_profiles()
        slugs = [p.slug for p in profiles]
        unknown = sorted(set(user_options) - {"profile"})
        if unknown:
            raise HTTPError(400, f"Workspaces cannot set {', '.join(unknown)}: choose one of the profiles "
                                 f"{slugs} with {{\"profile\": <slug>}}.")
        slug = user_options.get("profile") or next(p.slug for p in profiles if p.default)
        profile = next((p for p in profiles if p.slug == slug), None)
        if profile is None:
            raise HTTPError(400, f"No workspace profile {slug!r}: choose one of {slugs}.")
        self.log.info("Starting %s with profile %s (%s)", self._log_name, profile.slug, profile.summary())
        for name, value in spawner_overrides(profile, "docker").items():
            current = getattr(self, name)
            merge = isinstance(value, dict) and isinstance(current, dict)
            setattr(self, name, {**current, **value} if merge else value)

    # --- Lifecycle ---

    async def start(self):
        await self.ensure_network()
        return await super().start()

    async def engine_check(self) -> str:
        version = await self.docker("version")
        return f"Docker API {version['ApiVersion']} ({version.get('Version', 'unknown version')})"

    async def ensure_network(self) -> None:
        """Create the workspaces' network if it does not exist yet."""
        ensure = partial(containers.ensure_network, self.client, self.network_name, containers.labels("workspaces"))
        if await asyncio.get_running_loop().run_in_executor(self.executor, ensure):
            self.log.info("Created network %s for workspaces", self.network_name)

    async def delete_forever(self) -> None:
        """Remove the user's home volume: called by the hub when the user (or a named server) is deleted."""
        name = self.format_volume_name(self.home_volume, self)
        if self.name and "{servername}" not in self.home_volume:
            self.log.info("Keeping home volume %s: %s shares it with the user's other servers", name, self._log_name)
            return
        self.log.info("Removing home volume %s of %s", name, self._log_name)
        try:
            await self.docker("remove_volume", name)
        except docker.errors.NotFound:
            self.log.debug("Home volume %s of %s is already gone", name, self._log_name)

    @classmethod
    def platform_settings(cls, mllab: MLLab, public_url: str) -> Config:
        c = super().platform_settings(mllab, public_url)
        url = urlparse(public_url)
        c[cls.__name__].platform_port = url.port or (443 if url.scheme == "https" else 80)
        return c
