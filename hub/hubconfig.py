"""Assemble the JupyterHub configuration from the `MLLab` options.

Configuration flows one way: ``c.MLLab.*`` (from ``jupyterhub_config.py``, the ``mllab up``
flags or helm values) -> the JupyterHub, spawner, authenticator and service settings
below.  Anything the admin sets explicitly on those classes wins over what is derived here.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from traitlets.config import Config

from .auth import authenticator_config
from .backends import backend_config, workspace_platform_url
from .culling import culler_role, culler_service
from .platform import MLLab
from .scopes import custom_scopes, roles
from .secrets import kept_secret
from .services import free_port, service_declarations

log = logging.getLogger("mllab")


def platform_config(mllab: MLLab, c: Config) -> Config:
    """The hub settings that follow from ``mllab``; ``c`` is the admin's own config."""
    data_dir = Path(mllab.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    hub = Config()
    j = hub.JupyterHub

    j.db_url = mllab.db_url
    j.cookie_secret_file = str(data_dir / "jupyterhub_cookie_secret")
    j.pid_file = str(data_dir / "jupyterhub.pid")
    j.template_paths = [str(Path(__file__).parent / "templates")]
    # Internal ports: free ones unless the admin fixed them, so several hubs share a machine.
    if "hub_port" not in c.JupyterHub:
        j.hub_port = free_port()
    proxy_token, _ = kept_secret(data_dir / "proxy-token")
    hub.ConfigurableHTTPProxy.auth_token = proxy_token
    if "api_url" not in c.ConfigurableHTTPProxy:
        hub.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{free_port()}"
    hub.ConfigurableHTTPProxy.pid_file = str(data_dir / "proxy.pid")

    ip = c.JupyterHub.get("ip") or "127.0.0.1"
    port = c.JupyterHub.get("port") or 8000
    hub_url = c.JupyterHub.get("bind_url") or f"http://{ip}:{port}"
    hub.merge(authenticator_config(mllab, hub_url))
    hub.Authenticator.admin_users = {mllab.admin_user}

    services, extra_scopes = service_declarations(mllab)
    j.custom_scopes = custom_scopes(extra_scopes)
    load_roles = roles([mllab.admin_user], mllab.admin_groups)
    culler = culler_service(mllab)
    if culler:
        services.append(culler)
        load_roles.append(culler_role())
    j.services = services
    j.load_roles = load_roles

    hub.merge(backend_config(mllab, c.JupyterHub.get("hub_port") or j.hub_port))
    # The client inside a workspace finds the platform with no configuration, at an address
    # it can reach (a container cannot reach the hub's loopback address).
    public_url = workspace_platform_url(mllab, (mllab.public_url or hub_url).rstrip("/") + "/", port)
    hub.Spawner.environment = {
        "MLLAB_URL": public_url,
        "MLLAB_REGISTRY_URL": public_url + "services/registry/",
        "MLLAB_DEPLOYMENTS_URL": public_url + "services/deployments/",
    }
    return hub


_launcher_derives = False


@contextmanager
def launcher_derives() -> Iterator[None]:
    """While ``mllab up`` loads a config file, ``configure(c)`` in that file waits.

    The launcher derives the settings itself once the command line is applied over the
    file, so ``--data-dir`` and friends win over the file as they should.
    """
    global _launcher_derives
    _launcher_derives = True
    try:
        yield
    finally:
        _launcher_derives = False


def configure(c: Config) -> Config:
    """Fill ``c`` in with the platform's settings, below what ``c`` already sets.

    Call it at the end of ``jupyterhub_config.py``::

        from mllab.hub import configure
        configure(c)
    """
    if _launcher_derives:
        return c
    mllab = MLLab(config=c)
    derived = platform_config(mllab, c)
    # Roles and services an admin lists join the platform's instead of replacing them.
    joined = {
        key: merge_by_name(derived.JupyterHub[key], c.JupyterHub[key])
        for key in ("load_roles", "services")
        if key in c.JupyterHub
    }
    derived.merge(c)
    c.merge(derived)
    for key, value in joined.items():
        c.JupyterHub[key] = value
    return c


def merge_by_name(platform: list[dict], admin: list[dict]) -> list[dict]:
    """The platform's named entries, with the admin's added, or replacing those of the same name."""
    merged = {entry["name"]: entry for entry in platform}
    merged.update({entry["name"]: entry for entry in admin})
    return list(merged.values())


def python_bin_on_path() -> None:
    """Put this Python's scripts first on PATH, so spawned servers use the same environment."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
