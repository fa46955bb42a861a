"""The programs a desktop needs, where they are, and what to install when they are not.

The session program (what runs on the display) is, first found:

1. ``$MLLAB_DESKTOP_SESSION``, a shell command line: set it for every workspace from the hub
   (``c.Spawner.environment = {"MLLAB_DESKTOP_SESSION": "startlxqt"}``) or in an image's ``ENV``;
2. ``~/.vnc/xstartup`` when it is executable: the user's own choice, as with ``vncserver``;
3. XFCE (``xfce4-session`` under ``dbus-launch``), which the workspace image installs;
4. ``xterm``, a bare but working desktop where only TigerVNC and xterm are installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SESSION_VARIABLE = "MLLAB_DESKTOP_SESSION"
X_SERVER = "Xtigervnc"
INSTALL = """\
In the workspace image: the desktop (TigerVNC and XFCE) is included.
On Debian or Ubuntu:
    apt-get install --no-install-recommends tigervnc-standalone-server tigervnc-tools xfce4 dbus-x11
(or xterm in place of xfce4 dbus-x11 for a bare desktop), or set MLLAB_DESKTOP_SESSION to
the command of any X session program."""


def find_x_server() -> str | None:
    """The path of TigerVNC's X server, or None."""
    return shutil.which(X_SERVER)


def find_session() -> list[str] | None:
    """The session program's command (see the module's help), or None when there is none."""
    configured = os.environ.get(SESSION_VARIABLE, "").strip()
    if configured:
        return ["/bin/sh", "-c", configured]
    xstartup = Path(os.environ.get("HOME") or Path.home()) / ".vnc" / "xstartup"
    if xstartup.is_file() and os.access(xstartup, os.X_OK):
        return [str(xstartup)]
    if shutil.which("xfce4-session"):
        launcher = ["dbus-launch", "--exit-with-session"] if shutil.which("dbus-launch") else []
        return [*launcher, "xfce4-session"]
    if shutil.which("xterm"):
        return ["xterm"]
    return None


def missing_program() -> str | None:
    """The name of the first program the desktop lacks, or None when it can start."""
    if find_x_server() is None:
        return X_SERVER
    if find_session() is None:
        return "a session program (xfce4-session or xterm)"
    return None
