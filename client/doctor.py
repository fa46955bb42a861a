"""``mllab doctor``: is a running platform healthy?  One `Check` per part, with the fix when it is not.

The parts, in the order a request meets them: the proxy (the public URL routes to the hub), the
hub's REST API, the token and the engine of that user's workspaces (which the hub checks with
their spawner), then each service behind the proxy and what it depends on, which
each service reports itself in its readiness check (``/api/v1/health?deep=1``): its database,
the registry's artifact store, the deployments' runtime engine (Docker, Kubernetes or local
processes).  Only health routes and the token's own identity are read, so any user's token
will do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urljoin

import requests

from .config import Settings

#: The platform's services, each at ``<hub>/services/<name>/``.
SERVICES = ("registry", "deployments")

#: Seconds to wait for one answer; a readiness check may take up to 10 s per dependency.
TIMEOUT = 15


@dataclass(frozen=True)
class Check:
    """One part checked: ``what`` it is, ``detail`` of what was seen, ``fix`` when it failed."""

    what: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.what}: {self.detail}"
        return f"FAIL  {self.what}: {self.detail}. Fix: {self.fix}"


def _reason(error: requests.RequestException) -> str:
    # urllib3 nests the interesting part ("Connection refused") inside a long repr.
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
    return match.group(1) if match else type(error).__name__


def _get(http: requests.Session, url: str, token: str = "") -> requests.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    return http.get(url, headers=headers, timeout=TIMEOUT, allow_redirects=False)


def _json(response: requests.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def check_proxy(http: requests.Session, settings: Settings) -> Check:
    url = settings.hub_url + "hub/health"
    try:
        response = _get(http, url)
    except requests.RequestException as e:
        return Check("proxy", False, f"no answer from {settings.hub_url} ({_reason(e)})",
                     "start the platform (mllab up), or set MLLAB_URL to its public address")
    if response.status_code != 200:
        return Check("proxy", False, f"{url} answered HTTP {response.status_code}, so the proxy does not reach the hub",
                     "check that the hub runs (its log says why it stopped) and that MLLAB_URL is the platform's")
    return Check("proxy", True, f"{settings.hub_url} routes to the hub")


def check_hub(http: requests.Session, settings: Settings) -> list[Check]:
    """The hub's REST API, the token, then the engine of the token's user's workspaces."""
    try:
        response = _get(http, settings.hub_api_url)
    except requests.RequestException as e:
        return [Check("hub API", False, f"no answer from {settings.hub_api_url} ({_reason(e)})",
                      "start the hub (mllab up), or correct MLLAB_URL / JUPYTERHUB_API_URL")]
    version = (_json(response) or {}).get("version")
    if response.status_code != 200 or not version:
        return [Check("hub API", False, f"{settings.hub_api_url} answered HTTP {response.status_code}, not JupyterHub",
                      "set MLLAB_URL to the platform's address (the hub's API is <url>/hub/api/)")]
    hub = Check("hub API", True, f"JupyterHub {version} at {settings.hub_api_url}")
    if not settings.token:
        return [hub, Check("token", False, "no token", f"make one at {settings.hub_url}hub/token and set MLLAB_TOKEN")]
    try:
        user = _get(http, settings.hub_api_url + "user", settings.token)
    except requests.RequestException as e:
        return [hub, Check("token", False, f"not checked: no answer from the hub ({_reason(e)})",
                           "check the hub's log")]
    model = _json(user) or {}
    if user.status_code != 200 or "name" not in model:
        return [hub, Check("token", False, f"the hub refuses it (HTTP {user.status_code})",
                           f"make a new one at {settings.hub_url}hub/token and set MLLAB_TOKEN")]
    kind = model.get("kind", "user")
    token = Check("token", True, f"belongs to {kind} {model['name']}")
    if kind != "user":
        return [hub, token]  # a service has no workspaces
    return [hub, token, check_workspaces(http, settings, model["name"])]


def check_workspaces(http: requests.Session, settings: Settings, user: str) -> Check:
    """The engine that runs ``user``'s workspaces, as the hub reaches it with their spawner."""
    url = f"{settings.hub_api_url}mllab/users/{quote(user, safe='')}/workspace-engine"
    try:
        response = _get(http, url, settings.token)
    except requests.Timeout:
        return Check("workspace engine", False, f"no answer within {TIMEOUT} s",
                     "the hub may be stuck on its engine: its log says on what")
    except requests.RequestException as e:
        return Check("workspace engine", False, f"not checked: no answer from the hub ({_reason(e)})",
                     "check the hub's log")
    body = _json(response) or {}
    if response.status_code == 403:
        return Check("workspace engine", False, "not checked: the token may not read this user's server",
                     f"use a token with your own scopes (make one at {settings.hub_url}hub/token)")
    if "ok" not in body:
        return Check("workspace engine", False, f"the hub answered HTTP {response.status_code}",
                     "the hub may be of another version than this client: update both")
    return Check("workspace engine", bool(body["ok"]), str(body.get("detail", "")), str(body.get("fix", "")))


def check_service(http: requests.Session, settings: Settings, name: str) -> list[Check]:
    """The service behind the proxy, then each dependency its readiness check reports."""
    url = urljoin(settings.hub_url, f"services/{name}/api/v1/health?deep=1")
    try:
        response = _get(http, url, settings.token)
    except requests.Timeout:
        return [Check(name, False, f"no answer within {TIMEOUT} s",
                      f"its process may be stuck: the {name} log says on what; restart it")]
    except requests.RequestException as e:
        return [Check(name, False, f"no answer from {url} ({_reason(e)})", "fix the proxy first (see above)")]
    body = _json(response)
    if body is None or body.get("service") != name:
        # A path no service holds goes to the hub, which sends it to /hub/services/<name>/: 404.
        if response.status_code == 404 or "/hub/services/" in response.headers.get("Location", ""):
            fix = "declare it in c.JupyterHub.services (mllab up declares it unless c.MLLab.services removes it)"
            return [Check(name, False, f"the hub has no {name} service", fix)]
        fix = (f"the {name} process is down or unreachable: the hub's log says why a managed service stopped "
               f"(restart mllab up); an external one is started with mllab-{name}")
        return [Check(name, False, f"the proxy gets no answer from it (HTTP {response.status_code})", fix)]
    checks = [Check(name, True, "answers")]
    for probe in body.get("checks", []):
        checks.append(Check(f"{name} {probe.get('name')}", bool(probe.get("ok")), str(probe.get("detail", "")),
                            str(probe.get("fix", ""))))
    return checks


def diagnose(settings: Settings, services: tuple[str, ...] = SERVICES) -> Iterator[Check]:
    """Every check of the platform at ``settings``, as each completes."""
    with requests.Session() as http:
        yield check_proxy(http, settings)
        yield from check_hub(http, settings)
        for name in services:
            yield from check_service(http, settings, name)
