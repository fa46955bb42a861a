"""Who the workspace's user is and where the platform is, for the front end's filters and links."""

from __future__ import annotations

from mllab.client.client import Client
from mllab.client.errors import RegistryError

from .errors import LabError
from .passthrough import SERVICES


def workspace_context(client: Client, hub_base_url: str) -> dict:
    """The user, their namespaces (their own, then their teams') and the platform's public prefixes.

    Asks the hub each time (blocking: run it in an executor), so a team joined since the server
    started shows at once.
    """
    try:
        user = client.http.json("GET", client.http.hub_api_url("user"))
    except RegistryError as e:
        if e.status == 0:
            raise LabError(502, "unreachable", f"The hub does not answer at {client.settings.hub_api_url}: "
                                               f"{e.message}") from None
        raise LabError(e.status, e.error, e.message) from None
    name = user["name"]
    base = hub_base_url if hub_base_url.endswith("/") else hub_base_url + "/"
    return {
        "user": name,
        "namespace": f"users/{name}",
        "namespaces": [f"users/{name}", *(f"groups/{group}" for group in sorted(user.get("groups") or []))],
        "hub_url": base + "hub/",
        "services": {service: f"{base}services/{service}/" for service in SERVICES},
    }
