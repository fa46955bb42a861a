"""The monitor's routes in the workspace's Jupyter server: the JSON figures and the page that shows them.

Both are authenticated as every Jupyter server route is: with JupyterHub, by the hub token
or login cookie of a user allowed on this server (``access:servers``).
"""

from __future__ import annotations

import asyncio
import html
import json
from functools import partial
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .metrics import collect

PAGE = Path(__file__).with_name("static") / "monitor.html"
#: Where the figures and the page are, under the server's base URL (``/user/<name>/``).
API_PATH = "api/mllab/monitor"
PAGE_PATH = "mllab/monitor/"


class MonitorAPIHandler(APIHandler):
    """``GET /api/mllab/monitor``: CPU, memory, disk, network and GPUs of the workspace, as JSON."""

    auth_resource = "api"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        settings = self.settings["mllab_monitor"]
        figures = await asyncio.get_running_loop().run_in_executor(
            None, partial(collect, home=settings["home"], nvml=settings["nvml"], interval=settings["interval"]))
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(figures))


class MonitorPageHandler(JupyterHandler):
    """``GET /mllab/monitor/``: a page polling the figures (the launcher's "Monitor" tile opens it)."""

    auth_resource = "api"

    @web.authenticated
    @authorized
    def get(self) -> None:
        api_url = url_path_join(self.base_url, API_PATH)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PAGE.read_text().replace("__API_URL__", html.escape(api_url, quote=True)))


def handlers(base_url: str) -> list[tuple]:
    return [
        (url_path_join(base_url, API_PATH), MonitorAPIHandler),
        (url_path_join(base_url, PAGE_PATH), MonitorPageHandler),
        (url_path_join(base_url, PAGE_PATH.rstrip("/")), web.RedirectHandler,
         {"url": url_path_join(base_url, PAGE_PATH)}),
    ]
