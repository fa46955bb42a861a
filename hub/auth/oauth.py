"""Single sign-on through OAuthenticator: a generic OpenID Connect provider, GitHub, GitLab."""

from __future__ import annotations

import json
import logging
import urllib.request

from traitlets.config import Config

from ..platform import MLLab

log = logging.getLogger("mllab")

#: ``MLLab.auth`` -> (``jupyterhub.authenticators`` entry point, the class's config section).
AUTHENTICATORS = {
    "oidc": ("generic-oauth", "GenericOAuthenticator"),
    "github": ("github", "GitHubOAuthenticator"),
    "gitlab": ("gitlab", "GitLabOAuthenticator"),
}


def discover(issuer: str) -> dict:
    """The provider's OpenID Connect discovery document."""
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


def oauth_config(mllab: MLLab, hub_url: str) -> Config:
    """Authenticator settings for ``mllab.auth`` = oidc, github or gitlab."""
    if not (mllab.oauth_client_id and mllab.oauth_client_secret):
        raise ValueError(
            f"MLLab.auth = {mllab.auth!r} requires MLLab.oauth_client_id and "
            "MLLab.oauth_client_secret (or $MLLAB_OAUTH_CLIENT_ID / $MLLAB_OAUTH_CLIENT_SECRET)"
        )
    if mllab.admin_groups and mllab.auth != "oidc":
        raise ValueError(f'MLLab.admin_groups requires MLLab.auth = "oidc" (it is {mllab.auth!r})')
    entry_point, section = AUTHENTICATORS[mllab.auth]
    c = Config()
    c.JupyterHub.authenticator_class = entry_point
    settings = c[section]
    settings.client_id = mllab.oauth_client_id
    settings.client_secret = mllab.oauth_client_secret
    settings.oauth_callback_url = (mllab.public_url or hub_url).rstrip("/") + "/hub/oauth_callback"
    # Who may log in is decided by the provider (narrow it with allowed_groups and allow_all = False).
    settings.allow_all = True
    if mllab.auth == "oidc":
        settings.merge(oidc_settings(mllab))
    return c


def oidc_settings(mllab: MLLab) -> Config:
    """GenericOAuthenticator settings from the issuer's discovery document and the ``oidc_*`` options."""
    if not mllab.oidc_issuer:
        raise ValueError('MLLab.auth = "oidc" requires MLLab.oidc_issuer, e.g. https://keycloak.example.org/realms/ml')
    provider = discover(mllab.oidc_issuer)
    settings = Config()
    settings.authorize_url = provider["authorization_endpoint"]
    settings.token_url = provider["token_endpoint"]
    if "userinfo_endpoint" in provider:
        settings.userdata_url = provider["userinfo_endpoint"]
    else:
        settings.userdata_from_id_token = True
    # Client authentication as registered by default (RFC 7591: client_secret_basic), unless the
    # provider only takes the secret in the request body.
    auth_methods = provider.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    settings.basic_auth = "client_secret_basic" in auth_methods
    settings.scope = requested_scopes(mllab.oidc_scopes, provider.get("scopes_supported"))
    settings.username_claim = mllab.oidc_username_claim
    # Teams follow the provider: its groups claim becomes hub group membership at every login.
    settings.manage_groups = True
    settings.auth_state_groups_key = f"oauth_user.{mllab.oidc_groups_claim}"
    if mllab.admin_groups:
        settings.admin_groups = set(mllab.admin_groups)
    return settings


def requested_scopes(wanted: list[str], supported: list[str] | None) -> list[str]:
    """``wanted`` less what the provider says it does not support (requesting those fails the login)."""
    if supported is None:
        return list(wanted)
    unsupported = [scope for scope in wanted if scope not in supported]
    if unsupported:
        log.warning("Not requesting scopes %s: the OIDC provider does not list them", ", ".join(unsupported))
    return [scope for scope in wanted if scope in supported]
