"""The one HTTP helper of the client: a ``requests.Session`` that knows the hub, its token and its errors.

The token goes only to the hub's own origins; presigned storage URLs get no ``Authorization``
header (S3 refuses a request that carries two kinds of authentication, and the token must not
leak to a storage endpoint).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .config import Settings
from .errors import RegistryError

log = logging.getLogger(__name__)

#: Seconds to connect, and to wait for each read: large files take long, but never silent that long.
TIMEOUT = (15, 300)
#: Items asked for per page of a list (the services' most).
PAGE = 500


def _user_agent() -> str:
    try:
        return f"mllab-client/{version('mllab')} requests/{requests.__version__}"
    except PackageNotFoundError:
        return f"mllab-client requests/{requests.__version__}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _without_query(url: str) -> str:
    # Presigned URLs carry credentials in the query string: never print them.
    return url.split("?", 1)[0]


def error_from_response(response: requests.Response) -> RegistryError:
    """The RegistryError for an error answer: the service's JSON body, else an S3 XML error, else the text."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return RegistryError(status, str(body.get("error") or "error"), str(body["message"]))
    text = response.text or ""
    code = re.search(r"<Code>(.*?)</Code>", text)
    if code:  # S3 answers errors in XML
        message = re.search(r"<Message>(.*?)</Message>", text)
        detail = message.group(1) if message else code.group(1)
        return RegistryError(status, code.group(1), f"Storage refused {_without_query(response.url)}: {detail}")
    snippet = re.sub(r"<[^>]+>|\s+", " ", text).strip()[:200]
    message = f"{response.request.method} {_without_query(response.url)} failed: {snippet or response.reason}"
    return RegistryError(status, "http_error", message)


class HubSession:
    """HTTP to one hub: its REST API, the registry service, and the storage URLs the registry hands out."""

    def __init__(self, settings: Settings, pool_size: int = 8) -> None:
        self.settings = settings
        self._own_origins = {_origin(u) for u in (settings.hub_url, settings.hub_api_url, settings.registry_url)}
        self.session = requests.Session()
        self.session.headers["User-Agent"] = _user_agent()
        # Retry only failures to connect (nothing was sent, so any method is safe to repeat).
        retry = Retry(total=3, connect=3, read=0, status=0, other=0, allowed_methods=None, backoff_factor=0.5)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 4), max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def registry_url(self, path: str) -> str:
        return urljoin(self.settings.registry_url, "api/v1/" + path.lstrip("/"))

    def hub_api_url(self, path: str) -> str:
        return urljoin(self.settings.hub_api_url, path.lstrip("/"))

    def request(self, method: str, url: str, ok: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        """Send a request; an answer >= 400 not in ``ok`` raises :class:`RegistryError`."""
        headers = dict(kwargs.pop("headers", None) or {})
        if _origin(url) in self._own_origins:
            headers["Authorization"] = f"token {self.settings.token}"
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        try:
            response = self.session.request(method, url, headers=headers, **kwargs)
        except requests.ConnectionError as e:
            where = _without_query(url)
            # Not the hub's own address: the registry sent us to its storage (a presigned S3 URL).
            hint = ("Is the hub running and the URL right?" if _origin(url) in self._own_origins
                    else "The registry's storage is down or out of reach; try again once it is back.")
            raise RegistryError(0, "unreachable", f"Cannot reach {where}: {_reason(e)}. {hint}") from None
        except requests.Timeout:
            raise RegistryError(0, "timeout", f"{method} {_without_query(url)} timed out; try again.") from None
        log.debug("%s %s -> %s", method, _without_query(url), response.status_code)
        if response.status_code >= 400 and response.status_code not in ok:
            error = error_from_response(response)
            response.close()
            raise error
        return response

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """The JSON answer of a request (None for 204)."""
        response = self.request(method, url, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RegistryError(
                response.status_code,
                "bad_answer",
                f"{method} {_without_query(url)} answered something that is not JSON; is {url} the registry?",
            ) from None

    def pages(self, url: str, params: dict[str, Any], limit: int | None = None) -> Iterator[dict]:
        """The items of a list (at most ``limit``), page by page: each asks for those after the ``next`` cursor
        of the page before, until a page has none."""
        params = {**params, "limit": PAGE if limit is None else min(PAGE, limit)}
        seen = 0
        while True:
            page = self.json("GET", url, params=params)
            for item in page["items"][: None if limit is None else limit - seen]:
                seen += 1
                yield item
            if not page.get("next") or (limit is not None and seen >= limit):
                return
            params["after"] = page["next"]

    def close(self) -> None:
        self.session.close()


def _reason(error: requests.ConnectionError) -> str:
    # urllib3 nests the interesting part ("Connection refused") inside a long repr.
    text = str(error)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    return match.group(1) if match else text[:200]
