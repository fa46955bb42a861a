"""The registry's pages in the hub: Datasets and Models (lists, an artifact with its versions, uploads)."""

from __future__ import annotations

from tornado import web

from ..openapi import Route
from ..pages import PageHandler, RedirectPage, page_routes
from ..permissions import parse_namespace
from .validation import KINDS


class RegistryPage(PageHandler):
    """A page about one kind of artifact (``datasets`` or ``models``)."""

    def initialize(self, kind: str) -> None:
        self.kind = kind
        self.kinds = (kind,)
        self.nav = kind.capitalize()


class ListPage(RegistryPage):
    @web.authenticated
    def get(self) -> None:
        self.check_scope()
        self.render_page(
            "registry_list.html",
            kind=self.kind,
            readable=self.suggested_namespaces(self.kind, "read"),
            writable=self.suggested_namespaces(self.kind, "write"),
        )


class ArtifactPage(RegistryPage):
    @web.authenticated
    def get(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = f"{owner_kind}/{owner}"
        try:
            parse_namespace(namespace)
        except ValueError as e:
            raise web.HTTPError(404, str(e)) from None
        if not self.permissions.can(self.kind, "read", namespace):
            raise web.HTTPError(403, f"{self.current_user['name']} may not read {self.kind} in {namespace}.")
        self.render_page(
            "registry_artifact.html",
            kind=self.kind,
            namespace=namespace,
            name=name,
            writable=self.permissions.can(self.kind, "write", namespace),
        )


def registry_pages() -> list[Route]:
    """``/datasets/``, ``/models/`` and an artifact's page under each; the root opens Datasets."""
    pages = [Route("/", RedirectPage, {"target": "datasets/", "kinds": KINDS})]
    for kind in KINDS:
        pages += [
            Route(f"/{kind}/", ListPage, {"kind": kind}),
            Route(f"/{kind}/{{owner_kind}}/{{owner}}/{{name}}", ArtifactPage, {"kind": kind}),
        ]
    return page_routes(pages)
