"""Single sign-on through OAuthenticator: what its providers share, and GitHub and GitLab.

Entry points ``mllab-github`` and ``mllab-gitlab``; OpenID Connect is `oidc`'s.
"""

from __future__ import annotations

from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.gitlab import GitLabOAuthenticator
from oauthenticator.oauth2 import OAuthenticator
from traitlets.config import Config
from traitlets.config.loader import DeferredConfig, LazyConfigValue

from ..platform import MLLab


class MLLabOAuthenticator(OAuthenticator):
    """Base of the platform's OAuth logins: the client registered with the provider, and who may log in.

    Logins are closed until the admin opens them: as in OAuthenticator, ``allow_all`` is
    False and only the admins and those an allow setting names get in.  A hub with no
    allow setting at all (``allow_all``, ``allow_existing_users``, ``allowed_*``) does not
    start; the admin settings (``MLLab.admin_user``, ``admin_users``, ``MLLab.admin_groups``)
    do not open it.
    """

    #: Whether the provider's groups can make admins (``MLLab.admin_groups``).
    takes_admin_groups = False
    #: The class an admin sets the allow settings on, and those the start-up error names.
    allow_class = "OAuthenticator"
    allow_lists: tuple[str, ...] = ("allowed_users",)
    #: Whom ``allow_all = True`` lets in, for the start-up error.
    accounts = "account the provider authenticates"

    @classmethod
    def allow_settings(cls) -> set[str]:
        """Names of the settings that open the login, as JupyterHub counts them for ``any_allow_config``."""
        names = {
            name for name, trait in cls.class_traits(config=True).items()
            if name.startswith("allow") or trait.metadata.get("allow_config")
        }
        aliases = {**getattr(cls, "_deprecated_aliases", {}), **getattr(cls, "_deprecated_oauth_aliases", {})}
        return names | {old for old, (new, _) in aliases.items() if new in names}

    @classmethod
    def configured(cls, config: Config, name: str):
        """The value ``config`` gives trait ``name`` of this class (None if unset), resolved as
        traitlets does: over the sections of the class's ancestors, the most derived winning."""
        value = None
        for section in cls.section_names():
            if section in config and name in config[section]:
                value = config[section][name]
        trait = cls.class_traits().get(name)
        if isinstance(value, LazyConfigValue) and trait is not None:
            value = value.get_value(trait.default())
        elif isinstance(value, DeferredConfig) and trait is not None:
            value = value.get_value(trait)
        return value

    @classmethod
    def is_opened_by(cls, config: Config) -> bool:
        """Whether ``config`` lets someone besides the admins log in (or says so: ``any_allow_config``)."""
        return bool(cls.configured(config, "any_allow_config")) or any(
            cls.configured(config, name) for name in cls.allow_settings()
        )

    @classmethod
    def closed_error(cls, subject: str) -> str:
        """One line saying that ``subject`` admits only the admins, naming the settings on `allow_class`."""
        lists = [f"c.{cls.allow_class}.{name}" for name in cls.allow_lists]
        named = lists[0] if len(lists) == 1 else f"{', '.join(lists[:-1])} or {lists[-1]}"
        return (
            f"{subject} lets nobody but the admins log in: say who may with {named}, "
            f"or set c.{cls.allow_class}.allow_all = True to let in every {cls.accounts}"
        )

    def check_allow_config(self) -> None:
        """Refuse to start (``ValueError``) when nothing opens the login, under plain ``jupyterhub`` too."""
        if not self.any_allow_config:
            raise ValueError(self.closed_error(type(self).__name__))

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
        """Start-up checks: ``ValueError`` when the admin's config (``mllab.config``) lets nobody
        but the admins in, then, where a subclass needs the provider, ``RuntimeError`` saying what is wrong."""
        if not cls.is_opened_by(mllab.config):
            raise ValueError(cls.closed_error(f"MLLab.auth = {mllab.auth!r}"))


class MLLabGitHubAuthenticator(MLLabOAuthenticator, GitHubOAuthenticator):
    """GitHub accounts; open them with ``c.GitHubOAuthenticator.allowed_organizations``."""

    allow_class = "GitHubOAuthenticator"
    allow_lists = ("allowed_organizations", "allowed_users")
    accounts = "GitHub account"


class MLLabGitLabAuthenticator(MLLabOAuthenticator, GitLabOAuthenticator):
    """gitlab.com or your own GitLab (``c.GitLabOAuthenticator.gitlab_url``) accounts; open them
    with ``c.GitLabOAuthenticator.allowed_gitlab_groups``."""

    allow_class = "GitLabOAuthenticator"
    allow_lists = ("allowed_gitlab_groups", "allowed_project_ids", "allowed_users")
    accounts = "GitLab account"
