"""Logins as plug-ins: ``MLLab.auth`` selects the ``jupyterhub.authenticators`` entry point
``mllab-<auth>``; `authenticator_config` is pure, and what needs the network or the disk
happens when the authenticator starts (or in `check_auth`, before the hub starts)."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jupyterhub import orm
from jupyterhub.app import JupyterHub
from mllab.hub.auth import authenticator_class, authenticator_config, check_auth
from mllab.hub.auth.native import MLLabNativeAuthenticator
from mllab.hub.auth.oauth import MLLabGitHubAuthenticator, MLLabGitLabAuthenticator
from mllab.hub.auth.oidc import MLLabOIDCAuthenticator
from mllab.hub.platform import MLLab
from traitlets.config import Config

from .harness import free_port, load_entry_point

AUTHENTICATORS = {
    "native": MLLabNativeAuthenticator,
    "oidc": MLLabOIDCAuthenticator,
    "github": MLLabGitHubAuthenticator,
    "gitlab": MLLabGitLabAuthenticator,
}
CLIENT = {"oauth_client_id": "hub", "oauth_client_secret": "secret"}


@pytest.mark.parametrize(("auth", "cls"), AUTHENTICATORS.items(), ids=list(AUTHENTICATORS))
def test_entry_point_loads_the_class(auth, cls):
    assert load_entry_point("jupyterhub.authenticators", f"mllab-{auth}") is cls
    assert authenticator_class(auth) is cls
    c = Config()
    c.JupyterHub.authenticator_class = f"mllab-{auth}"
    assert JupyterHub(config=c).authenticator_class is cls


def test_native_config_is_pure(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLLAB_ADMIN_PASSWORD", raising=False)
    c = authenticator_config(MLLab(data_dir=str(tmp_path / "data")), "http://127.0.0.1:8000")
    assert c.JupyterHub.authenticator_class == "mllab-native"
    assert c.MLLabNativeAuthenticator.admin_password_file == str(tmp_path / "data" / "admin-password")
    assert not (tmp_path / "data").exists()
    assert capsys.readouterr().out == ""


def test_oidc_config_is_pure():
    """No discovery while configuring: an issuer nobody answers at is fine here."""
    mllab = MLLab(auth="oidc", oidc_issuer=f"http://127.0.0.1:{free_port()}", admin_groups=["admins"],
                  oidc_groups_claim="realm_access.roles", public_url="https://ml.example.org/", **CLIENT)
    s = authenticator_config(mllab, "http://127.0.0.1:8000").MLLabOIDCAuthenticator
    assert s.issuer == mllab.oidc_issuer
    assert (s.client_id, s.client_secret) == ("hub", "secret")
    assert s.oauth_callback_url == "https://ml.example.org/hub/oauth_callback"
    assert s.auth_state_groups_key == "oauth_user.realm_access.roles"
    assert s.admin_groups == {"admins"}
    assert s.scope == ["openid", "profile", "email", "groups"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"auth": "oidc", **CLIENT}, "requires MLLab.oidc_issuer", id="no-issuer"),
        pytest.param({"auth": "oidc", "oidc_issuer": "http://127.0.0.1:9"}, "requires MLLab.oauth_client_id",
                     id="no-client"),
        pytest.param({"auth": "github", "admin_groups": ["a"], **CLIENT}, "admin_groups requires",
                     id="admin-groups-without-oidc"),
    ],
)
def test_misconfigured_login_is_refused_without_the_network(settings, message):
    for check in (lambda mllab: authenticator_config(mllab, "http://127.0.0.1:8000"), check_auth):
        with pytest.raises(ValueError, match=message):
            check(MLLab(**settings))


def sign_on(auth: str, sections: dict, **mllab) -> MLLab:
    """``MLLab`` for single sign-on with ``auth`` (an issuer nobody answers at for oidc),
    whose config also holds the admin's ``sections`` (``{"GitHubOAuthenticator": {...}}``)."""
    c = Config()
    c.MLLab.update(auth=auth, **CLIENT, **mllab)
    if auth == "oidc":
        c.MLLab.setdefault("oidc_issuer", f"http://127.0.0.1:{free_port()}")
    for section, settings in sections.items():
        for name, value in settings.items():
            c[section][name] = value
    return MLLab(config=c)


