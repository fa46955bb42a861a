"""What the workspace tool tests share: a tool's route refused to strangers, websockets included."""

from __future__ import annotations

import requests
import websocket

from ..harness import Hub


def assert_refused(hub: Hub, path: str, other_token: str) -> None:
    """``path`` (under the hub) answers no one but its owner: not without login, not another
    user's token, over HTTP and over a websocket upgrade (CVE-2024-28179)."""
    url = hub.url + path.lstrip("/")
    anonymous = requests.get(url, allow_redirects=False, timeout=30)
    assert anonymous.status_code in (302, 401, 403), (anonymous.status_code, anonymous.text[:300])
    if anonymous.status_code == 302:
        assert "/hub/" in anonymous.headers["Location"], anonymous.headers["Location"]
    other = requests.get(url, headers={"Authorization": f"token {other_token}"}, allow_redirects=False, timeout=30)
    assert other.status_code == 403, (other.status_code, other.text[:300])

    ws_url = "ws" + url.removeprefix("http")
    for header in ([], [f"Authorization: token {other_token}"]):
        try:
            connection = websocket.create_connection(ws_url, header=header, timeout=30)
        except websocket.WebSocketBadStatusException as e:
            assert e.status_code in (302, 401, 403), e
        else:
            connection.close()
            raise AssertionError(f"websocket {path} opened with {header or 'no credentials'}")
