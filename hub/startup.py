"""What ``mllab up`` does when the hub starts, before the settings are derived.

Kept apart from the configuration (`mllab.hub.hubconfig.configure`, a pure function): here
the data dir is made, the proxy token is generated or read back, and free ports are chosen
for whatever the admin left unset, so several hubs share one machine.  The ports chosen are
kept in the data dir and taken again at the next start while they are free: workspaces that
outlive a restarting hub still reach its API where they were told it is.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from traitlets.config import Config

from .platform import MLLab
from .secrets import kept_secret
from .services import BUILTIN


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class KeptPorts:
    """Ports by name, remembered in ``path`` (JSON) across starts; a taken one is replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.ports = {k: int(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError, TypeError, AttributeError):
            self.ports = {}

    def get(self, name: str) -> int:
        port = self.ports.get(name)
        if port is None or not port_is_free(port):
            port = self.ports[name] = free_port()
        return port

    def save(self) -> None:
        self.path.write_text(json.dumps(self.ports, indent=1) + "\n")


def start_up(mllab: MLLab, c: Config) -> Config:
    """Make the data dir and the secrets; settings for the free ports and the kept proxy token.

    ``c`` is the configuration so far: what it sets already is left alone.
    """
    data_dir = Path(mllab.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Config()
    if "auth_token" not in c.ConfigurableHTTPProxy:
        # Kept, so a proxy that outlives a restarting hub still takes its routes.
        settings.ConfigurableHTTPProxy.auth_token, _ = kept_secret(data_dir / "proxy-token")
    kept = KeptPorts(data_dir / "ports.json")
    if "hub_port" not in c.JupyterHub:
        settings.JupyterHub.hub_port = kept.get("hub")
    if "api_url" not in c.ConfigurableHTTPProxy:
        settings.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{kept.get('proxy-api')}"
    ports = dict(mllab.service_ports)
    for name in BUILTIN:
        spec = mllab.services.get(name, {})
        managed = spec is not None and "api_token" not in spec
        if managed and name not in ports:
            ports[name] = kept.get(name)
    settings.MLLab.service_ports = ports
    kept.save()
    return settings


def python_bin_on_path() -> None:
    """Put this Python's scripts first on PATH, so spawned servers use the same environment."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
