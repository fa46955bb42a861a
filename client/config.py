"""Where the hub and the registry are, and the token to use: from arguments or the environment.

Inside a workspace JupyterHub sets ``JUPYTERHUB_API_URL`` and ``JUPYTERHUB_API_TOKEN`` (and the
platform adds ``MLLAB_URL`` / ``MLLAB_REGISTRY_URL``); on a laptop people set ``MLLAB_URL`` and
``MLLAB_TOKEN`` (a token from ``<hub>/hub/token``). The deployments service is always
``<hub>/services/deployments/``: its endpoints are reached through the hub's proxy, so it has no
address of its own to configure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ConfigError

HOW_TO_CONFIGURE = (
    "set MLLAB_URL (e.g. https://mllab.example.org/) and MLLAB_TOKEN (a token from <hub>/hub/token), "
    "or run inside an ML Lab workspace"
)


@dataclass(frozen=True)
class Settings:
    """The addresses and token a :class:`~mllab.client.Client` uses; URLs end with ``/``."""

    hub_url: str
    hub_api_url: str
    registry_url: str
    token: str

    @property
    def deployments_url(self) -> str:
        """The deployments service, ``<hub>/services/deployments/``: always behind the hub's own proxy."""
        return self.hub_url + "services/deployments/"


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _checked(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{source} must be an http(s) URL such as https://mllab.example.org/, not {url!r}")
    return _with_slash(url)


def hub_url_from_api_url(api_url: str) -> str:
    """``http://hub:8081/prefix/hub/api`` -> ``http://hub:8081/prefix/``."""
    url = _with_slash(api_url)
    for suffix in ("hub/api/", "api/"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def settings_from_env(
    env: Mapping[str, str] | None = None,
    url: str | None = None,
    token: str | None = None,
    registry_url: str | None = None,
) -> Settings:
    """Settings from explicit arguments, else the environment ``env`` (``os.environ`` by default).

    - hub: ``url``, else ``$MLLAB_URL``, else derived from ``$JUPYTERHUB_API_URL``;
    - token: ``token``, else ``$MLLAB_TOKEN``, else ``$JUPYTERHUB_API_TOKEN``;
    - hub API: ``$JUPYTERHUB_API_URL`` when the token is the workspace's own (it is the hub's internal
      address, always reachable from the workspace), else ``<hub>/hub/api/``;
    - registry: ``registry_url``, else ``$MLLAB_REGISTRY_URL``, else ``<hub>/services/registry/``.
    """
    env = os.environ if env is None else env
    api_url = env.get("JUPYTERHUB_API_URL", "")
    own_token = not token and not env.get("MLLAB_TOKEN")
    token = token or env.get("MLLAB_TOKEN") or env.get("JUPYTERHUB_API_TOKEN", "")
    if url:
        hub_url = _checked(url, "url")
    elif env.get("MLLAB_URL"):
        hub_url = _checked(env["MLLAB_URL"], "MLLAB_URL")
    elif api_url:
        hub_url = hub_url_from_api_url(_checked(api_url, "JUPYTERHUB_API_URL"))
    else:
        raise ConfigError(f"No ML Lab Hub configured: {HOW_TO_CONFIGURE}.")
    if not token:
        raise ConfigError(f"No token for {hub_url}: {HOW_TO_CONFIGURE}.")
    hub_api_url = _checked(api_url, "JUPYTERHUB_API_URL") if api_url and own_token else hub_url + "hub/api/"
    if registry_url:
        registry = _checked(registry_url, "registry_url")
    elif env.get("MLLAB_REGISTRY_URL"):
        registry = _checked(env["MLLAB_REGISTRY_URL"], "MLLAB_REGISTRY_URL")
    else:
        registry = hub_url + "services/registry/"
    return Settings(hub_url=hub_url, hub_api_url=hub_api_url, registry_url=registry, token=token)


def workspace_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The workspace this process runs in, for model lineage: the named server, else the OAuth client id."""
    env = os.environ if env is None else env
    return env.get("JUPYTERHUB_SERVER_NAME") or env.get("JUPYTERHUB_CLIENT_ID") or None
