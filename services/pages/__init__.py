"""Browser pages of the services, drawn in the hub's own look (JupyterHub's ``page.html``)."""

from .handlers import STATIC_DIR, PageHandler, RedirectPage, StaticHandler, page_routes

__all__ = ["STATIC_DIR", "PageHandler", "RedirectPage", "StaticHandler", "page_routes"]
