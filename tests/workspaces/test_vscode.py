"""VS Code (code-server) as a workspace tool: ``/user/<name>/vscode/`` on the user's home."""

from __future__ import annotations

import uuid

import pytest
import websocket

from ..conftest import slow_fixture
from ..harness import api, spawn, wait_for
from .tools import assert_refused

pytestmark = pytest.mark.slow



def assert_workbench(response) -> None:
    assert response.status_code == 200, response.text[:500]
    assert "workbench" in response.text, "code-server's workbench page, not the install page"
    assert "X-MLLab-Missing" not in response.headers


@pytest.fixture(scope="module")
@slow_fixture
def alice(hub):
    """alice (session, password, token) with her local workspace running."""
    session, password = hub.add_user("alice")
    token = session.new_token()
    spawn(hub, token, "alice")
    return session, password, token


def test_vscode_answers_its_owner_only(hub, alice):
    _, _, token = alice
    assert_workbench(api(hub, token, "GET", "user/alice/vscode/"))
    # The workbench's own websocket (the remote extension host connection) opens for alice.
    query = f"?reconnectionToken={uuid.uuid4()}&reconnection=false&skipWebSocketFrames=false"
    ws_url = "ws" + hub.url.removeprefix("http") + "user/alice/vscode/" + query
    connection = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=30)
    connection.close()

    bob, _ = hub.add_user("bob")
    assert_refused(hub, "user/alice/vscode/", bob.new_token())
    assert_refused(hub, "user/alice/vscode/" + query, bob.new_token())



def test_vscode_in_the_browser_edits_a_file_in_the_home(hub, alice, page, tmp_path):
    _, password, _ = alice
    notes = hub.data_dir / "users" / "alice" / "notes.txt"
    notes.write_text("first line\n")

    page.goto(hub.url + "hub/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", password)
    page.click("#login_submit")
    page.wait_for_url("**/user/alice/lab**")

    page.goto(hub.url + "user/alice/vscode/")
    page.locator(".monaco-workbench").wait_for()
    # The explorer shows the home folder; open the file from it.
    page.locator(".explorer-folders-view .monaco-list-row", has_text="notes.txt").click()
    editor = page.locator(".monaco-editor .view-lines").first
    editor.wait_for()
    page.locator(".monaco-editor .view-line", has_text="first line").wait_for()
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("typed in VS Code")
    page.keyboard.press("Control+S")

    def saved() -> bool:
        return "typed in VS Code" in notes.read_text()

    wait_for(saved, timeout=30, what="notes.txt saved by VS Code")
    assert notes.read_text().startswith("first line\n")
    screenshot = tmp_path / "vscode.png"
    page.screenshot(path=str(screenshot))  # kept for a person to look at
    print(f"VS Code screenshot: {screenshot}")


def test_vscode_in_a_container_workspace(make_docker_hub):
    hub = make_docker_hub()
    alice, _ = hub.add_user("alice")
    token = alice.new_token()
    spawn(hub, token, "alice", timeout=180)
    assert_workbench(api(hub, token, "GET", "user/alice/vscode/"))
