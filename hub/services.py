"""The platform's services, declared for ``c.JupyterHub.services``.

Services are a dict keyed by name so admins (and helm values) can add, change or remove one
by name; each entry may carry the custom scopes its component owns (``scopes``), which the
hub configuration registers.

A managed service (started by the hub) gets its settings as ``--Class.trait=value``
arguments: the ``c.MLLab`` short forms below, then whatever the admin set on the service's
own classes in ``jupyterhub_config.py`` (``c.RegistryApp.upload_expiry = ...``).  Secrets
never go on a command line, where any local user reads them with ``ps``: a database password
travels as libpq's own ``PGPASSWORD`` and S3 keys as boto3's own ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, next to JupyterHub's own variables.

An entry with an ``api_token`` is an external service: the hub proxies its ``url`` and does
not start it (``mllab-registry --config FILE``, as the helm chart runs it in its own pod).
"""

from __future__ import annotations

import json
import sys
from copy import deepcopy
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from sqlalchemy.engine import make_url
from traitlets.config import Config

from ..services.app import ServiceApp
from ..services.permissions import TEAMS_SCOPE
from .platform import MLLab
from .scopes import SCOPES


@dataclass(frozen=True)
class Builtin:
    """A built-in service: the application it runs and its scopes."""

    #: ``module:Class`` of its application, imported when needed (services build on mllab.hub).
    app_path: str
    #: What its OAuth tokens (browser logins) may carry, intersected with the user's.
    oauth_scopes: list[str]
    #: What the service's own token may do: its least-privilege role.
    own_scopes: list[str] = field(default_factory=list)

    @property
    def app(self) -> type[ServiceApp]:
        module, _, name = self.app_path.partition(":")
        return getattr(import_module(module), name)


BUILTIN: dict[str, Builtin] = {
    "registry": Builtin(
        "mllab.services.registry.app:RegistryApp",
        [*(f"custom:{kind}:{action}" for kind in ("datasets", "models") for action in SCOPES[kind]), TEAMS_SCOPE],
    ),
    "deployments": Builtin(
        "mllab.services.deployments.app:DeploymentsApp",
        # Deploying a model checks that the caller may read it, so browser logins carry that too.
        [*(f"custom:deployments:{action}" for action in SCOPES["deployments"]), "custom:models:read", TEAMS_SCOPE],
        # It fetches the model versions it serves, once it has checked that the caller may read them.
        own_scopes=["custom:models:read"],
    ),
}

#: Local ports of the managed services unless ``MLLab.service_ports`` says otherwise
#: (``mllab up`` picks free ones at start, so several hubs share a machine).
DEFAULT_PORTS = {"registry": 10101, "deployments": 10102}

#: The one table of ``c.MLLab`` options that set a service's trait: option -> ``Class.trait``.
#: A short form is passed on only when the admin set it; the trait's own default rules otherwise.
SERVICE_OPTIONS = {
    "registry_db_url": "RegistryApp.db_url",
    "storage": "RegistryApp.storage",
    "storage_dir": "LocalStorage.root",
    "s3_endpoint_url": "S3Storage.endpoint_url",
    "s3_public_endpoint_url": "S3Storage.public_endpoint_url",
    "s3_bucket": "S3Storage.bucket",
    "s3_region": "S3Storage.region",
}

#: ``c.MLLab`` options that set a service's trait whether the admin set them or not: facts of the
#: platform that the service acts on (the deployments runtime follows the workspace backend).
PLATFORM_OPTIONS = {
    "backend": "DeploymentsApp.workspace_backend",
}

#: Traits holding a database URL, whose password is moved off the command line.
_DATABASE_URLS = {"db_url"}


def service_settings(mllab: MLLab, c: Config, app: type[ServiceApp]) -> Config:
    """The settings of service ``app``: the data dir, the ``c.MLLab`` short forms, the admin's own."""
    sections = {cls.__name__ for cls in (ServiceApp, app, *app.classes)}
    settings = Config()
    settings.ServiceApp.data_dir = mllab.data_dir
    for option, target in SERVICE_OPTIONS.items():
        section, trait = target.split(".")
        if section in sections and option in c.MLLab:
            settings[section][trait] = getattr(mllab, option)
    for option, target in PLATFORM_OPTIONS.items():
        section, trait = target.split(".")
        if section in sections:
            settings[section][trait] = getattr(mllab, option)
    if "LocalRuntime" in sections and "cleanup_servers" in c.JupyterHub:
        # Local workloads are left running (to be adopted) when the hub leaves its servers running.
        settings.LocalRuntime.stop_with_service = bool(c.JupyterHub.cleanup_servers)
    for section in sections & set(c):
        settings[section].merge(deepcopy(c[section]))
    return settings


