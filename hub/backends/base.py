"""What every workspace backend shares: the platform's address inside the workspace.

A backend is a spawner class deriving from `MLLabSpawner` and from the spawner that does
the work (JupyterHub's local process spawner, DockerSpawner, KubeSpawner), registered as
the ``jupyterhub.spawners`` entry point ``mllab-<backend>``.  Its options are its own traits
(``c.MLLabDockerSpawner.hub_host``); `platform_settings` maps the platform-wide ``MLLab``
options onto them.  `MLLabContainerSpawner` holds what the container backends (Docker,
Kubernetes) share: the profiles, the home's mount point and their part of that mapping.
"""

from __future__ import annotations

from traitlets import Dict, List, Unicode, default
from traitlets.config import Config, LoggingConfigurable

from ..platform import MLLab


class MLLabSpawner(LoggingConfigurable):
    """Base of the platform's spawners: gives each workspace the platform's URLs.

    A mixin, first among a backend's bases (``class MLLabDockerSpawner(MLLabSpawner,
    DockerSpawner)``): JupyterHub's ``Spawner`` refuses subclasses without their own
    ``start``, ``stop`` and ``poll``.
    """

    platform_url = Unicode(
        help="""
        URL of the platform (the proxy, with the services) as seen from inside a workspace.

        Workspaces get it as ``$MLLAB_URL`` and the registry's under it as
        ``$MLLAB_REGISTRY_URL``, so the ``mllab`` client inside works with no configuration.
        Each backend has its default (the hub's own URL for local processes); set it when
        workspaces reach the platform by another name:

            c.MLLabKubeSpawner.platform_url = "http://proxy-public.mllab.svc/"
        """,
    ).tag(config=True)

    @default("default_url")
    def _default_default_url(self) -> str:
        return "/lab"

    @classmethod
    def platform_settings(cls, mllab: MLLab, public_url: str) -> Config:
        """The settings of this backend that follow from ``mllab``, without side effects.

        ``public_url`` is the hub's public URL as seen from the hub's machine.
        """
        raise NotImplementedError(f"{cls.__name__} does not say how MLLab options map onto it")

    async def engine_check(self) -> str:
        """What runs this user's workspaces, in a few public words; raises when it is unusable.

        The hub's health of workspaces (`mllab.hub.health`, read by ``mllab doctor``) calls it.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot check its engine")

    def platform_env(self) -> dict[str, str]:
        """The variables that point the workspace at the platform."""
        if not self.platform_url:
            return {}
        url = self.platform_url.rstrip("/") + "/"
        return {"MLLAB_URL": url, "MLLAB_REGISTRY_URL": url + "services/registry/"}

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        # What the admin set in Spawner.environment wins.
        for name, value in self.platform_env().items():
            env.setdefault(name, value)
        return env


class MLLabContainerSpawner(MLLabSpawner):
    """Base of the backends that run each workspace in a container, from a profile's image.

    Users choose one of the admin's profiles; the user's home is mounted at `home_path`.
    A mixin too, first among a backend's bases (``class MLLabKubeSpawner(MLLabContainerSpawner,
    KubeSpawner)``).
    """

    profiles = List(
        Dict(),
        help="""
        The profiles users choose from, as ``MLLab.profiles`` (set from there by the hub
        configuration).  A user cannot name an image or resources of their own.
        """,
    ).tag(config=True)

    home_path = Unicode(
        "/home/jovyan",
        help="""
        Where the user's home (a Docker volume, a Kubernetes PVC) is mounted in the workspace
        (``MLLab.workspace_home``).
        """,
    ).tag(config=True)

    @default("notebook_dir")
    def _default_notebook_dir(self) -> str:
        return self.home_path

    @classmethod
    def platform_settings(cls, mllab: MLLab, public_url: str) -> Config:
        c = Config()
        # Containers reach the hub over the network, not its loopback address.
        c.JupyterHub.hub_ip = "0.0.0.0"
        # Workspaces outlive the hub: restarting it (an upgrade, a crash) must not stop users'
        # work. The hub finds them again from its database, as z2jh's hub does.
        c.JupyterHub.cleanup_servers = False
        s = c[cls.__name__]
        s.profiles = list(mllab.profiles)
        s.image = mllab.workspace_image
        s.home_path = mllab.workspace_home
        return c
