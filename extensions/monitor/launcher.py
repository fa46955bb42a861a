"""The launcher's "Monitor" tile: a jupyter-server-proxy entry with no process behind it.

The page is the monitor extension's own route (``mllab/monitor/``); the entry only puts a tile
in JupyterLab's launcher pointing there (``launcher_entry.path_info``).
"""

from __future__ import annotations

from pathlib import Path

ICON = Path(__file__).parents[1] / "icons" / "monitor.svg"


def monitor() -> dict:
    """Entry point ``jupyter_serverproxy_servers: mllab-monitor``."""
    return {
        "launcher_entry": {
            "title": "Monitor",
            "path_info": "mllab/monitor/",
            # The launcher shows tool icons in the Notebook section only, beside the other tools.
            "icon_path": str(ICON),
        },
        "new_browser_tab": True,
    }
