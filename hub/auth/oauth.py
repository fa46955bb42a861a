"""Single sign-on through OAuthenticator: what its providers share, and GitHub and GitLab.

Entry points ``mllab-github`` and ``mllab-gitlab``; OpenID Connect is `oidc`'s.
"""

from __future__ import annotations

from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.gitlab import GitLabOAuthenticator
from oauthenticator.oauth2 import OAuthenticator
from traitlets import default
from traitlets.config import Config

from ..platform import MLLab


class MLLabOAuthenticator(OAuthenticator):
    """Base of the platform's OAuth logins: the client registered with the provider, and who may log in."""

    #: Whether the provider's groups can make admins (``MLLab.admin_groups``).
    takes_admin_groups = False

    @default("allow_all")
    def _default_allow_all(self) -> bool:
        # Who may log in is decided by the provider; narrow it with the provider's own
        # allow lists (allowed_groups, allowed_organizations, ...) and allow_all = False.
        return True

    @classmethod
    def platform_settings(cls, mllab: MLLab, hub_url: str) -> Config:
        """Settings that follow from ``mllab``, without side effects; ``ValueError`` if some are missing."""
        if not (mllab.oauth_client_id and mllab.oauth_client_secret):
            raise ValueError(
                f"MLLab.auth = {mllab.auth!r} requires MLLab.oauth_client_id and "
                "MLLab.oauth_client_secret (or $MLLAB_OAUTH_CLIENT_ID / $MLLAB_OAUTH_CLIENT_SECRET)"
            )
        if mllab.admin_groups and not cls.takes_admin_groups:
            raise ValueError(f'MLLab.admin_groups requires MLLab.auth = "oidc" (it is {mllab.auth!r})')
        c = Config()
        s = c[cls.__name__]
        s.client_id = mllab.oauth_client_id
        s.client_secret = mllab.oauth_client_secret
        s.oauth_callback_url = (mllab.public_url or hub_url).rstrip("/") + "/hub/oauth_callback"
        return c

    @classmethod
    def preflight(cls, mllab: MLLab) -> None:
        """Start-up checks that need the provider (none here); raise ``RuntimeError`` saying what is wrong."""


class MLLabGitHubAuthenticator(MLLabOAuthenticator, GitHubOAuthenticator):
    """GitHub accounts; narrow them with ``c.GitHubOAuthenticator.allowed_organizations``."""


class MLLabGitLabAuthenticator(MLLabOAuthenticator, GitLabOAuthenticator):
    """gitlab.com or your own GitLab (``c.GitLabOAuthenticator.gitlab_url``) accounts."""