def command_line(settings: Config) -> tuple[list[str], dict[str, str]]:
    """``settings`` as ``--Class.trait=value`` arguments, and the environment for its secrets."""
    args, env = [], {}
    for section, traits in sorted(settings.items()):
        for trait, value in sorted(traits.items()):
            if trait in _DATABASE_URLS and isinstance(value, str) and "://" in value:
                url = make_url(value)
                if url.password:
                    env["PGPASSWORD"] = str(url.password)
                    value = url._replace(password=None).render_as_string(hide_password=False)
            args.append(f"--{section}.{trait}={value if isinstance(value, str) else json.dumps(value)}")
    return args, env


def s3_credentials(mllab: MLLab) -> dict[str, str]:
    """boto3's own variables for the S3 keys set on ``c.MLLab`` (else boto3 looks them up itself)."""
    env = {"AWS_ACCESS_KEY_ID": mllab.s3_access_key_id, "AWS_SECRET_ACCESS_KEY": mllab.s3_secret_access_key}
    return {key: value for key, value in env.items() if value}


def builtin_services(mllab: MLLab, c: Config) -> dict[str, dict[str, Any]]:
    """``registry`` and ``deployments``, run by the hub as ``python -m mllab.services.<name>``."""
    services = {}
    for name, builtin in BUILTIN.items():
        args, env = command_line(service_settings(mllab, c, builtin.app))
        services[name] = {
            "command": [sys.executable, "-m", f"mllab.services.{name}", *args],
            "url": f"http://127.0.0.1:{mllab.service_ports.get(name, DEFAULT_PORTS[name])}",
            "environment": {**env, **s3_credentials(mllab)} if name == "registry" else env,
            "oauth_client_allowed_scopes": list(builtin.oauth_scopes),
            "oauth_no_confirm": True,
        }
    return services


def service_declarations(mllab: MLLab, c: Config) -> tuple[list[dict], dict[str, str]]:
    """The ``c.JupyterHub.services`` list and the extra custom scopes services own."""
    services = builtin_services(mllab, c)
    for name, spec in mllab.services.items():
        if spec is None:
            services.pop(name, None)
            continue
        platform = services.get(name, {})
        if "api_token" in spec:
            # External: the hub proxies it and does not start it.
            platform = {key: value for key, value in platform.items() if key not in ("command", "environment")}
        services[name] = {**platform, **deepcopy(spec)}
    link_deployments_to_registry(services, c)
    extra_scopes: dict[str, str] = {}
    declarations: list[dict] = []
    for name, spec in services.items():
        extra_scopes.update(spec.pop("scopes", {}) or {})
        declarations.append({"name": name, **spec})
    return declarations, extra_scopes


def link_deployments_to_registry(services: dict[str, dict], c: Config) -> None:
    """A managed deployments service fetches models from the registry where the hub reaches it.

    Straight to the registry's own address, not through the public proxy, which a service
    inside the hub's machine or pod may not reach by its public name.
    """
    deployments, registry = services.get("deployments"), services.get("registry")
    if not (deployments and registry and "command" in deployments and "url" in registry):
        return
    if "registry_url" not in c.DeploymentsApp:
        url = registry["url"].rstrip("/") + "/services/registry/"
        deployments["command"] = [*deployments["command"], f"--DeploymentsApp.registry_url={url}"]


def check_deployments_runtime(mllab: MLLab, c: Config) -> None:
    """``ValueError`` naming the fix when the hub would run users' deployments as its own OS user on
    its machine (the local runtime) while workspaces run apart from it (``docker``, ``kubernetes``).

    Only a deployments service the hub starts is checked: an external one reads its own config
    file (and refuses commands on a local runtime there, see `DeploymentsApp.workspace_backend`).
    """
    spec = mllab.services.get("deployments", {})
    if mllab.backend == "local" or spec is None or "api_token" in spec:
        return
    from mllab.services.deployments.runtimes import RUNTIMES

    app = BUILTIN["deployments"].app
    if app(config=service_settings(mllab, c, app)).runtime != "local":
        return
    fix = "set c.DeploymentsApp.runtime = 'docker' or 'kubernetes'"
    if "runtime" in c.get("DeploymentsApp", {}) and mllab.backend in RUNTIMES:
        fix = f"remove c.DeploymentsApp.runtime (deployments then run where workspaces do), or {fix}"
    raise ValueError(
        f"DeploymentsApp.runtime = 'local' would run users' deployments as the hub's own OS user while "
        f"MLLab.backend = {mllab.backend!r} keeps workspaces apart from it: {fix}"
    )


def service_roles(declarations: list[dict]) -> list[dict]:
    """The least-privilege role of each declared built-in service that needs one."""
    declared = {spec["name"] for spec in declarations}
    return [
        {
            "name": f"{name}-service",
            "description": f"What the {name} service itself may do.",
            "scopes": list(builtin.own_scopes),
            "services": [name],
        }
        for name, builtin in BUILTIN.items()
        if builtin.own_scopes and name in declared
    ]
