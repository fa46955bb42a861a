"""Workspaces as Docker containers (DockerSpawner), on Docker or podman.

Each workspace is a container on a dedicated network (no host ports published: the proxy
reaches it by its address on that network), started from the image of the profile the user
chose, with the user's home on a named volume that outlives the container.  The volume is
removed when the admin deletes the user (``DELETE /hub/api/users/<name>``).
"""

from __future__ import annotations

import html

import docker.errors
from dockerspawner import DockerSpawner
from dockerspawner.volumenamingstrategy import escaped_format_volume_name
from tornado.web import HTTPError
from traitlets import Dict, List, Unicode, default
from traitlets.config import Config

from ..platform import MLLab
from .profiles import Profile, parse_profiles, spawner_overrides


class MLLabDockerSpawner(DockerSpawner):
    """DockerSpawner whose users choose one of the admin's profiles, and nothing else."""

    profiles = List(
        Dict(),
        help="""
        The profiles users choose from, as ``MLLab.profiles`` (set from there by the hub
        configuration).  A user option other than ``profile`` is refused.
        """,
    ).tag(config=True)

    home_volume = Unicode(
        "mllab-home-{username}",
        help="""
        Name template of the named volume that holds each user's home (``{username}`` is
        the escaped user name).  It is kept when the workspace stops and removed when the
        user is deleted.
        """,
    ).tag(config=True)

    home_path = Unicode("/home/jovyan", help="Where the home volume is mounted in the container.").tag(config=True)

    def parsed_profiles(self) -> list[Profile]:
        return parse_profiles(self.profiles, self.image)

    @default("format_volume_name")
    def _default_format_volume_name(self):
        # Volume names allow fewer characters than user names.
        return escaped_format_volume_name

    @default("volumes")
    def _default_volumes(self) -> dict:
        return {self.home_volume: self.home_path}

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

    async def start(self):
        await self.ensure_network()
        return await super().start()

    async def ensure_network(self) -> None:
        """Create the workspaces' network if it does not exist yet."""
        if self.network_name in {"bridge", "host", "none"}:
            return
        if await self.docker("networks", names=[self.network_name]):
            return
        self.log.info("Creating network %s for workspaces", self.network_name)
        try:
            await self.docker("create_network", self.network_name, driver="bridge",
                              labels={"org.mllab.role": "workspaces"})
        except docker.errors.APIError as e:
            if e.status_code != 409:  # created meanwhile by another spawn
                raise

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


def docker_config(mllab: MLLab, hub_port: int) -> Config:
    """DockerSpawner settings for ``MLLab.backend = "docker"``."""
    c = Config()
    c.JupyterHub.spawner_class = MLLabDockerSpawner
    # Containers reach the hub over the network, not its loopback address.
    c.JupyterHub.hub_ip = "0.0.0.0"
    s = c.MLLabDockerSpawner
    s.profiles = list(mllab.profiles)
    s.image = mllab.workspace_image
    s.home_volume = mllab.docker_volume_name_template
    s.home_path = mllab.workspace_home
    s.notebook_dir = mllab.workspace_home
    s.network_name = mllab.docker_network
    s.use_internal_ip = True
    s.hub_connect_url = f"http://{mllab.docker_hub_host}:{hub_port}"
    # A new container at each start, so a changed profile applies; the home is on its volume.
    s.remove = True
    s.pull_policy = "ifnotpresent"
    s.prefix = "mllab"
    s.default_url = "/lab"
    if mllab.docker_host:
        s.client_kwargs = {"base_url": mllab.docker_host}
    return c
