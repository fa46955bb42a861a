"""Hardware monitoring of a workspace: a Jupyter server extension.

``GET <base_url>api/mllab/monitor`` answers the workspace's CPU, memory, disk, network and GPU
figures as JSON; ``<base_url>mllab/monitor/`` is a page showing them, opened by the launcher's
"Monitor" tile (:mod:`.launcher`).  The extension is enabled by the data file
``etc/jupyter/jupyter_server_config.d/mllab-monitor.json`` that the ``mllab`` wheel installs,
so every workspace's server loads it with no configuration.  It also turns on the CPU and
disk figures of jupyter-resource-usage's status bar item, unless the server's config says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

from .gpu import load_nvml
from .handlers import handlers


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "mllab.extensions.monitor"}]


#: jupyter-resource-usage's settings the workspace starts with (``c.ResourceUseDisplay.*`` overrides them).
RESOURCE_USAGE_DEFAULTS = {"track_cpu_percent": True, "track_disk_usage": True}


def _link_jupyter_server_extension(serverapp) -> None:
    # Linking runs for every extension before any loads, so jupyter-resource-usage reads these.
    section = serverapp.config.ResourceUseDisplay
    for name, value in RESOURCE_USAGE_DEFAULTS.items():
        if name not in section:
            section[name] = value


def _load_jupyter_server_extension(serverapp) -> None:
    home = os.environ.get("HOME") or str(Path.home())
    nvml = load_nvml()
    serverapp.web_app.settings["mllab_monitor"] = {"home": home, "nvml": nvml, "interval": 0.2}
    serverapp.web_app.add_handlers(".*$", handlers(serverapp.web_app.settings["base_url"]))
    serverapp.log.info("ML Lab monitor at %sapi/mllab/monitor (%s)", serverapp.base_url,
                       "NVIDIA GPUs through NVML" if nvml else "no GPU")
