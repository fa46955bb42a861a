"""The platform foundation end to end: ``mllab up`` as a subprocess, used as people use it."""

from __future__ import annotations

import stat

import pytest
import requests

from .harness import api, spawn, stop_server


def test_health_and_login_page(hub):
    assert requests.get(hub.url + "hub/health", timeout=5).status_code == 200
    page = requests.get(hub.url + "hub/login", timeout=5)
    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert "signup" in page.text  # NativeAuthenticator offers sign-up
    assert "<title>ML Lab Hub</title>" in page.text


def test_local_backend_warns_that_users_share_one_os_user(hub):
    assert "users are not isolated from each other" in hub.log_path.read_text()


def test_services_answer_health_and_openapi(hub):
    for name in ("registry", "deployments"):
        health = requests.get(hub.url + f"services/{name}/api/v1/health", timeout=5)
        assert health.json() == {"status": "ok", "service": name}
        doc = requests.get(hub.url + f"services/{name}/api/v1/openapi.json", timeout=5).json()
        assert doc["openapi"].startswith("3.")
        assert "/api/v1/health" in doc["paths"]


def test_unknown_service_route_is_json_404(hub):
    response = requests.get(hub.url + "services/registry/api/v1/nope", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_admin_login_token_and_api(hub):
    admin = hub.admin()
    token = admin.new_token("test_admin_login")
    me = api(hub, token, "GET", "hub/api/user")
    assert me.status_code == 200
    assert me.json()["name"] == "admin"
    assert me.json()["admin"] is True
    scopes = set(me.json()["scopes"])
    assert "custom:datasets:write" in scopes  # mllab-admin: every namespace


def test_wrong_password_is_refused(hub):
    session = hub.session()
    response = session.post(
        hub.url + "hub/login",
        data={"username": "admin", "password": "not-the-password", "_xsrf": session.xsrf()},
        allow_redirects=False,
    )
    # The login page again (200), with the error, and no session: a login is a 302 with the cookie.
    assert response.status_code == 200
    assert "Invalid username or password." in response.text
    assert "hub/login" in response.url
    assert "jupyterhub-hub-login" not in session.cookies


def test_signup_needs_admin_approval(hub):
    session = hub.session()
    assert session.signup("dora", "a-long-password-1").status_code == 200
    refused = session.post(
        hub.url + "hub/login",
        data={"username": "dora", "password": "a-long-password-1", "_xsrf": session.xsrf()},
        allow_redirects=False,
    )
    assert refused.status_code == 200, "an unapproved user gets the login page again, not a session"
    assert "dora has not been authorized by an administrator yet" in refused.text
    assert "jupyterhub-hub-login" not in session.cookies
    approved = hub.admin().get(hub.url + "hub/authorize/dora")
    assert approved.status_code == 200
    session.login("dora", "a-long-password-1")
    token = session.new_token()
    assert api(hub, token, "GET", "hub/api/user").json()["name"] == "dora"


def test_user_scopes_cover_own_namespace_only(hub):
    session, _ = hub.add_user("erin")
    scopes = set(api(hub, session.new_token(), "GET", "hub/api/user").json()["scopes"])
    assert "custom:datasets:write!user=erin" in scopes
    assert "custom:models:read!user=erin" in scopes  # write includes read
    assert "custom:deployments:invoke!user=erin" in scopes
    assert not any(s.startswith("custom:") and "!" not in s for s in scopes)


def test_generated_secrets_are_private(hub):
    for name in ("jupyterhub_cookie_secret", "proxy-token"):
        mode = stat.S_IMODE((hub.data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"


def test_generated_admin_password(make_hub):
    """Without MLLAB_ADMIN_PASSWORD, the password is generated, kept 0600 and printed once."""
    hub = make_hub(start=False)
    hub.env["MLLAB_ADMIN_PASSWORD"] = ""
    hub.admin_password = ""
    hub.start()
    saved = hub.data_dir / "admin-password"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    password = saved.read_text().strip()
    assert len(password) >= 16
    assert password in hub.log_tail(400)
    hub.admin_password = password
    hub.admin()  # logs in
    hub.restart()
    assert hub.log_tail(400).count(password) == 1, "the password is shown only on first start"


@pytest.mark.slow
def test_workspaces_are_private(hub):
    alice, _ = hub.add_user("alice")
    bob, _ = hub.add_user("bob")
    alice_token, bob_token = alice.new_token(), bob.new_token()
    spawn(hub, alice_token, "alice")
    spawn(hub, bob_token, "bob")
    try:
        assert api(hub, alice_token, "GET", "user/alice/api/status").status_code == 200
        assert api(hub, bob_token, "GET", "user/bob/api/status").status_code == 200
        assert api(hub, bob_token, "GET", "user/alice/api/status").status_code == 403
        assert api(hub, alice_token, "GET", "user/bob/api/contents").status_code == 403
        # Each home is its own folder under the data dir.
        assert (hub.data_dir / "users" / "alice").is_dir()
    finally:
        stop_server(hub, alice_token, "alice")
        stop_server(hub, bob_token, "bob")


@pytest.mark.slow
def test_notebook_cell_runs(hub):
    """A user starts a workspace and runs code in a kernel, as from a notebook cell."""
    import json

    import websocket

    session, _ = hub.add_user("nina")
    token = session.new_token()
    spawn(hub, token, "nina")
    try:
        kernel = api(hub, token, "POST", "user/nina/api/kernels", json={"name": "python3"}).json()
        ws = websocket.create_connection(
            hub.url.replace("http", "ws") + f"user/nina/api/kernels/{kernel['id']}/channels",
            header=[f"Authorization: token {token}"],
            timeout=60,
        )
        msg_id = "cell-1"
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "nina", "session": "s",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": "print(6 * 7)", "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False},
        }))
        output = None
        while output is None:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "stream":
                output = msg["content"]["text"]
        ws.close()
        assert output.strip() == "42"
    finally:
        stop_server(hub, token, "nina")


def test_state_survives_restart_sqlite(make_hub):
    _check_restart(make_hub())


def test_state_survives_restart_postgres(postgres_url, make_hub):
    hub = make_hub(db_url=postgres_url)
    assert not (hub.data_dir / "jupyterhub.sqlite").exists()
    _check_restart(hub)


def _check_restart(hub):
    admin = hub.admin()
    user, password = hub.add_user("frank")
    token = user.new_token("survives")
    assert admin.api("POST", "groups/vision", json={}).status_code == 201
    assert admin.api("POST", "groups/vision/users", json={"users": ["frank"]}).status_code == 200
    hub.restart()
    me = api(hub, token, "GET", "hub/api/user")
    assert me.status_code == 200, "the token must survive a restart"
    assert me.json()["name"] == "frank"
    assert me.json()["groups"] == ["vision"]
    hub.session().login("frank", password)  # the account and its password survive too