SIGN_ON = ["github", "gitlab", "oidc"]
#: What the start-up error names for each provider: the allow settings on the class they are set on.
CLOSED = {
    "github": "MLLab.auth = 'github' lets nobody but the admins log in: say who may with "
              "c.GitHubOAuthenticator.allowed_organizations or c.GitHubOAuthenticator.allowed_users, "
              "or set c.GitHubOAuthenticator.allow_all = True to let in every GitHub account",
    "gitlab": "MLLab.auth = 'gitlab' lets nobody but the admins log in: say who may with "
              "c.GitLabOAuthenticator.allowed_gitlab_groups, c.GitLabOAuthenticator.allowed_project_ids or "
              "c.GitLabOAuthenticator.allowed_users, or set c.GitLabOAuthenticator.allow_all = True "
              "to let in every GitLab account",
    "oidc": "MLLab.auth = 'oidc' lets nobody but the admins log in: say who may with "
            "c.MLLabOIDCAuthenticator.allowed_groups or c.MLLabOIDCAuthenticator.allowed_users, "
            "or set c.MLLabOIDCAuthenticator.allow_all = True to let in every account the provider authenticates",
}


@pytest.mark.parametrize("auth", ["github", "gitlab"])
def test_sign_on_is_closed_by_default(auth):
    """As in OAuthenticator: only the admins and those an allow setting names get in."""
    mllab = sign_on(auth, {})
    authenticator = AUTHENTICATORS[auth](config=authenticator_config(mllab, "http://127.0.0.1:8000"))
    assert authenticator.allow_all is False
    with pytest.raises(ValueError, match="lets nobody but the admins log in"):
        authenticator.check_allow_config()  # plain `jupyterhub -f` refuses to start too


@pytest.mark.parametrize("auth", SIGN_ON)
@pytest.mark.parametrize(
    "sections",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"MLLab": {"admin_user": "jdoe"}, "Authenticator": {"admin_users": {"root"}}}, id="admins-only"),
        pytest.param({"OAuthenticator": {"allow_all": True}, "{cls}": {"allow_all": False}},
                     id="subclass-closes-again"),
        pytest.param({"Authenticator": {"allowed_users": set()}}, id="empty-allow-list"),
    ],
)
def test_closed_sign_on_is_refused_naming_its_settings(auth, sections):
    """Checked before the network: the oidc issuer here answers nobody.  Admins do not open the login."""
    sections = {name.format(cls=AUTHENTICATORS[auth].__name__): value for name, value in sections.items()}
    admin_groups = {"admin_groups": ["ml-admins"]} if auth == "oidc" else {}
    with pytest.raises(ValueError) as refused:
        check_auth(sign_on(auth, sections, **admin_groups))
    assert str(refused.value) == CLOSED[auth]


@pytest.mark.parametrize(
    ("auth", "sections"),
    [
        pytest.param("github", {"GitHubOAuthenticator": {"allowed_organizations": {"my-org"}}}, id="github-orgs"),
        pytest.param("github", {"MLLabGitHubAuthenticator": {"allowed_users": {"octocat"}}}, id="github-subclass"),
        pytest.param("github", {"OAuthenticator": {"allow_all": True}}, id="github-oauthenticator-allow-all"),
        pytest.param("github", {"GitHubOAuthenticator": {"github_organization_whitelist": {"my-org"}}},
                     id="github-deprecated-name"),
        pytest.param("gitlab", {"GitLabOAuthenticator": {"allowed_gitlab_groups": {"ml"}}}, id="gitlab-groups"),
        pytest.param("gitlab", {"GitLabOAuthenticator": {"allowed_project_ids": {42}}}, id="gitlab-projects"),
        pytest.param("gitlab", {"Authenticator": {"allow_existing_users": True}}, id="gitlab-existing-users"),
        pytest.param("oidc", {"GenericOAuthenticator": {"allowed_groups": {"ml"}}}, id="oidc-generic-groups"),
        pytest.param("oidc", {"MLLabOIDCAuthenticator": {"allow_all": True}}, id="oidc-allow-all"),
    ],
)
def test_an_allow_setting_opens_sign_on_wherever_it_is_set(auth, sections, issuer):
    check_auth(sign_on(auth, sections, oidc_issuer=issuer[0]))


@pytest.mark.parametrize("auth", ["github", "gitlab"])
@pytest.mark.parametrize(
    "setting",
    [
        pytest.param(lambda c: c.Authenticator.allowed_users.add("alice"), id="added-to-a-list"),
        pytest.param(lambda c: setattr(c.OAuthenticator, "allow_all", True), id="base-class"),
        pytest.param(lambda c: (setattr(c.OAuthenticator, "allow_all", True),
                                setattr(c.MLLabOAuthenticator, "allow_all", False)), id="closed-below"),
        pytest.param(lambda c: None, id="unset"),
    ],
)
def test_config_is_read_as_the_authenticator_reads_it(auth, setting):
    """The start-up check decides as the authenticator itself will, built from the same config."""
    mllab = sign_on(auth, {})
    setting(mllab.config)
    c = authenticator_config(mllab, "http://127.0.0.1:8000")
    c.merge(mllab.config)
    cls = AUTHENTICATORS[auth]
    assert cls.is_opened_by(mllab.config) is cls(config=c).any_allow_config


