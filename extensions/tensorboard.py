"""TensorBoard on ``~/tensorboard`` behind jupyter-server-proxy at ``/user/<name>/tensorboard/``.

Write runs under ``~/tensorboard`` (one folder per run); the folder is made when TensorBoard
starts.  TensorBoard serves under the workspace's own prefix (``--path_prefix``), so its
links and API (``data/runs``, ``data/plugin/scalars/...``) work through the proxy.
"""

from __future__ import annotations

import os
from pathlib import Path

from .missing import tool_command

ICON = Path(__file__).with_name("icons") / "tensorboard.svg"
LOGDIR_NAME = "tensorboard"
INSTALL = "pip install tensorboard   (in the workspace's Python environment)"


def logdir() -> Path:
    """``~/tensorboard``: where TensorBoard looks for runs."""
    return Path(os.environ.get("HOME") or Path.home()) / LOGDIR_NAME


def tensorboard_command(path: str, port: int, base_url: str) -> list[str]:
    folder = logdir()
    folder.mkdir(parents=True, exist_ok=True)
    return [
        path, "--logdir", str(folder), "--host", "127.0.0.1", "--port", str(port),
        "--path_prefix", f"{base_url.rstrip('/')}/tensorboard",
    ]


def setup_tensorboard() -> dict:
    """The jupyter-server-proxy entry ``tensorboard`` (entry point ``jupyter_serverproxy_servers``)."""
    return {
        "command": tool_command("tensorboard", tensorboard_command, title="TensorBoard", install=INSTALL),
        "timeout": 60,
        "absolute_url": True,
        "new_browser_tab": True,
        "launcher_entry": {"title": "TensorBoard", "icon_path": str(ICON)},
    }
