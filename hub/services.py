"""The hub-managed services of the platform, declared for ``c.JupyterHub.services``.

Services are a dict keyed by name so admins (and helm values) can add, change or remove one
by name; each entry may carry the custom scopes its component owns (``scopes``), which the
hub configuration registers.  A service reads its settings from the environment the hub
gives it.
"""

from __future__ import annotations

import socket
import sys
from copy import deepcopy

from .platform import MLLab
from .scopes import SCOPES

#: Custom scopes the built-in services' OAuth tokens may carry (intersected with the user's).
_REGISTRY_SCOPES = [f"custom:{kind}:{action}" for kind in ("datasets", "models") for action in SCOPES[kind]]
_DEPLOYMENTS_SCOPES = [f"custom:deployments:{action}" for action in SCOPES["deployments"]]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def storage_environment(mllab: MLLab) -> dict[str, str]:
    """Artifact storage settings, as the environment of the services that read them."""
    env = {
        "MLLAB_DATA_DIR": mllab.data_dir,
        "MLLAB_STORAGE": mllab.storage,
        "MLLAB_STORAGE_DIR": mllab.storage_dir,
        "MLLAB_S3_ENDPOINT_URL": mllab.s3_endpoint_url,
        "MLLAB_S3_PUBLIC_ENDPOINT_URL": mllab.s3_public_endpoint_url or mllab.s3_endpoint_url,
        "MLLAB_S3_BUCKET": mllab.s3_bucket,
        "MLLAB_S3_REGION": mllab.s3_region,
        "MLLAB_S3_PART_CHECKSUMS": "1" if mllab.s3_part_checksums else "0",
    }
    if mllab.s3_access_key_id:
        env["AWS_ACCESS_KEY_ID"] = mllab.s3_access_key_id
    if mllab.s3_secret_access_key:
        env["AWS_SECRET_ACCESS_KEY"] = mllab.s3_secret_access_key
    return {key: value for key, value in env.items() if value}


def registry_environment(mllab: MLLab) -> dict[str, str]:
    """Settings of the registry service only: its database, transfers and cleanup."""
    return {
        "MLLAB_DB_URL": mllab.registry_db_url,
        "MLLAB_S3_STREAM": "1" if mllab.s3_stream else "",
        "MLLAB_UPLOAD_EXPIRY": str(mllab.upload_expiry),
        "MLLAB_CLEANUP_INTERVAL": str(mllab.registry_cleanup_interval),
        "MLLAB_GC_GRACE": str(mllab.registry_gc_grace),
    }


def builtin_services(mllab: MLLab) -> dict[str, dict]:
    """``registry`` and ``deployments``, run by the hub as ``python -m mllab.services.<name>``."""
    env = storage_environment(mllab)
    services = {}
    own_env = {"registry": registry_environment(mllab)}
    for name, allowed in (("registry", _REGISTRY_SCOPES), ("deployments", _DEPLOYMENTS_SCOPES)):
        port = mllab.service_ports.get(name) or free_port()
        services[name] = {
            "command": [sys.executable, "-m", f"mllab.services.{name}"],
            "url": f"http://127.0.0.1:{port}",
            "environment": {**env, **own_env.get(name, {})},
            # OAuth tokens issued to the service (browser logins) carry these scopes,
            # intersected with what the user holds.
            "oauth_client_allowed_scopes": list(allowed),
            "oauth_no_confirm": True,
        }
    return services


def service_declarations(mllab: MLLab) -> tuple[list[dict], dict[str, str]]:
    """The ``c.JupyterHub.services`` list and the extra custom scopes services own."""
    services = builtin_services(mllab)
    for name, spec in mllab.services.items():
        if spec is None:
            services.pop(name, None)
        else:
            services[name] = {**services.get(name, {}), **deepcopy(spec)}
    extra_scopes: dict[str, str] = {}
    declarations = []
    for name, spec in services.items():
        extra_scopes.update(spec.pop("scopes", {}) or {})
        declarations.append({"name": name, **spec})
    return declarations, extra_scopes
