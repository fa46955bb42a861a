"""VS Code in the browser: code-server behind jupyter-server-proxy at ``/user/<name>/vscode/``.

Our own entry rather than ``jupyter-vscode-proxy``: a missing code-server must open the
install page (`missing.tool_command`), not fail the request, and the flags that keep it
behind the hub's login (``--auth none`` on 127.0.0.1 only) are spelled out here.
"""

from __future__ import annotations

import os
from pathlib import Path

from .missing import tool_command

ICON = Path(__file__).with_name("icons") / "vscode.svg"
INSTALL = """\
In the workspace image: code-server is included.
On the local backend, from the ML Lab Hub checkout:  make tools
Elsewhere: npm install -g code-server  (under Node.js 24), or see https://coder.com/docs/code-server/install"""


def home() -> str:
    return os.environ.get("HOME") or str(Path.home())


def code_server_command(path: str, port: int) -> list[str]:
    """code-server without its own login, reachable only through the workspace's proxy."""
    return [
        path, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}",
        "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
        "--ignore-last-opened", home(),
    ]


def setup_vscode() -> dict:
    """The jupyter-server-proxy entry ``vscode`` (entry point ``jupyter_serverproxy_servers``)."""
    return {
        "command": tool_command("code-server", code_server_command, title="VS Code", install=INSTALL),
        "timeout": 60,
        "new_browser_tab": True,
        "launcher_entry": {"title": "VS Code", "icon_path": str(ICON)},
    }
