"""Idle culling: jupyterhub-idle-culler as a hub-managed service, on every backend.

The culler asks the hub for each server's last activity every ``MLLab.idle_cull_interval``
seconds and stops those idle for longer than ``MLLab.idle_timeout``.  Stopping keeps the
user's home (a folder, volume or PVC): culling frees CPU, memory and GPUs, not data.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from mllab.services.app import HUB_PID_VARIABLE

from .platform import MLLab

SERVICE_NAME = "idle-culler"

#: What the culler needs and nothing more: see users' servers and their activity, stop servers.
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def culler_service(mllab: MLLab) -> dict | None:
    """The ``c.JupyterHub.services`` entry of the culler; None when culling is off."""
    if not mllab.idle_timeout:
        return None
    return {
        "name": SERVICE_NAME,
        "command": [
            sys.executable, "-m", "mllab.hub.culling",
            f"--timeout={mllab.idle_timeout}",
            f"--cull-every={mllab.idle_cull_interval}",
        ],
    }


def culler_role() -> dict:
    """The least-privilege role of the culler, for ``c.JupyterHub.load_roles``."""
    return {
        "name": SERVICE_NAME,
        "description": "Stop workspaces that have been idle too long (jupyterhub-idle-culler).",
        "scopes": list(CULLER_SCOPES),
        "services": [SERVICE_NAME],
    }


def main() -> None:
    """Run jupyterhub-idle-culler, stopping at the SIGINT with which the hub stops services.

    A hub started in the background by a shell (``mllab up &``, nohup) passes SIGINT on as
    ignored; the culler would then hold up the hub's shutdown until SIGTERM, 10 s later.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.environ.get(HUB_PID_VARIABLE, "").isdigit():
        threading.Thread(target=_stop_with_hub, args=(int(os.environ[HUB_PID_VARIABLE]),), daemon=True).start()
    from jupyterhub_idle_culler import main as culler_main

    culler_main()


def _stop_with_hub(hub_pid: int) -> None:
    # A hub killed outright leaves its services to init (the parent pid changes): a culler
    # left behind would go on with the token of a hub that is gone, beside the next hub's own.
    while os.getppid() == hub_pid:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGINT)


if __name__ == "__main__":
    main()
