"""The desktop's pages: the remote screen at ``<base_url>desktop/``, or what to install."""

from __future__ import annotations

from pathlib import Path

import jinja2
from jupyter_server.base.handlers import AuthenticatedFileHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..missing import install_page
from .programs import INSTALL, missing_program

HERE = Path(__file__).parent
#: noVNC's RFB client, copied from npm's @novnc/novnc by `make setup`.
NOVNC = HERE / "static" / "novnc" / "core" / "rfb.js"
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


class DesktopPageHandler(JupyterHandler):
    """The desktop's page (``static/desktop.js`` over noVNC), or the install page (200,
    ``X-MLLab-Missing``) where a program is missing."""

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


class StaticHandler(AuthenticatedFileHandler):
    """The page's script, style and noVNC's modules, for the workspace's owner.

    A browser fetches a module script (``desktop.js`` and what it imports) in CORS mode, and
    JupyterHub accepts its login cookie on such a request only with an XSRF token, which an
    ``import`` cannot send. These files are the package's own, the same for every workspace,
    so a same-origin script fetch is let through without one; the cookie still has to be the
    owner's.
    """

    def check_xsrf_cookie(self) -> None:
        headers = self.request.headers
        if (self.request.method in ("GET", "HEAD") and headers.get("Sec-Fetch-Site") == "same-origin"
                and headers.get("Sec-Fetch-Dest") == "script"):
            return
        super().check_xsrf_cookie()


class AddSlashHandler(web.RequestHandler):
    def get(self) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(f"{self.request.path}/{query}")


def handlers(base_url: str) -> list[tuple]:
    return [
        (url_path_join(base_url, "desktop/static/(.*)"), StaticHandler, {"path": str(HERE / "static")}),
        (url_path_join(base_url, "desktop"), AddSlashHandler),
        (url_path_join(base_url, "desktop/"), DesktopPageHandler),
    ]
