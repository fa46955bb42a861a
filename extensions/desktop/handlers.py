"""The desktop's pages: noVNC at ``<base_url>desktop/``, or what to install."""

from __future__ import annotations

from pathlib import Path

import jinja2
from jupyter_server.base.handlers import AuthenticatedFileHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..missing import install_page
from .programs import INSTALL, missing_program

HERE = Path(__file__).parent
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


class DesktopPageHandler(JupyterHandler):
    """The noVNC page; the install page (200, ``X-MLLab-Missing``) where a program is missing."""

    @web.authenticated
    def get(self) -> None:
        missing = missing_program()
        self.set_header("Cache-Control", "no-store")
        if missing:
            self.set_header("X-MLLab-Missing", missing)
            self.finish(install_page("Desktop", missing, INSTALL))
            return
        variables = {**self.serverapp.jinja_template_vars, "base_url": self.base_url}
        self.finish(TEMPLATES.get_template("index.html").render(**variables))


class AddSlashHandler(web.RequestHandler):
    def get(self) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(f"{self.request.path}/{query}")


def handlers(base_url: str) -> list[tuple]:
    return [
        (url_path_join(base_url, "desktop/static/(.*)"), AuthenticatedFileHandler, {"path": str(HERE / "static")}),
        (url_path_join(base_url, "desktop"), AddSlashHandler),
        (url_path_join(base_url, "desktop/"), DesktopPageHandler),
    ]
