"""What the workspace tool tests share: a tool's route refused to strangers, websockets included."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import requests
import websocket

from ..harness import Hub


def assert_sent_to_login(hub: Hub, response: requests.Response, owner: str) -> None:
    """``response``, to a browser without a login, sends it to the hub's login page: through the
    hub's OAuth authorisation of ``owner``'s server, which comes back to that server once logged in."""
    assert response.status_code == 302, (response.status_code, response.text[:300])
    authorize = urlsplit(response.headers["Location"])
    assert authorize.path == "/hub/api/oauth2/authorize", response.headers["Location"]
    query = parse_qs(authorize.query)
    assert query["client_id"] == [f"jupyterhub-user-{owner}"], query
    assert query["redirect_uri"] == [f"/user/{owner}/oauth_callback"], query

    next_hop = requests.get(urljoin(hub.url, response.headers["Location"]), allow_redirects=False, timeout=30)
    assert next_hop.status_code == 302, (next_hop.status_code, next_hop.text[:300])
    login = urlsplit(next_hop.headers["Location"])
    assert login.path == "/hub/login", next_hop.headers["Location"]
    assert parse_qs(login.query)["next"] == [response.headers["Location"]], next_hop.headers["Location"]


def assert_websocket_refused(url: str, header: list[str]) -> None:
    """A websocket upgrade of ``url`` with ``header`` (no credentials or another user's) gets a 403.

    jupyter-server-proxy answers every upgrade without its owner's login so; a redirect to the
    login page would be no use to a websocket client.
    """
    try:
        connection = websocket.create_connection(url, header=header, timeout=30)
    except websocket.WebSocketBadStatusException as e:
        assert e.status_code == 403, e
    else:
        connection.close()
        raise AssertionError(f"websocket {url} opened with {header or 'no credentials'}")


def assert_refused(hub: Hub, path: str, other_token: str) -> None:
    """``path`` (under the hub, in ``/user/<owner>/``) answers no one but its owner: not without
    login, not another user's token, over HTTP and over a websocket upgrade (CVE-2024-28179)."""
    owner = path.lstrip("/").split("/")[1]
    url = hub.url + path.lstrip("/")
    assert_sent_to_login(hub, requests.get(url, allow_redirects=False, timeout=30), owner)
    other = requests.get(url, headers={"Authorization": f"token {other_token}"}, allow_redirects=False, timeout=30)
    assert other.status_code == 403, (other.status_code, other.text[:300])

    ws_url = "ws" + url.removeprefix("http")
    assert_websocket_refused(ws_url, [])
    assert_websocket_refused(ws_url, [f"Authorization: token {other_token}"])
