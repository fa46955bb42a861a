"""Single sign-on: ``MLLab.auth = "oidc"`` against a real OpenID provider.

The provider is oidc-provider (a certified OpenID Connect implementation, from npm) run by
``tests/oidc/provider.mjs``; logins go through its real authorize, login, consent and
token endpoints, and the hub reads the user's groups from its userinfo endpoint.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from .harness import REPO, Hub, HubSession, api, env_with_node, free_port, stop_process_tree, wait_for
from .test_auth import CLOSED

PROVIDER = REPO / "tests" / "oidc" / "provider.mjs"
USERS = json.loads((REPO / "tests" / "oidc" / "users.json").read_text())


class LoginRefused(Exception):
    """The provider answered the login form with an error."""


class HubRefused(Exception):
    """The provider logged the user in, and the hub answered its callback with 403."""


@dataclass
class OIDCProvider:
    issuer: str
    client_id: str
    client_secret: str
    users_file: Path
    proc: subprocess.Popen

    def set_groups(self, username: str, groups: list[str]) -> None:
        """Change ``username``'s groups at the provider (read again at each login)."""
        users = json.loads(self.users_file.read_text())
        users[username]["groups"] = groups
        self.users_file.write_text(json.dumps(users))


def start_provider(root: Path, redirect_uri: str) -> OIDCProvider:
    users_file = root / "users.json"
    shutil.copy(REPO / "tests" / "oidc" / "users.json", users_file)
    port = free_port()
    client_id, client_secret = "mllab-hub", secrets.token_urlsafe(16)
    log = open(root / "oidc-provider.log", "ab")  # noqa: SIM115 - kept open for the process's life
    proc = subprocess.Popen(
        ["node", str(PROVIDER), str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env_with_node(
            OIDC_CLIENT_ID=client_id,
            OIDC_CLIENT_SECRET=client_secret,
            OIDC_REDIRECT_URI=redirect_uri,
            OIDC_USERS_FILE=str(users_file),
        ),
        start_new_session=True,
    )
    provider = OIDCProvider(f"http://127.0.0.1:{port}", client_id, client_secret, users_file, proc)
    try:
        wait_for(
            lambda: (
                proc.poll() is None
                and requests.get(provider.issuer + "/.well-known/openid-configuration", timeout=2).ok
            ),
            timeout=30,
            what="the OIDC provider's discovery document",
        )
    except BaseException:
        stop_process_tree(proc)
        raise
    return provider


@contextmanager
def running_sso(make_hub: Callable[..., Hub], root: Path, settings: str) -> Iterator[tuple[Hub, OIDCProvider]]:
    """A hub logging people in through a freshly started OIDC provider, with ``settings`` in its config."""
    config = root / "jupyterhub_config.py"
    hub = make_hub(args=["--config", str(config)], start=False)
    provider = start_provider(root, hub.url + "hub/oauth_callback")
    try:
        config.write_text(
            f"c.MLLab.auth = 'oidc'\n"
            f"c.MLLab.oidc_issuer = {provider.issuer!r}\n"
            f"c.MLLab.oauth_client_id = {provider.client_id!r}\n"
            f"c.MLLab.oauth_client_secret = {provider.client_secret!r}\n"
            f"c.MLLab.public_url = {hub.url!r}\n" + settings
        )
        hub.start()
        yield hub, provider
    finally:
        hub.stop()  # before the provider, so nothing calls a provider that is gone
        stop_process_tree(provider.proc)


@pytest.fixture
def sso(make_hub, tmp_path) -> Iterator[tuple[Hub, OIDCProvider]]:
    """A hub that lets in everyone the provider authenticates (``allow_all``)."""
    with running_sso(make_hub, tmp_path, (
        "c.MLLabOIDCAuthenticator.allow_all = True\n"
        "c.MLLab.admin_user = 'alice'\n"
        "c.MLLab.admin_groups = ['ml-admins']\n"
    )) as running:
        yield running


def sso_login(hub: Hub, username: str, password: str | None = None) -> HubSession:
    """Log in like a browser: hub -> provider's login and consent pages -> back to the hub.

    Stops once the hub's callback has logged the user in (not following on to /hub/,
    which would start a workspace).
    """
    password = USERS[username]["password"] if password is None else password
    session = hub.session()
    response = session.get(hub.url + "hub/oauth_login", allow_redirects=False)
    submitted_login = False
    for _ in range(20):
        if response.is_redirect:
            came_from = response.url
            url = urljoin(came_from, response.headers["Location"])
            if came_from.startswith(hub.url + "hub/oauth_callback"):
                assert url.startswith(hub.url), url
                session.username = username
                return session
            response = session.get(url, allow_redirects=False)
            continue
        if response.url.startswith(hub.url + "hub/oauth_callback") and response.status_code == 403:
            raise HubRefused(response.text)
        error = re.search(r'class="error">([^<]+)<', response.text)
        if error:
            raise LoginRefused(error.group(1))
        assert response.status_code == 200, f"{response.url}: {response.status_code} {response.text[:500]}"
        action = re.search(r'<form method="post" action="([^"]+)"', response.text)
        assert action, f"no form at {response.url}: {response.text[:500]}"
        fields = {}
        if 'name="password"' in response.text:
            assert not submitted_login, "asked to log in twice"
            fields, submitted_login = {"login": username, "password": password}, True
        response = session.post(urljoin(response.url, action.group(1)), data=fields, allow_redirects=False)
    raise AssertionError(f"login of {username} did not come back to the hub")


def whoami(session: HubSession) -> dict:
    """The hub's model of the session's user, through a token the session creates."""
    home = session.get(session.url("hub/home"))
    assert home.status_code == 200 and session.username in home.text
    session.xsrf("hub/home")
    return api(session.hub, session.new_token(), "GET", "hub/api/user").json()


def test_login_lands_in_hub_with_provider_groups(sso):
    hub, _ = sso
    alice = whoami(sso_login(hub, "alice"))
    assert alice["name"] == "alice"
    assert alice["admin"] is True  # MLLab.admin_user
    assert alice["groups"] == ["vision"]

    bob = whoami(sso_login(hub, "bob"))
    assert bob["admin"] is False
    assert sorted(bob["groups"]) == ["nlp", "vision"]

    admin_token = sso_login(hub, "alice").new_token()
    groups = {g["name"]: sorted(g["users"]) for g in api(hub, admin_token, "GET", "hub/api/groups").json()}
    # ml-admins exists from the start: the platform admin role is granted to it.
    assert groups == {"ml-admins": [], "nlp": ["bob"], "vision": ["alice", "bob"]}


def test_membership_and_admin_follow_provider_at_next_login(sso):
    hub, provider = sso
    assert sorted(whoami(sso_login(hub, "bob"))["groups"]) == ["nlp", "vision"]
    carol = whoami(sso_login(hub, "carol"))
    assert carol["admin"] is True  # member of MLLab.admin_groups
    assert carol["groups"] == ["ml-admins"]
    assert "custom:datasets:write" in carol["scopes"], "admin groups get the platform admin role"

    provider.set_groups("bob", ["nlp", "speech"])
    provider.set_groups("carol", [])
    assert sorted(whoami(sso_login(hub, "bob"))["groups"]) == ["nlp", "speech"]
    carol = whoami(sso_login(hub, "carol"))
    assert carol["admin"] is False
    assert carol["groups"] == []
    assert "custom:datasets:write" not in carol["scopes"]

    admin_token = sso_login(hub, "alice").new_token()
    vision = api(hub, admin_token, "GET", "hub/api/groups/vision").json()
    assert sorted(vision["users"]) == ["alice"]


def test_wrong_password_is_refused_and_creates_no_user(sso):
    hub, _ = sso
    with pytest.raises(LoginRefused, match="Invalid user name or password"):
        sso_login(hub, "bob", password="not-bobs-password")
    admin_token = sso_login(hub, "alice").new_token()
    assert api(hub, admin_token, "GET", "hub/api/users/bob").status_code == 404


def run_up_with_config(make_hub: Callable[..., Hub], tmp_path: Path, config: str) -> subprocess.CompletedProcess:
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(config)
    hub = make_hub(args=["--config", str(path)], start=False)
    # A guard against a hang, not a measure: a start that refuses only imports the hub (slow on a busy machine).
    return subprocess.run(hub.command(), capture_output=True, text=True, timeout=300, env=env_with_node())


OIDC = "c.MLLab.auth = 'oidc'\n"
CLIENT = "c.MLLab.oauth_client_id = 'hub'\nc.MLLab.oauth_client_secret = 'secret'\n"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(OIDC + CLIENT, "requires MLLab.oidc_issuer", id="no-issuer"),
        pytest.param(
            OIDC + "c.MLLab.oidc_issuer = 'http://127.0.0.1:9'\n", "requires MLLab.oauth_client_id", id="no-client"
        ),
        pytest.param(
            OIDC + CLIENT + "c.MLLab.oidc_issuer = 'http://127.0.0.1:{port}'\n"
            "c.MLLabOIDCAuthenticator.allow_all = True\n",
            "cannot read the OpenID Connect discovery document",
            id="issuer-unreachable",
        ),
        pytest.param(
            "c.MLLab.auth = 'saml'\n",
            "MLLab.auth = 'saml' is not installed: choose one of github, gitlab, native, oidc",
            id="unknown-auth",
        ),
        pytest.param(
            CLIENT + "c.MLLab.auth = 'github'\nc.MLLab.admin_groups = ['a']\n",
            "admin_groups requires",
            id="admin-groups-without-oidc",
        ),
    ],
)
def test_misconfigured_sign_on_is_one_clear_line(make_hub, tmp_path, config, message):
    result = run_up_with_config(make_hub, tmp_path, config.format(port=free_port()))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(errors) == 1 and errors[0].startswith("mllab up: error: "), result.stderr
    assert message in errors[0]


