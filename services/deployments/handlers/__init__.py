"""The deployments service's REST routes (API.md), one module per resource."""

from __future__ import annotations

from ...openapi import Route
from .deployments import deployment_routes
from .jobs import job_routes


def deployments_routes() -> list[Route]:
    """Every REST route of the service, under the service prefix (the endpoint proxy's is the app's)."""
    return [Route(path, handler) for path, handler in (*deployment_routes(), *job_routes())]