class DiscoveryHandler(BaseHTTPRequestHandler):
    document: dict = {}

    def do_GET(self) -> None:
        body = json.dumps(self.document).encode()
        found = self.path == "/.well-known/openid-configuration"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body if found else b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def issuer() -> Iterator[tuple[str, dict]]:
    """An issuer URL serving a discovery document the test may change."""
    document: dict = {}
    handler = type("Handler", (DiscoveryHandler,), {"document": document})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    document.update({
        "issuer": url,
        "authorization_endpoint": url + "/auth",
        "token_endpoint": url + "/token",
        "userinfo_endpoint": url + "/me",
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
    })
    yield url, document
    server.shutdown()
    server.server_close()


def oidc_authenticator(issuer_url: str, **settings) -> MLLabOIDCAuthenticator:
    mllab = MLLab(auth="oidc", oidc_issuer=issuer_url, **CLIENT)
    c = authenticator_config(mllab, "http://127.0.0.1:8000")
    for name, value in settings.items():
        c.MLLabOIDCAuthenticator[name] = value
    return MLLabOIDCAuthenticator(config=c)


def test_oidc_discovers_its_endpoints_when_it_starts(issuer):
    url, _ = issuer
    authenticator = oidc_authenticator(url)
    assert authenticator.authorize_url == url + "/auth"
    assert authenticator.token_url == url + "/token"
    assert authenticator.userdata_url == url + "/me"
    assert authenticator.userdata_from_id_token is False
    assert authenticator.basic_auth is False, "the provider takes the secret in the body only"
    assert authenticator.scope == ["openid", "profile", "email"], "groups is not a scope this provider lists"
    assert authenticator.manage_groups is True
    assert authenticator.allow_all is False, "logins are closed until the admin opens them"


def test_oidc_without_userinfo_reads_the_id_token(issuer):
    url, document = issuer
    del document["userinfo_endpoint"], document["token_endpoint_auth_methods_supported"], document["scopes_supported"]
    authenticator = oidc_authenticator(url)
    assert authenticator.userdata_from_id_token is True
    assert authenticator.userdata_url == ""
    assert authenticator.basic_auth is True
    assert authenticator.scope == ["openid", "profile", "email", "groups"]


def test_oidc_explicit_settings_win(issuer):
    url, _ = issuer
    authenticator = oidc_authenticator(url, token_url="https://proxy.example.org/token", allow_all=True)
    assert authenticator.token_url == "https://proxy.example.org/token"
    assert authenticator.allow_all is True


def test_unreachable_issuer_is_one_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RuntimeError, match=f"cannot read the OpenID Connect discovery document at {url}/"):
        check_auth(sign_on("oidc", {"MLLabOIDCAuthenticator": {"allowed_groups": {"ml"}}}, oidc_issuer=url))
    with pytest.raises(RuntimeError, match="cannot read the OpenID Connect discovery document"):
        oidc_authenticator(url)


def test_check_auth_passes_with_a_reachable_issuer(issuer):
    check_auth(sign_on("oidc", {"MLLabOIDCAuthenticator": {"allowed_groups": {"ml"}}}, oidc_issuer=issuer[0]))
    check_auth(MLLab())  # native: nothing to reach, nobody in without the admin's approval


def native_authenticator(tmp_path, db) -> MLLabNativeAuthenticator:
    c = authenticator_config(MLLab(data_dir=str(tmp_path)), "http://127.0.0.1:8000")
    c.Authenticator.admin_users = {"admin"}
    return MLLabNativeAuthenticator(config=c, _deprecated_db_session=db)


@pytest.fixture
def db():
    session = orm.new_session_factory("sqlite://")()
    yield session
    session.close()


def test_native_generates_the_admin_password_when_it_starts(tmp_path, db, capsys, monkeypatch):
    monkeypatch.delenv("MLLAB_ADMIN_PASSWORD", raising=False)
    authenticator = native_authenticator(tmp_path, db)
    saved = tmp_path / "admin-password"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    password = saved.read_text().strip()
    assert password in capsys.readouterr().out
    assert authenticator.get_user("admin").is_valid_password(password)
    assert authenticator.get_user("admin").is_authorized

    native_authenticator(tmp_path, db)  # the next start: the account exists, nothing is shown
    assert capsys.readouterr().out == ""


def test_native_admin_password_from_the_environment(tmp_path, db, capsys, monkeypatch):
    monkeypatch.setenv("MLLAB_ADMIN_PASSWORD", "from-the-environment")
    authenticator = native_authenticator(tmp_path, db)
    assert authenticator.get_user("admin").is_valid_password("from-the-environment")
    assert not (tmp_path / "admin-password").exists()
    assert capsys.readouterr().out == ""
