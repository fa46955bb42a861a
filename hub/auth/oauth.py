"""Single sign-on through OAuthenticator: a generic OpenID Connect provider, GitHub, GitLab."""

from __future__ import annotations

import json
import urllib.request

from traitlets.config import Config

from ..platform import MLLab


def discover(issuer: str) -> dict:
    """The provider's OpenID Connect discovery document."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except (OSError, ValueError) as e:
        raise RuntimeError(
            f"Cannot read the OpenID Connect discovery document at {url}: {e}. "
            "Check MLLab.oidc_issuer and that the provider is reachable from the hub."
        ) from None


def oauth_config(mllab: MLLab, hub_url: str) -> Config:
    if not (mllab.oauth_client_id and mllab.oauth_client_secret):
        raise ValueError(
            f"MLLab.auth = {mllab.auth!r} requires MLLab.oauth_client_id and "
            "MLLab.oauth_client_secret (or $MLLAB_OAUTH_CLIENT_ID / $MLLAB_OAUTH_CLIENT_SECRET)"
        )
    c = Config()
    cls = {"oidc": "GenericOAuthenticator", "github": "GitHubOAuthenticator", "gitlab": "GitLabOAuthenticator"}[
        mllab.auth
    ]
    c.JupyterHub.authenticator_class = {
        "oidc": "generic-oauth",
        "github": "github",
        "gitlab": "gitlab",
    }[mllab.auth]
    settings = c[cls]
    settings.client_id = mllab.oauth_client_id
    settings.client_secret = mllab.oauth_client_secret
    settings.oauth_callback_url = (mllab.public_url or hub_url).rstrip("/") + "/hub/oauth_callback"
    # Who may log in is decided by the provider (and narrowed with allowed_groups).
    settings.allow_all = True
    if mllab.auth == "oidc":
        if not mllab.oidc_issuer:
            raise ValueError('MLLab.auth = "oidc" requires MLLab.oidc_issuer')
        endpoints = discover(mllab.oidc_issuer)
        settings.authorize_url = endpoints["authorization_endpoint"]
        settings.token_url = endpoints["token_endpoint"]
        settings.userdata_url = endpoints["userinfo_endpoint"]
        settings.scope = ["openid", "profile", "email", mllab.oidc_groups_claim]
        settings.username_claim = mllab.oidc_username_claim
        # Teams follow the provider: its groups claim becomes hub group membership.
        settings.manage_groups = True
        settings.auth_state_groups_key = f"oauth_user.{mllab.oidc_groups_claim}"
    return c
