"""The desktop as a workspace tool: our page over noVNC at ``/user/<name>/desktop/``, TigerVNC behind
``/user/<name>/desktop-websockify/``, and nothing of it left once the workspace stops.

The local workspaces run Debian's TigerVNC with xterm as the session (``make system-packages``);
the container test runs the workspace image's XFCE.  The browser's screenshot of the desktop is
kept in ``test-artifacts/`` (or ``$MLLAB_TEST_ARTIFACTS``) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psutil
import pytest
import requests
import websocket
from mllab.extensions.desktop import setup_desktop
from mllab.extensions.desktop.programs import find_session

from ..harness import REPO, Hub, api, require, spawn, stop_server, wait_for
from .tools import assert_sent_to_login, assert_websocket_refused

ARTIFACTS = Path(os.environ.get("MLLAB_TEST_ARTIFACTS", REPO / "test-artifacts"))
#: Inside a container: the names of its processes.
LIST_PROCESSES = "import glob; print(' '.join(open(p).read().strip() for p in glob.glob('/proc/[0-9]*/comm')))"
DESKTOP_NAMES = {"Xtigervnc", "xterm", "xfce4-session", "dbus-launch", "dbus-daemon"}

@pytest.fixture
def tigervnc() -> None:
    """TigerVNC and xterm, which a local workspace's desktop runs: a requirement, never a skip."""
    require(shutil.which("Xtigervnc") and shutil.which("xterm"), "TigerVNC and xterm", "make system-packages")


# -- the entry and the session program, without a hub -------------------------------------------

def test_entry_is_a_raw_socket_with_a_tile_where_tigervnc_is(monkeypatch, tmp_path):
    (tmp_path / "Xtigervnc").write_text("#!/bin/sh\n")
    (tmp_path / "Xtigervnc").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    entry = setup_desktop()
    assert entry["raw_socket_proxy"] and entry["unix_socket"] is True
    assert "{unix_socket}" in entry["command"]
    assert entry["launcher_entry"] == {"title": "Desktop", "path_info": "desktop/",
                                       "icon_path": entry["launcher_entry"]["icon_path"]}
    assert Path(entry["launcher_entry"]["icon_path"]).is_file()


