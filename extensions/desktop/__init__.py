"""A Linux desktop in the browser: TigerVNC and noVNC, behind the hub's login.

Two pieces, both ours:

- the jupyter-server-proxy entry ``desktop-websockify`` (:func:`setup_desktop`, entry point
  ``jupyter_serverproxy_servers``): the websocket at ``<base_url>desktop-websockify/``
  carries RFB straight to Xtigervnc's unix socket (``raw_socket_proxy``: no TCP port, no
  websockify), started by :mod:`.session`, which takes every desktop process down with it;
- this Jupyter server extension, enabled by the data file
  ``etc/jupyter/jupyter_server_config.d/mllab-desktop.json`` the wheel installs: the page at
  ``<base_url>desktop/`` (what the "Desktop" tile opens; ``templates/index.html`` and
  ``static/desktop.js``, over noVNC's RFB client), or, where a program is missing, a page
  that says what to install.

noVNC is a dependency (npm ``@novnc/novnc``, MPL-2.0): ``make setup`` copies its modules to
``static/novnc/``, a build output that the wheel includes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..missing import missing_command
from .handlers import NOVNC, handlers
from .programs import INSTALL, find_x_server, missing_program

ICON = Path(__file__).with_name("static") / "desktop.svg"


def setup_desktop() -> dict:
    """The jupyter-server-proxy entry ``desktop-websockify``.

    The "Desktop" tile shows where Xtigervnc is installed and opens ``desktop/``, the page.
    Without Xtigervnc, the entry serves the install page instead of a websocket.
    """
    if find_x_server() is None:
        return {
            "command": missing_command("Desktop", "Xtigervnc", INSTALL, "{port}"),
            "launcher_entry": {"enabled": False},
        }
    return {
        "command": [sys.executable, "-m", "mllab.extensions.desktop.session", "--socket", "{unix_socket}"],
        "timeout": 30,
        "unix_socket": True,
        "raw_socket_proxy": True,
        "new_browser_tab": True,
        "launcher_entry": {"title": "Desktop", "path_info": "desktop/", "icon_path": str(ICON)},
    }


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "mllab.extensions.desktop"}]


def _load_jupyter_server_extension(serverapp) -> None:
    serverapp.web_app.add_handlers(".*$", handlers(serverapp.web_app.settings["base_url"]))
    if not NOVNC.is_file():
        serverapp.log.warning("The desktop's page has no noVNC: %s is missing (run `make setup` before "
                              "building the wheel)", NOVNC)
    missing = missing_program()
    serverapp.log.info("ML Lab desktop at %sdesktop/ (%s)", serverapp.base_url,
                       f"{missing} is missing: the page says what to install" if missing else "TigerVNC")