def test_only_allowed_users_get_in(make_hub, tmp_path):
    """bob logs in at the provider, and the hub does not let him in: he is not in allowed_users."""
    with running_sso(make_hub, tmp_path, (
        "c.MLLabOIDCAuthenticator.allowed_users = {'alice'}\n"
        "c.MLLab.admin_user = 'carol'\n"
    )) as (hub, _):
        with pytest.raises(HubRefused, match="not currently authorized"):
            sso_login(hub, "bob")
        alice = whoami(sso_login(hub, "alice"))
        assert (alice["name"], alice["admin"]) == ("alice", False)
        admin_token = sso_login(hub, "carol").new_token()  # admins always get in
        assert api(hub, admin_token, "GET", "hub/api/users/bob").status_code == 404


SIGN_ON = {
    "github": "c.MLLab.auth = 'github'\n",
    "gitlab": "c.MLLab.auth = 'gitlab'\n",
    "oidc": OIDC + "c.MLLab.oidc_issuer = 'http://127.0.0.1:{port}'\nc.MLLab.admin_groups = ['ml-admins']\n",
}


@pytest.mark.parametrize("auth", SIGN_ON)
def test_sign_on_without_allow_list_refuses_to_start(make_hub, tmp_path, auth):
    """Logins are closed until the admin opens them: a hub nobody but its admins can enter does not
    start, and it says so before asking the network anything (the OIDC issuer, a listener here,
    has no connection waiting when the hub has exited)."""
    with socket.create_server(("127.0.0.1", free_port())) as issuer:
        result = run_up_with_config(
            make_hub, tmp_path,
            SIGN_ON[auth].format(port=issuer.getsockname()[1]) + CLIENT + "c.MLLab.admin_user = 'jdoe'\n",
        )
        issuer.setblocking(False)
        if auth == "oidc":
            with pytest.raises(BlockingIOError):
                issuer.accept()
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == [f"mllab up: error: {CLOSED[auth]}"], result.stderr


def test_github_with_allow_all_starts(make_hub, tmp_path):
    """Opened explicitly, the hub starts (GitHub needs no network for that) and sends people to GitHub."""
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(SIGN_ON["github"] + CLIENT + "c.GitHubOAuthenticator.allow_all = True\n")
    hub = make_hub(args=["--config", str(config)])
    login = hub.session().get(hub.url + "hub/oauth_login", allow_redirects=False)
    assert login.is_redirect
    assert login.headers["Location"].startswith("https://github.com/login/oauth/authorize?")
