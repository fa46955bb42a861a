"""Assemble the JupyterHub configuration from the `MLLab` options.

Configuration flows one way: ``c.MLLab.*`` (from ``jupyterhub_config.py``, the ``mllab up``
flags or helm values) -> the JupyterHub, spawner, authenticator and service settings
below.  Anything the admin sets explicitly on those classes wins over what is derived here.

`configure` is a pure function of the settings: it writes no file, picks no port and
fetches nothing.  What must happen when the hub starts (folders, secrets, free ports) is
`mllab.hub.startup`'s, run by ``mllab up``.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

from traitlets.config import Config

from .auth import authenticator_config
from .backends import backend_config
from .culling import culler_role, culler_service
from .health import HEALTH_HANDLERS
from .platform import MLLab
from .scopes import custom_scopes, roles
from .services import check_deployments_runtime, service_declarations, service_roles
from .teams import TEAMS_HANDLERS

#: Where `configure` records what it derived, so that a second call (``mllab up`` derives
#: again once its command line is applied over a config file that called `configure`)
#: replaces its own earlier results and keeps only what the admin set.  A lower-case key
#: is a plain value to traitlets, not a class's section.
DERIVED = "mllab_derived"


def platform_config(mllab: MLLab, c: Config) -> Config:
    """The hub settings that follow from ``mllab``; ``c`` is the admin's own config."""
    data_dir = Path(mllab.data_dir)
    hub = Config()
    j = hub.JupyterHub

    j.db_url = mllab.db_url
    j.cookie_secret_file = str(data_dir / "jupyterhub_cookie_secret")
    j.pid_file = str(data_dir / "jupyterhub.pid")
    j.template_paths = [str(Path(__file__).parent / "templates")]
    # The Teams page (/hub/teams) is the hub's: it manages the hub's groups with its cookie.
    j.extra_handlers = [*TEAMS_HANDLERS, *HEALTH_HANDLERS]
    hub.ConfigurableHTTPProxy.pid_file = str(data_dir / "proxy.pid")

    ip = c.JupyterHub.get("ip") or "127.0.0.1"
    port = c.JupyterHub.get("port") or 8000
    hub_url = c.JupyterHub.get("bind_url") or f"http://{ip}:{port}"
    hub.merge(authenticator_config(mllab, hub_url))
    hub.Authenticator.admin_users = {mllab.admin_user}

    check_deployments_runtime(mllab, c)
    services, extra_scopes = service_declarations(mllab, c)
    j.custom_scopes = custom_scopes(extra_scopes)
    # Every user may open the services' pages (the services check their own scopes).
    with_pages = [service["name"] for service in services if "url" in service]
    load_roles = roles([mllab.admin_user], mllab.admin_groups, with_pages) + service_roles(services)
    culler = culler_service(mllab)
    if culler:
        services.append(culler)
        load_roles.append(culler_role())
    j.services = services
    j.load_roles = load_roles

    # Workspaces reach the platform where the proxy listens (a container: on that port of its host).
    hub.merge(backend_config(mllab, hub_url.rstrip("/") + "/"))
    return hub


def configure(c: Config) -> Config:
    """Fill ``c`` in with the platform's settings, below what ``c`` already sets.

    Call it at the end of ``jupyterhub_config.py``::

        from mllab.hub import configure
        configure(c)

    Calling it again, after changing settings, derives anew: the same settings always give
    the same config.
    """
    admin = admin_settings(c)
    derived = platform_config(MLLab(config=admin), admin)
    # Roles and services an admin lists join the platform's instead of replacing them.
    joined = {
        key: merge_by_name(derived.JupyterHub[key], admin.JupyterHub[key])
        for key in ("load_roles", "services")
        if key in admin.JupyterHub
    }
    result = deepcopy(derived)
    result.merge(admin)
    for key, value in joined.items():
        result.JupyterHub[key] = value
    result[DERIVED] = {
        "values": _flat(result),
        "admin": {section_key: value for section_key, value in _flat(admin).items()},
    }
    c.clear()
    c.merge(result)
    return c


def admin_settings(c: Config) -> Config:
    """``c`` without what an earlier `configure` derived (values the admin changed since stay)."""
    admin = deepcopy(c)
    record = admin.pop(DERIVED, None)
    if not record:
        return admin
    for (section, key), value in record["values"].items():
        if section in admin and admin[section].get(key) == value:
            if (section, key) in record["admin"]:
                admin[section][key] = record["admin"][(section, key)]
            else:
                del admin[section][key]
    return admin


def _flat(c: Config) -> dict[tuple[str, str], Any]:
    return {
        (section, key): deepcopy(value)
        for section, traits in c.items()
        if section != DERIVED and isinstance(traits, dict)
        for key, value in traits.items()
    }


def merge_by_name(platform: list[dict], admin: list[dict]) -> list[dict]:
    """The platform's named entries, with the admin's added, or replacing those of the same name."""
    merged = {entry["name"]: entry for entry in platform}
    merged.update({entry["name"]: entry for entry in admin})
    return list(merged.values())