def test_entry_without_tigervnc_has_no_tile_and_serves_the_install_page(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    entry = setup_desktop()
    assert entry["launcher_entry"] == {"enabled": False}
    assert "mllab.extensions.missing" in entry["command"] and "{port}" in entry["command"]
    assert "tigervnc-standalone-server" in entry["command"][entry["command"].index("--install") + 1]


def test_session_program_first_found(monkeypatch, tmp_path):
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    bin_dir.mkdir()
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("MLLAB_DESKTOP_SESSION", raising=False)
    assert find_session() is None

    for name in ("xterm", "xfce4-session", "dbus-launch"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
        expected = {"xterm": ["xterm"], "xfce4-session": ["xfce4-session"],
                    "dbus-launch": ["dbus-launch", "--exit-with-session", "xfce4-session"]}[name]
        assert find_session() == expected

    xstartup = home / ".vnc" / "xstartup"
    xstartup.parent.mkdir()
    xstartup.write_text("#!/bin/sh\nexec xterm\n")
    assert find_session() == expected, "an xstartup that is not executable is not used"
    xstartup.chmod(0o755)
    assert find_session() == [str(xstartup)]

    monkeypatch.setenv("MLLAB_DESKTOP_SESSION", "startlxqt --debug")
    assert find_session() == ["/bin/sh", "-c", "startlxqt --debug"]


# -- on mllab up with the local backend -----------------------------------------------------------

def desktop_processes(hub: Hub, username: str) -> list[psutil.Process]:
    """The desktop processes of ``username``'s workspace on ``hub`` (found by their environment)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            is_desktop = proc.info["name"] in DESKTOP_NAMES or "mllab.extensions.desktop.session" in " ".join(
                proc.info["cmdline"] or [])
            if not is_desktop:
                continue
            env = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if env.get("JUPYTERHUB_USER") == username and str(hub.data_dir) in env.get("HOME", ""):
            found.append(proc)
    return found


def rfb_banner(url: str, header: list[str]) -> bytes:
    connection = websocket.create_connection(url, header=header, timeout=30)
    try:
        return connection.recv()
    finally:
        connection.close()


#: Most of the screen in one colour is no desktop (a cursor or a stray glyph on a blank screen).
MOST_IN_ONE_COLOUR = 0.99
#: In the page: noVNC's screen (its visible canvas) as its number of distinct colours and the share
#: of its most common one, or false while it is missing or (nearly) all of one colour.
SCREEN_DRAWN = f"""() => {{
  const canvas = document.querySelector('#screen canvas');
  if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
  const image = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const pixels = new Uint32Array(image.data.buffer);
  const counts = new Map();
  for (const pixel of pixels) counts.set(pixel, (counts.get(pixel) || 0) + 1);
  let most = 0;
  for (const count of counts.values()) most = Math.max(most, count);
  const screen = {{colours: counts.size, most: most / pixels.length}};
  return screen.most <= {MOST_IN_ONE_COLOUR} ? screen : false;
}}"""


def assert_remote_screen_drawn(page, screenshot: str) -> None:
    """The desktop page shows the remote screen: connected, and something drawn on its canvas.

    The screenshot is kept in ``ARTIFACTS`` for a person to look at.
    """
    page.wait_for_function("document.getElementById('status').dataset.state !== 'connecting'")
    assert page.text_content("#status") == "Connected"
    page.wait_for_function(SCREEN_DRAWN, polling=500)  # times out, failing, on a blank screen
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot))


@pytest.mark.usefixtures("tigervnc")
def test_desktop_through_the_hub_and_gone_with_the_workspace(hub, page):
    alice, password = hub.add_user("alice")
    bob, _ = hub.add_user("bob")
    token, bob_token = alice.new_token(), bob.new_token()
    spawn(hub, token, "alice")

    # The tile: JupyterLab's launcher lists the entries jupyter-server-proxy reports.
    info = api(hub, token, "GET", "user/alice/server-proxy/servers-info").json()
    [desktop] = [s for s in info["server_processes"] if s["name"] == "desktop-websockify"]
    assert desktop["launcher_entry"]["enabled"] and desktop["launcher_entry"]["title"] == "Desktop"
    assert desktop["launcher_entry"]["path_info"] == "desktop/"

    # The page, its script and noVNC's module, through the hub's proxy, for alice only.
    answer = api(hub, token, "GET", "user/alice/desktop/")
    assert answer.status_code == 200, answer.text[:300]
    assert "/user/alice/desktop/static/desktop.js" in answer.text
    assert "X-MLLab-Missing" not in answer.headers
    script = api(hub, token, "GET", "user/alice/desktop/static/desktop.js")
    assert script.status_code == 200 and "desktop-websockify" in script.text
    assert 'import RFB from "./novnc/core/rfb.js"' in script.text
    assert "javascript" in script.headers["Content-Type"], "a module needs a JavaScript MIME type"
    rfb = api(hub, token, "GET", "user/alice/desktop/static/novnc/core/rfb.js")
    assert rfb.status_code == 200 and "export default class RFB" in rfb.text
    for path in ("desktop/", "desktop/static/desktop.js", "desktop/static/novnc/core/rfb.js"):
        assert_sent_to_login(hub, requests.get(hub.url + "user/alice/" + path, allow_redirects=False, timeout=30),
                             "alice")
        assert api(hub, bob_token, "GET", "user/alice/" + path).status_code == 403, path

    # The websocket reaches TigerVNC for alice only (CVE-2024-28179: test the websocket route itself).
    ws_url = "ws" + hub.url.removeprefix("http") + "user/alice/desktop-websockify/"
    assert rfb_banner(ws_url, [f"Authorization: token {token}"]) == b"RFB 003.008\n"
    assert_websocket_refused(ws_url, [])
    assert_websocket_refused(ws_url, [f"Authorization: token {bob_token}"])

    # A person's view: log in, open the desktop, wait for the remote screen.
    page.goto(hub.url + "hub/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", password)
    page.click("#login_submit")
    page.wait_for_url("**/user/alice/**")
    page.goto(hub.url + "user/alice/desktop/")
    assert_remote_screen_drawn(page, "desktop-local.png")

    running = desktop_processes(hub, "alice")
    assert {p.name() for p in running} >= {"Xtigervnc", "xterm"}, running

    stop_server(hub, token, "alice")
    wait_for(lambda: not desktop_processes(hub, "alice"), timeout=30,
             what="alice's desktop processes to end with her workspace")


# -- in a workspace container (the workspace image's XFCE) ----------------------------------------

def test_desktop_in_a_workspace_container(make_docker_hub, docker_client, page):
    hub = make_docker_hub()
    erin, password = hub.add_user("erin")
    mallory, _ = hub.add_user("mallory")
    token = erin.new_token()
    spawn(hub, token, "erin", timeout=300)
    try:
        answer = api(hub, token, "GET", "user/erin/desktop/")
        assert answer.status_code == 200, answer.text[:300]
        assert "X-MLLab-Missing" not in answer.headers, answer.text[:300]
        ws_url = "ws" + hub.url.removeprefix("http") + "user/erin/desktop-websockify/"
        assert rfb_banner(ws_url, [f"Authorization: token {token}"]) == b"RFB 003.008\n"
        assert_websocket_refused(ws_url, [f"Authorization: token {mallory.new_token()}"])

        page.goto(hub.url + "hub/login")
        page.fill("input[name=username]", "erin")
        page.fill("input[name=password]", password)
        page.click("#login_submit")
        page.wait_for_url("**/user/erin/**", timeout=300_000)
        page.goto(hub.url + "user/erin/desktop/")
        container = docker_client.containers.get(f"{hub.env['MLLAB_TEST_PREFIX']}-erin")
        try:
            assert_remote_screen_drawn(page, "desktop-container.png")
        except Exception as e:
            # What the workspace's server and the desktop's session said, for the person reading the failure.
            raise AssertionError(f"{e}\n--- workspace log:\n{container.logs(tail=80).decode(errors='replace')}") from e

        names = container.exec_run(["python3", "-c", LIST_PROCESSES], user="1000").output.decode().split()
        assert {"Xtigervnc", "xfce4-session"} <= set(names), names
    finally:
        stop_server(hub, token, "erin")
