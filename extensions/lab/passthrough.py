"""The services' JSON APIs and the deployments' endpoints, reached with the workspace's own hub token.

The browser holds no token for the services; the server forwards its calls to
``<service prefix>api/v1/<path>``, or to a deployment's ``<deployments prefix>endpoints/<namespace>/<name>/<path>``,
with the workspace's ``$JUPYTERHUB_API_TOKEN`` (already granted the platform's scopes) and hands
back the status and JSON (or plain text: a deployment's logs) body unchanged, errors included, so
the front end shows the services' and model servers' own messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urljoin

from mllab.client.config import Settings
from mllab.client.errors import RegistryError
from mllab.client.http import HubSession, error_from_response
from mllab.client.protocol import OWNER_KINDS, ProtocolError, check_name

from .errors import LabError, bad_request

SERVICES = ("registry", "deployments")
#: Statuses handed back as they are (the client raises on them otherwise).
EVERY_ERROR = tuple(range(400, 600))


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    body: bytes
    #: ``application/json`` or ``text/plain...`` as the service sent it; empty for a 204.
    content_type: str


def service_prefix(settings: Settings, service: str) -> str:
    """Where ``service`` is, as the workspace reaches it: ``http://.../services/registry/``."""
    if service == "registry":
        return settings.registry_url
    if service == "deployments":
        return settings.deployments_url
    raise LabError(404, "not_found", f"No service {service!r}: the services are {' and '.join(SERVICES)}.")


def check_subpath(path: str) -> str:
    """``path`` (raw, as in the URL) if it stays where it is put: no ``.`` or ``..`` segment, even encoded."""
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        raise bad_request(f"API path {path!r} has a '.' or '..' segment; name the service's route as it is.")
    return path


def api_path(path: str) -> str:
    """The service's ``api/v1/<path>``."""
    return "api/v1/" + check_subpath(path)


def endpoint_path(path: str) -> str:
    """``<owner_kind>/<owner>/<name>/<path>`` (raw) as the deployments' ``endpoints/...`` path, checked."""
    owner_kind, owner, name, rest = ([*path.split("/", 3), "", "", ""])[:4]
    if unquote(owner_kind) not in OWNER_KINDS:
        raise bad_request(f"Endpoint path {path!r} must start with the deployment's namespace, users/<name> or "
                          "groups/<name>, then its name.")
    try:
        check_name(unquote(owner), "owner")
        check_name(unquote(name), "deployment name")
    except ProtocolError as e:
        raise bad_request(str(e)) from None
    # Names hold no character that needs encoding: the decoded and the raw forms are the same.
    return f"endpoints/{unquote(owner_kind)}/{unquote(owner)}/{unquote(name)}/{check_subpath(rest)}"


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def is_plain_text(content_type: str) -> bool:
    """Plain text only: an HTML page handed back would run as this server's own page in the browser."""
    return content_type.split(";", 1)[0].strip().lower() == "text/plain"


def forward(http: HubSession, service: str, method: str, path: str, query: str, body: bytes | None,
            content_type: str | None) -> Answer:
    """``method`` ``<service prefix><path>?<query>`` with the workspace's token; the answer as it came.

    ``path`` is checked by the caller (``api_path``, ``endpoint_path``). Blocking: run it in an executor.
    """
    prefix = service_prefix(http.settings, service)
    url = urljoin(prefix, path) + (f"?{query}" if query else "")
    headers = {"Accept": "application/json, text/plain"}
    if body:
        headers["Content-Type"] = content_type or "application/json"
    try:
        response = http.request(method, url, ok=EVERY_ERROR, data=body or None, headers=headers, stream=True)
    except RegistryError as e:  # no answer at all: refused, timed out
        raise LabError(502, "unreachable", f"The {service} service does not answer at {prefix}: {e.message}") from None
    with response:
        content_type = response.headers.get("Content-Type", "")
        if response.status_code == 204:
            return Answer(204, response.reason or "", b"", "")
        if is_json(content_type) or (is_plain_text(content_type) and response.status_code < 500):
            return Answer(response.status_code, response.reason or "", response.content, content_type)
        if response.status_code >= 500:  # the proxy's own page: the service is down
            raise LabError(502, "unreachable", f"The {service} service does not answer at {prefix}: "
                                               f"{error_from_response(response).message}")
        if response.status_code >= 400:
            error = error_from_response(response)
            raise LabError(response.status_code, error.error, error.message)
        raise bad_request(
            f"{method} {service} {path} answers {response.status_code} "
            f"{content_type or 'without a content type'}, neither JSON nor plain text: only the services' APIs "
            "pass through here; bring files into the workspace with a pull transfer (mllab/api/transfers).")
