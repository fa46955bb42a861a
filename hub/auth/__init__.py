"""Login: one authenticator class per way of logging in, each a ``jupyterhub.authenticators`` plug-in.

``MLLab.auth = "oidc"`` is the short form of ``JupyterHub.authenticator_class = "mllab-oidc"``;
the class fills in the defaults that differ from its OAuthenticator or NativeAuthenticator
parent and maps the ``MLLab`` login options onto its traits.  Configuring has no side
effects: the OIDC discovery document is read and the admin's password made when the
authenticator starts; `check_auth` makes the checks that need the network beforehand.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from traitlets.config import Config

from ..platform import MLLab

#: The entry point group JupyterHub loads ``JupyterHub.authenticator_class`` names from.
AUTHENTICATORS_GROUP = "jupyterhub.authenticators"


def authenticator_entry_point(auth: str) -> str:
    """The ``jupyterhub.authenticators`` entry point of ``MLLab.auth = auth``."""
    return f"mllab-{auth.lower()}"


def authenticator_class(auth: str) -> type:
    """The authenticator class of ``MLLab.auth = auth``, loaded from its entry point."""
    name = authenticator_entry_point(auth)
    found = entry_points(group=AUTHENTICATORS_GROUP, name=name)
    if not found:
        raise ValueError(f"MLLab.auth = {auth!r} has no {AUTHENTICATORS_GROUP} entry point {name!r}: "
                         "is mllab installed?")
    return next(iter(found)).load()


def authenticator_config(mllab: MLLab, hub_url: str) -> Config:
    """Authenticator settings for ``mllab.auth``, without side effects.

    ``hub_url`` is where people reach the hub (``MLLab.public_url`` wins), for the OAuth
    callback.  Raises ``ValueError`` naming a missing or contradictory ``MLLab`` option.
    """
    cls = authenticator_class(mllab.auth)
    c = cls.platform_settings(mllab, hub_url)
    c.JupyterHub.authenticator_class = authenticator_entry_point(mllab.auth)
    return c


def check_auth(mllab: MLLab) -> None:
    """The login checks to run before the hub starts, each failing with one clear message.

    ``ValueError`` for a missing or contradictory option (as `authenticator_config`), or
    for a single sign-on that lets nobody but the admins in: logins are closed until the
    admin's config (``mllab.config``) opens them (``lets nobody but the admins log in: say
    who may with c.GitHubOAuthenticator.allowed_organizations ...``).  Then
    ``RuntimeError`` for what needs the network: with ``auth = "oidc"``, the issuer's
    discovery document must be readable (``cannot read the OpenID Connect discovery
    document at ...``).
    """
    cls = authenticator_class(mllab.auth)
    cls.platform_settings(mllab, mllab.public_url)
    cls.preflight(mllab)
