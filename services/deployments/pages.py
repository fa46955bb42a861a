"""The deployments' pages in the hub: the list with a form to deploy a model, and one deployment."""

from __future__ import annotations

from tornado import web

from ..openapi import Route
from ..pages import PageHandler, page_routes

KIND = "deployments"


class DeploymentsPage(PageHandler):
    kinds = (KIND,)
    nav = "Deployments"


class ListPage(DeploymentsPage):
    @web.authenticated
    def get(self) -> None:
        self.check_scope()
        self.render_page(
            "deployments_list.html",
            readable=self.suggested_namespaces(KIND, "read"),
            writable=self.suggested_namespaces(KIND, "write"),
            model=self.get_query_argument("model", ""),
        )


class DeploymentPage(DeploymentsPage):
    @web.authenticated
    def get(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = f"{owner_kind}/{owner}"
        if not self.permissions.can(KIND, "read", namespace):
            raise web.HTTPError(403, f"{self.current_user['name']} may not read deployments in {namespace}.")
        self.render_page(
            "deployment.html",
            namespace=namespace,
            name=name,
            writable=self.permissions.can(KIND, "write", namespace),
            invokable=self.permissions.can(KIND, "invoke", namespace),
        )


def deployments_pages() -> list[Route]:
    """The list at the service's root, a deployment at ``/users/<user>/<name>`` (or ``groups/...``)."""
    return page_routes([
        Route("/", ListPage),
        Route("/(?P<owner_kind>users|groups)/{owner}/{name}", DeploymentPage),
    ])
