"""What the extension's handlers share in one server: the root dir, the client and the transfers."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mllab.client.client import Client
from mllab.client.errors import ConfigError

from .errors import LabError
from .transfers import Transfers


class LabState:
    """The extension's state in one Jupyter server (``web_app.settings["mllab_lab"]``).

    The client is made on first use, from the workspace's environment (``$JUPYTERHUB_API_URL``,
    ``$JUPYTERHUB_API_TOKEN``, ``$MLLAB_URL``): a server started outside a hub still loads the
    extension, and its routes then say what is missing.
    """

    def __init__(self, root_dir: str | Path, hub_base_url: str | None = None) -> None:
        self.root_dir = Path(root_dir).resolve()
        #: The hub's base URL as the browser reaches it (``/`` or ``/prefix/``).
        self.hub_base_url = hub_base_url or os.environ.get("JUPYTERHUB_BASE_URL") or "/"
        self._client: Client | None = None
        self._lock = threading.Lock()
        self.transfers = Transfers(self.client)

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                try:
                    self._client = Client(workers=4)
                except ConfigError as e:
                    raise LabError(503, "not_configured", f"This server is not in an ML Lab workspace: {e}") from None
            return self._client

    def close(self) -> None:
        self.transfers.close()
        if self._client is not None:
            self._client.close()
