"""The platform's own options: the `MLLab` configurable.

Everything an admin chooses about ML Lab Hub itself (which backend runs workspaces, where
state lives, how people log in, where artifacts are stored) is a trait here.  The hub
configuration (`mllab.hub.hubconfig.configure`) reads these traits and writes the matching
JupyterHub, spawner, authenticator and service settings, so admins set one thing in one
place and it flows one way.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path

from traitlets import Bool, CaselessStrEnum, Dict, Integer, List, Unicode, default, validate
from traitlets.config import Configurable

from ..services.app import DEFAULT_DATA_DIR


class MLLab(Configurable):
    """Options of the ML Lab Hub platform, set as ``c.MLLab.<option>``."""

    data_dir = Unicode(
        help="""
        Folder that holds the platform's state on this machine.

        The hub database (with the embedded SQLite default), the generated secrets
        (cookie secret, proxy token, service database), the admin's generated password,
        local artifact storage and, with the local backend, each user's home
        (``<data_dir>/users/<name>``).

        Defaults to ``$MLLAB_DATA_DIR``, else ``.mllab`` in the current directory.  The
        services are handed the same folder (``ServiceApp.data_dir``).

            c.MLLab.data_dir = "/srv/mllab"
        """,
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.environ.get("MLLAB_DATA_DIR", DEFAULT_DATA_DIR)

    @validate("data_dir")
    def _absolute_data_dir(self, proposal) -> str:
        # Spawned processes and services run in other working directories.
        return str(Path(proposal.value).expanduser().absolute())

    backend = Unicode(
        "local",
        help="""
        Where workspaces run: the short form of ``c.JupyterHub.spawner_class = "mllab-<backend>"``.

        - ``local``: a process per workspace on this machine, all as the hub's OS user
          (no isolation between users: for one person or a trusted team);
          ``MLLabLocalSpawner``.
        - ``docker``: a container per workspace on Docker or podman; ``MLLabDockerSpawner``.
        - ``kubernetes``: a pod per workspace, used by the helm chart; ``MLLabKubeSpawner``.

        Any backend installed as a ``jupyterhub.spawners`` entry point ``mllab-<name>`` is
        accepted.  Its own options are set on its class (``c.MLLabDockerSpawner.*``).

            c.MLLab.backend = "docker"
        """,
    ).tag(config=True)

    @validate("backend")
    def _installed_backend(self, proposal) -> str:
        return installed_plugin("jupyterhub.spawners", "MLLab.backend", proposal.value)

    db_url = Unicode(
        help="""
        SQLAlchemy URL of the hub database.

        Defaults to SQLite in the data dir.  Use PostgreSQL in production:

            c.MLLab.db_url = "postgresql+psycopg://mllab:secret@db:5432/mllab"
        """,
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        return f"sqlite:///{self.data_dir}/jupyterhub.sqlite"

    registry_db_url = Unicode(
        help="""
        Short form of ``c.RegistryApp.db_url``: the registry's metadata database.

        Defaults to SQLite in the data dir.  In production point it at PostgreSQL; it may
        be the hub's own database, the registry's tables and migrations are its own.

            c.MLLab.registry_db_url = "postgresql+psycopg://mllab:secret@db:5432/registry"
        """,
    ).tag(config=True)

    auth = Unicode(
        "native",
        help="""
        How people log in: the short form of ``c.JupyterHub.authenticator_class = "mllab-<auth>"``.

        - ``native``: accounts kept by the hub (NativeAuthenticator): sign-up, admin
          approval, password change.
        - ``oidc``: any OpenID Connect provider (Keycloak, Dex, Azure AD, Okta, ...);
          set ``oidc_issuer``, ``oauth_client_id`` and ``oauth_client_secret``. Groups
          from the ``oidc_groups_claim`` become JupyterHub groups, i.e. teams.
        - ``github``, ``gitlab``: OAuthenticator's providers; set the client id and secret.

        Any login installed as a ``jupyterhub.authenticators`` entry point ``mllab-<name>``
        is accepted.

            c.MLLab.auth = "oidc"
        """,
    ).tag(config=True)

    @validate("auth")
    def _installed_auth(self, proposal) -> str:
        return installed_plugin("jupyterhub.authenticators", "MLLab.auth", proposal.value)

    admin_user = Unicode(
        "admin",
        help="""
        Name of the platform admin.

        With ``auth = "native"`` this account is created on first start, with the password
        from ``$MLLAB_ADMIN_PASSWORD`` or a generated one saved to
        ``<data_dir>/admin-password``.  With single sign-on, it is the name of the
        provider's user who becomes admin.
        """,
    ).tag(config=True)

    admin_groups = List(
        Unicode(),
        help="""
        Groups of the OpenID Connect provider whose members are hub admins (``auth = "oidc"``).

        Checked at every login against the ``oidc_groups_claim``: a member becomes admin,
        and someone who has left these groups loses admin (``admin_user`` stays admin).

            c.MLLab.admin_groups = ["ml-platform-admins"]
        """,
    ).tag(config=True)

    oidc_issuer = Unicode(
        help="""
        Issuer URL of the OpenID Connect provider (``auth = "oidc"``).

        Endpoints are discovered from ``<issuer>/.well-known/openid-configuration``
        when the hub starts.

            c.MLLab.oidc_issuer = "https://keycloak.example.org/realms/ml"
        """,
    ).tag(config=True)

    oidc_groups_claim = Unicode(
        "groups",
        help="""
        Claim of the OpenID Connect userinfo that lists the user's groups.

        Each listed group becomes a JupyterHub group (a team namespace ``groups/<name>``),
        and membership follows the provider at every login.  A nested claim is named
        with dots, e.g. ``realm_access.roles`` for Keycloak's realm roles.
        """,
    ).tag(config=True)

    oidc_scopes = List(
        Unicode(),
        ["openid", "profile", "email", "groups"],
        help="""
        Scopes requested from the OpenID Connect provider (``auth = "oidc"``).

        ``groups`` asks for the groups claim (Keycloak with a ``groups`` client scope, Dex,
        Authentik).  Scopes the provider does not list in its discovery document's
        ``scopes_supported`` are left out with a warning, so providers that put groups in
        tokens without a scope (Azure AD, Okta with a claim rule) work unchanged.

            c.MLLab.oidc_scopes = ["openid", "profile", "email", "roles"]
        """,
    ).tag(config=True)

    oidc_username_claim = Unicode(
        "preferred_username",
        help="Claim of the OpenID Connect userinfo used as the JupyterHub user name.",
    ).tag(config=True)

    oauth_client_id = Unicode(
        help="OAuth client id registered with the provider (``auth`` other than ``native``).",
    ).tag(config=True)

    @default("oauth_client_id")
    def _default_oauth_client_id(self) -> str:
        return os.environ.get("MLLAB_OAUTH_CLIENT_ID", "")

    oauth_client_secret = Unicode(
        help="""
        OAuth client secret registered with the provider.

        Defaults to ``$MLLAB_OAUTH_CLIENT_SECRET`` so the secret stays out of config files.
        """,
    ).tag(config=True)

    @default("oauth_client_secret")
    def _default_oauth_client_secret(self) -> str:
        return os.environ.get("MLLAB_OAUTH_CLIENT_SECRET", "")

    public_url = Unicode(
        help="""
        URL at which people reach the hub, e.g. ``https://ml.example.org``.

        Used for the OAuth callback of single sign-on.  Defaults to the hub's bind URL.
        """,
    ).tag(config=True)

    services = Dict(
        help="""
        Extra services, keyed by name, merged over the built-in ``registry`` and
        ``deployments``.

        Each value is a JupyterHub service dict (``command``, ``url``, ``environment``,
        ...) plus an optional ``scopes`` dict: the custom scopes the service owns, so a
        new component declares its permissions where it is declared.  A value of ``None``
        removes a built-in service.  An entry with an ``api_token`` is an external service
        the hub proxies but does not start, e.g. the registry in a pod of its own
        (``mllab-registry --config FILE``).

            c.MLLab.services = {
                "features": {
                    "command": ["python3", "-m", "features_service"],
                    "scopes": {"custom:features:read": "Read feature tables"},
                },
                "registry": {"url": "http://registry:8080", "api_token": registry_token},
            }
        """,
    ).tag(config=True)

    service_ports = Dict(
        value_trait=Integer(),
        help="""
        Fixed local ports of the built-in managed services, keyed by service name.

        ``mllab up`` chooses free ones for those unset, which suits one machine; plain
        ``jupyterhub -f`` uses 10101 (registry) and 10102 (deployments).
        """,
    ).tag(config=True)

    # --- Artifact storage: short forms of the registry's options (hub/services.py maps them) ---

    storage = CaselessStrEnum(
        ["local", "s3"],
        default_value="local",
        help="""
        Short form of ``c.RegistryApp.storage``: where artifact content (dataset and model
        files) is stored.

        - ``local``: a folder, ``storage_dir`` (the embedded default).
        - ``s3``: a bucket on any S3 API (AWS, MinIO, Ceph), see the ``s3_*`` options.
        """,
    ).tag(config=True)

    storage_dir = Unicode(
        help="Short form of ``c.LocalStorage.root``. Defaults to ``<data_dir>/artifacts``.",
    ).tag(config=True)

    s3_endpoint_url = Unicode(
        help="Short form of ``c.S3Storage.endpoint_url``, e.g. ``http://minio:9000``. Empty means AWS.",
    ).tag(config=True)

    s3_public_endpoint_url = Unicode(
        help="""
        Short form of ``c.S3Storage.public_endpoint_url``: the S3 endpoint that presigned
        URLs carry, what a browser or laptop outside the cluster can reach.  Defaults to
        ``s3_endpoint_url``.
        """,
    ).tag(config=True)

    s3_bucket = Unicode(help="Short form of ``c.S3Storage.bucket``. Defaults to ``mllab``.").tag(config=True)

    s3_region = Unicode(help="Short form of ``c.S3Storage.region``. Defaults to ``us-east-1``.").tag(config=True)

    s3_access_key_id = Unicode(
        help="""
        S3 access key, handed to the registry as ``$AWS_ACCESS_KEY_ID``.  Empty: boto3's own
        lookup in the registry's environment (variables, credentials file, machine role).
        """,
    ).tag(config=True)

    s3_secret_access_key = Unicode(
        help="S3 secret key, handed to the registry as ``$AWS_SECRET_ACCESS_KEY`` (see ``s3_access_key_id``).",
    ).tag(config=True)

    allow_root = Bool(
        help="""
        Let local workspaces run when the hub runs as root.

        Jupyter refuses to run as root unless told; the local backend runs workspaces as
        the hub's own user, so a hub started as root (a container, a CI machine) needs
        this.  Defaults to True when the hub runs as root.
        """,
    ).tag(config=True)

    @default("allow_root")
    def _default_allow_root(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    # --- Workspaces: image, home and profiles on every backend, idle culling.  Each backend
    # has its own options on its spawner class (c.MLLabDockerSpawner.*, c.MLLabKubeSpawner.*). ---

    workspace_image = Unicode(
        "mllab/workspace:latest",
        help="""
        Image of workspaces (``docker`` and ``kubernetes`` backends) when a profile names none.

        Built from ``images/workspace/Dockerfile``.

            c.MLLab.workspace_image = "registry.example.org/mllab/workspace:1.0"
        """,
    ).tag(config=True)

    workspace_home = Unicode(
        "/home/jovyan",
        help="Home folder inside workspace containers, where each user's persistent volume or PVC is mounted.",
    ).tag(config=True)

    profiles = List(
        Dict(),
        help="""
        Workspace profiles users choose from on the spawn page (``docker`` and ``kubernetes``).

        Each is a dict: ``display_name`` (required), ``slug`` (the name users and the API
        pass as ``{"profile": slug}``, default from the display name), ``description``,
        ``image`` (default ``workspace_image``), ``cpu_limit`` and ``cpu_guarantee`` (CPUs),
        ``mem_limit`` and ``mem_guarantee`` (bytes or ``"4G"``), ``gpus`` (NVIDIA GPUs: Docker
        device requests, Kubernetes ``nvidia.com/gpu`` limits), ``node_selector`` and
        ``tolerations`` (Kubernetes only), ``environment`` (extra variables) and ``default``
        (the profile used when the user does not choose; else the first).  Users cannot
        ask for an image or resources outside these.  Empty: one profile with
        ``workspace_image`` and no limits.

            c.MLLab.profiles = [
                {"display_name": "Small", "cpu_limit": 1, "mem_limit": "2G", "default": True},
                {"display_name": "GPU", "slug": "gpu", "cpu_limit": 8, "mem_limit": "32G", "gpus": 1,
                 "node_selector": {"nvidia.com/gpu.present": "true"},
                 "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]},
            ]
        """,
    ).tag(config=True)

    @validate("profiles")
    def _valid_profiles(self, proposal) -> list[dict]:
        from .backends.profiles import parse_profiles

        parse_profiles(proposal.value, self.workspace_image)  # raises ValueError naming the entry
        return proposal.value

    idle_timeout = Integer(
        3600,
        help="""
        Stop workspaces idle for longer than this many seconds (jupyterhub-idle-culler).

        The home is kept.  0 turns culling off.

            c.MLLab.idle_timeout = 8 * 3600
        """,
    ).tag(config=True)

    idle_cull_interval = Integer(
        300,
        help="How often, in seconds, the idle culler checks workspaces' last activity.",
    ).tag(config=True)

    @validate("idle_cull_interval")
    def _positive_interval(self, proposal) -> int:
        if proposal.value <= 0:
            raise ValueError("MLLab.idle_cull_interval requires a positive number of seconds")
        return proposal.value


def installed_plugin(group: str, option: str, name: str) -> str:
    """``name`` (lower-cased) if entry point group ``group`` has ``mllab-<name>``; else a clear error."""
    installed = sorted(ep.name[len("mllab-") :] for ep in entry_points(group=group) if ep.name.startswith("mllab-"))
    if name.lower() not in installed:
        raise ValueError(
            f"{option} = {name!r} is not installed: choose one of {', '.join(installed)} "
            f"(the {group} entry points mllab-<name>)"
        )
    return name.lower()
