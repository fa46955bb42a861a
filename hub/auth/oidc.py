"""Any OpenID Connect provider (entry point ``mllab-oidc``): GenericOAuthenticator that finds its
endpoints from the provider's issuer URL when the hub starts, and takes teams from its groups."""

from __future__ import annotations

import json
import logging
import os
import urllib.request

from oauthenticator.generic import GenericOAuthenticator
from traitlets import Unicode, default
from traitlets.config import Config

from ..platform import MLLab
from .oauth import MLLabOAuthenticator

log = logging.getLogger("mllab")


def discover(issuer: str) -> dict:
    """The provider's OpenID Connect discovery document; ``RuntimeError`` saying why not."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            document = json.load(response)
    except (OSError, ValueError) as e:
        # urllib wraps the socket error: show "Connection refused", not the wrapper.
        reason = getattr(e, "reason", e)
        raise RuntimeError(
            f"cannot read the OpenID Connect discovery document at {url} "
            f"({getattr(reason, 'strerror', None) or reason}): "
            "check MLLab.oidc_issuer and that the provider is reachable from the hub"
        ) from None
    missing = [key for key in ("authorization_endpoint", "token_endpoint") if key not in document]
    if missing:
        raise RuntimeError(f"the discovery document at {url} lacks {', '.join(missing)}: is {issuer} an OIDC issuer?")
    return document


def requested_scopes(wanted: list[str], supported: list[str] | None) -> list[str]:
    """``wanted`` less what the provider says it does not support (requesting those fails the login)."""
    if supported is None:
        return list(wanted)
    unsupported = [scope for scope in wanted if scope not in supported]
    if unsupported:
        log.warning("Not requesting scopes %s: the OIDC provider does not list them", ", ".join(unsupported))
    return [scope for scope in wanted if scope in supported]


class MLLabOIDCAuthenticator(MLLabOAuthenticator, GenericOAuthenticator):
    """GenericOAuthenticator configured from an OpenID Connect issuer.

    When constructed (the hub's start), it reads ``<issuer>/.well-known/openid-configuration``
    and takes from it the authorize, token and userinfo endpoints, the client
    authentication the token endpoint accepts, and the scopes the provider supports
    (``scope`` less those it does not list).  Anything set explicitly wins.  Group
    management is on: the provider's groups claim makes the user's JupyterHub groups.
    """

    takes_admin_groups = True
    allow_class = "MLLabOIDCAuthenticator"
    allow_lists = ("allowed_groups", "allowed_users")

    issuer = Unicode(
        help="""
        Issuer URL of the OpenID Connect provider; its endpoints are discovered from it.

        Set from ``MLLab.oidc_issuer``.  Empty: no discovery (set the ``*_url`` options as
        for GenericOAuthenticator).

            c.MLLabOIDCAuthenticator.issuer = "https://keycloak.example.org/realms/ml"
        """,
    ).tag(config=True)

    _provider: dict | None = None

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # Read now, so a provider that cannot be reached stops the hub's start.
        self.scope = requested_scopes(self.scope, self.provider.get("scopes_supported"))

    @property
    def provider(self) -> dict:
        """The issuer's discovery document (empty without an issuer), read once."""
        if self._provider is None:
            self._provider = discover(self.issuer) if self.issuer else {}
        return self._provider

    @default("authorize_url")
    def _default_authorize_url(self) -> str:
        return self.provider.get("authorization_endpoint") or os.environ.get("OAUTH2_AUTHORIZE_URL", "")

    @default("token_url")
    def _default_token_url(self) -> str:
        return self.provider.get("token_endpoint") or os.environ.get("OAUTH2_TOKEN_URL", "")

    @default("userdata_url")
    def _default_userdata_url(self) -> str:
        return self.provider.get("userinfo_endpoint") or os.environ.get("OAUTH2_USERDATA_URL", "")

    @default("userdata_from_id_token")
    def _default_userdata_from_id_token(self) -> bool:
        return bool(self.provider) and "userinfo_endpoint" not in self.provider

    @default("basic_auth")
    def _default_basic_auth(self) -> bool:
        if not self.provider:
            return os.environ.get("OAUTH2_BASIC_AUTH", "False").lower() in {"true", "1"}
        # Client authentication as registered by default (RFC 7591: client_secret_basic),
        # unless the provider only takes the secret in the request body.
        methods = self.provider.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        return "client_secret_basic" in methods

    @default("manage_groups")
    def _default_manage_groups(self) -> bool:
        # Teams follow the provider: its groups claim becomes hub group membership at every login.
        return True

    @classmethod
    def platform_settings(cls, mllab: MLLab, hub_url: str) -> Config:
        c = super().platform_settings(mllab, hub_url)
        if not mllab.oidc_issuer:
            raise ValueError(
                'MLLab.auth = "oidc" requires MLLab.oidc_issuer, e.g. https://keycloak.example.org/realms/ml'
            )
        s = c[cls.__name__]
        s.issuer = mllab.oidc_issuer
        s.scope = list(mllab.oidc_scopes)
        s.username_claim = mllab.oidc_username_claim
        s.auth_state_groups_key = f"oauth_user.{mllab.oidc_groups_claim}"
        if mllab.admin_groups:
            s.admin_groups = set(mllab.admin_groups)
        return c

    @classmethod
    def preflight(cls, mllab: MLLab) -> None:
        """The allow settings' check, then read the issuer's discovery document, as the authenticator will at start."""
        super().preflight(mllab)
        discover(mllab.oidc_issuer)
