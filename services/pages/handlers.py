"""What every page of a service shares: the hub login, scope checks, and JupyterHub's ``page.html``.

A page is rendered with the hub's own template (our ``hub/templates/page.html`` over
JupyterHub's), so it has the hub's navigation bar and look; the variables that template needs
(``base_url``, ``static_url``, ``user``, ``xsrf_token``, ...) are filled in here the way the
hub fills them in for its own pages.  The page's scripts then call the service's REST API with
the login cookie and the ``_xsrf`` token (``X-XSRFToken``), which HubAuth checks on every
cookie-authenticated call.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader
from jupyterhub._data import DATA_FILES_PATH
from jupyterhub.services.auth import HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.web import RequestHandler, StaticFileHandler

from ..errors import error_body
from ..openapi import Route
from ..permissions import Permissions

PAGES_DIR = Path(__file__).parent
STATIC_DIR = PAGES_DIR / "static"


@functools.cache
def environment() -> Environment:
    """Our templates, the platform's ``page.html`` and JupyterHub's own (as ``templates/...``)."""
    # Located without importing mllab.hub, which imports the services.
    hub_dir = Path(importlib.util.find_spec("mllab.hub").submodule_search_locations[0])
    jupyterhub_templates = str(Path(DATA_FILES_PATH) / "templates")
    loader = ChoiceLoader([
        PrefixLoader({"templates": FileSystemLoader([jupyterhub_templates])}, "/"),
        FileSystemLoader([str(PAGES_DIR / "templates"), str(hub_dir / "templates")]),
    ])
    return Environment(loader=loader, autoescape=True)


@dataclass(frozen=True)
class PageUser:
    """The ``user`` of ``page.html``: the name, as the hub's own pages show it."""

    name: str

    @property
    def json_escaped_name(self) -> str:
        return json.dumps(self.name)[1:-1]


class PageHandler(HubOAuthenticated, RequestHandler):
    """A page for a logged-in browser.

    Without a login, a GET is sent to the hub's OAuth (``@web.authenticated``); a user who may
    read none of `kinds` gets a 403 page.  Errors are pages too, not JSON.
    """

    #: The page is for users who may read one of these kinds (``custom:<kind>:read``) somewhere.
    kinds: tuple[str, ...] = ()
    #: The navigation bar item the page belongs to (``Datasets``, ``Models``, ``Deployments``).
    nav: str = ""

    @property
    def hub_scopes(self) -> None:
        # Scopes are checked per page (`check_scope`), as the API handlers do per route.
        return None

    @property
    def permissions(self) -> Permissions:
        return Permissions.from_model(self.current_user)

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        # No page frames ours: not another site, and not a page on the hub's origin that a user
        # controls (a deployment's answer, a file a workspace serves), which could overlay it.
        self.set_header("Content-Security-Policy", "frame-ancestors 'none'")

    def check_scope(self) -> None:
        """403 unless the user may read one of `kinds` in some namespace."""
        if not any(self.permissions.readable_namespaces(kind) != set() for kind in self.kinds):
            needed = " or ".join(f"custom:{kind}:read" for kind in self.kinds)
            raise web.HTTPError(403, f"{self.current_user['name']} may not see this page (needs {needed}).")

    def suggested_namespaces(self, kind: str, action: str) -> list[str]:
        """Namespaces to offer in filters and forms: the user's own, their teams', their scopes'."""
        user = self.current_user
        namespaces = [f"users/{user['name']}", *(f"groups/{g}" for g in sorted(user.get("groups") or []))]
        for scope in sorted(user.get("scopes") or []):
            base, _, filt = scope.partition("!")
            owner_kind, _, owner = filt.partition("=")
            if base == f"custom:{kind}:{action}" and owner_kind in ("user", "group") and owner:
                namespaces.append(f"{owner_kind}s/{owner}")
        permitted = [ns for ns in namespaces if self.permissions.can(kind, action, ns)]
        return list(dict.fromkeys(permitted))

    def static(self, path: str) -> str:
        """URL of one of our assets, versioned by its content so browsers refetch it when it changes."""
        version = StaticFileHandler.get_version({"static_path": str(STATIC_DIR)}, path)
        return url_path_join(self.settings["service_prefix"], "static", path) + f"?v={version}"

    def namespace(self, **extra: Any) -> dict[str, Any]:
        """The variables of JupyterHub's ``page.html``, as the hub's own pages get them, and ours."""
        hub_prefix = self.hub_auth.hub_prefix
        model = self.current_user or {}
        admin = bool(model.get("admin"))
        return {
            "base_url": hub_prefix,
            "prefix": hub_prefix[: -len("hub/")] if hub_prefix.endswith("hub/") else "/",
            "user": PageUser(model["name"]) if model else None,
            "login_url": url_path_join(hub_prefix, "login"),
            "logout_url": url_path_join(hub_prefix, "logout"),
            "static_url": lambda path, include_version=True: url_path_join(hub_prefix, "static", path),
            "version_hash": "",
            "services": [],
            # What the navigation bar shows admins (the hub's Admin and our Teams page).
            "parsed_scopes": {"admin-ui", "admin:groups"} if admin else set(),
            "admin_access": admin,
            "no_spawner_check": True,
            "xsrf_token": self.xsrf_token.decode("ascii"),
            "service_prefix": self.settings["service_prefix"],
            "static": self.static,
            "nav_active": self.nav,
            **extra,
        }

    def render_page(self, template: str, **extra: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(environment().get_template(template).render(self.namespace(**extra)))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        body = error_body(status_code, exc)
        try:
            user = self.current_user
        except Exception:
            # The error may be that the hub could not identify the user: draw the page without one.
            user = None
        self.current_user = user
        self.render_page("error.html", status_code=status_code, message=body["message"])


class RedirectPage(PageHandler):
    """The service's root: the browser goes on to its first page (``target``, relative)."""

    def initialize(self, target: str, kinds: tuple[str, ...]) -> None:
        self.target, self.kinds = target, kinds

    @web.authenticated
    def get(self) -> None:
        self.check_scope()
        self.redirect(url_path_join(self.settings["service_prefix"], self.target))


class StaticHandler(StaticFileHandler):
    """The pages' scripts and styles: public, like the hub's own static files (they hold no data)."""

    def initialize(self) -> None:
        super().initialize(path=str(STATIC_DIR))


def page_routes(pages: list[Route]) -> list[Route]:
    """A service's ``pages`` and the route of their assets."""
    return [*pages, Route("/static/{path:path}", StaticHandler)]
