"""The services' JSON APIs, reached with the workspace's own hub token on behalf of its browser.

The browser holds no token for the services; the server forwards its calls to
``<service prefix>api/v1/<path>`` with the workspace's ``$JUPYTERHUB_API_TOKEN`` (already
granted the platform's scopes) and hands back the service's status and JSON body unchanged,
errors included, so the front end shows the services' own messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urljoin

from mllab.client.config import Settings
from mllab.client.errors import RegistryError
from mllab.client.http import HubSession, error_from_response

from .errors import LabError, bad_request

SERVICES = ("registry", "deployments")
#: Statuses handed back as they are (the client raises on them otherwise).
EVERY_ERROR = tuple(range(400, 600))


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes


def service_prefix(settings: Settings, service: str) -> str:
    """Where ``service`` is, as the workspace reaches it: ``http://.../services/registry/``."""
    if service == "registry":
        return settings.registry_url
    if service == "deployments":
        return settings.deployments_url
    raise LabError(404, "not_found", f"No service {service!r}: the services are {' and '.join(SERVICES)}.")


def check_subpath(path: str) -> str:
    """``path`` (raw, as in the URL) if it stays under ``api/v1/``: no ``.`` or ``..`` segment, even encoded."""
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        raise bad_request(f"API path {path!r} has a '.' or '..' segment; name the service's route as it is.")
    return path


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def forward(http: HubSession, service: str, method: str, path: str, query: str, body: bytes | None,
            content_type: str | None) -> Answer:
    """``method`` ``<service>/api/v1/<path>?<query>`` with the workspace's token; the answer as it came.

    Blocking: run it in an executor.
    """
    prefix = service_prefix(http.settings, service)
    url = urljoin(prefix, "api/v1/" + check_subpath(path)) + (f"?{query}" if query else "")
    headers = {"Accept": "application/json"}
    if body:
        headers["Content-Type"] = content_type or "application/json"
    try:
        response = http.request(method, url, ok=EVERY_ERROR, data=body or None, headers=headers, stream=True)
    except RegistryError as e:  # no answer at all: refused, timed out
        raise LabError(502, "unreachable", f"The {service} service does not answer at {prefix}: {e.message}") from None
    with response:
        content_type = response.headers.get("Content-Type", "")
        if response.status_code == 204 or is_json(content_type):
            return Answer(response.status_code, response.reason or "", response.content)
        if response.status_code >= 500:  # the proxy's own page: the service is down
            raise LabError(502, "unreachable", f"The {service} service does not answer at {prefix}: "
                                               f"{error_from_response(response).message}")
        if response.status_code >= 400:
            error = error_from_response(response)
            raise LabError(response.status_code, error.error, error.message)
        raise bad_request(
            f"{method} {service} api/v1/{path} answers {response.status_code} "
            f"{content_type or 'without a content type'}, not JSON: only the services' JSON API passes "
            "through here; bring files into the workspace with a pull transfer (mllab/api/transfers).")
