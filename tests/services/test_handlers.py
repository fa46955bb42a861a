"""The services' base handlers: who is authenticated, and when a write needs the XSRF token.

A service is served here from this process (the real `ServiceApp` plumbing and `APIHandler`)
beside a real hub, which checks the tokens. A browser holds the service's login cookie, and a
page of another site can make that browser send writes carrying any ``Authorization`` header
it likes, but cannot read the ``_xsrf`` cookie: so a write authenticated by the cookie needs
the XSRF token, whatever else the request carries, and only a write authenticated by its own
token goes without.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import requests
from jupyterhub.services.auth import HubOAuth, HubOAuthenticated
from mllab.services.app import ServiceApp
from mllab.services.handlers import APIHandler
from mllab.services.openapi import Route, operation
from tornado.web import RequestHandler

from ..harness import free_port

PREFIX = "/services/probe/"


class WriteHandler(APIHandler):
    @operation("Echo who wrote.", scope="custom:datasets:write")
    def post(self) -> None:
        self.write_json({"name": self.current_user["name"]}, status=201)


class LoginHandler(HubOAuthenticated, RequestHandler):
    """What the OAuth callback does once the hub has handed over the user's token: the login cookies.

    No route of the services starts an OAuth login yet, and JupyterHub 5 ignores ``?token=``
    in URLs, so a browser gets the service's cookie this way here.
    """

    def get(self) -> None:
        self.hub_auth.set_cookie(self, self.get_argument("token"))


class ProbeApp(ServiceApp):
    name = "probe"

    def routes(self) -> list[Route]:
        return [Route("/api/v1/write", WriteHandler), Route("/login", LoginHandler)]


@pytest.fixture(scope="module")
def service(hub) -> Iterator[str]:
    """The probe service on a free port, asking ``hub`` who a token belongs to; its URL."""
    port = free_port()
    web_app = ProbeApp(prefix=PREFIX).make_web_app()
    # The handlers use HubOAuth's singleton, made from what the hub hands a service it starts
    # (in its environment, partly read at import time): given here instead.
    HubOAuth.clear_instance()
    HubOAuth.instance(base_url=PREFIX, api_url=hub.url + "hub/api", api_token="unused-by-these-routes",
                      oauth_client_id="service-probe")
    loop = asyncio.new_event_loop()
    listening = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = web_app.listen(port, "127.0.0.1")
        loop.call_soon(listening.set)
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert listening.wait(10)
    yield f"http://127.0.0.1:{port}{PREFIX}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    HubOAuth.clear_instance()


@pytest.fixture(scope="module")
def alice(hub):
    """alice's logged-in browser session on the hub, and a token of hers."""
    session, _ = hub.add_user("alice")
    return session, session.new_token("handler tests")


@pytest.fixture
def browser(service, alice) -> requests.Session:
    """alice's browser once logged in to the service: its OAuth cookie and its _xsrf cookie."""
    session, token = alice
    browser = requests.Session()
    browser.cookies.update(session.cookies)
    assert browser.get(service + "login", params={"token": token}, timeout=30).status_code == 200
    assert browser.cookies.get("service-probe", path=PREFIX)
    assert browser.cookies.get("_xsrf", path=PREFIX)
    return browser


def write(session: requests.Session, service: str, headers: dict) -> requests.Response:
    return session.post(service + "api/v1/write", json={}, headers=headers, timeout=30)


def test_cookie_write_with_its_xsrf_token_passes(service, browser):
    xsrf = browser.cookies.get("_xsrf", path=PREFIX)
    answer = write(browser, service, {"X-XSRFToken": xsrf})
    assert (answer.status_code, answer.json()) == (201, {"name": "alice"})


@pytest.mark.parametrize("headers", [{}, {"Authorization": "token not-a-real-token"}, {"X-XSRFToken": "forged"}],
                         ids=["no-header", "bogus-token-header", "wrong-xsrf"])
def test_cookie_write_without_the_xsrf_token_is_refused(service, browser, headers):
    # HubOAuth does not accept the cookie without its XSRF token, so nobody is authenticated.
    answer = write(browser, service, headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize("with_cookies", [False, True], ids=["token-only", "token-and-cookie"])
def test_token_write_needs_no_xsrf(service, alice, browser, with_cookies):
    session = browser if with_cookies else requests.Session()
    answer = write(session, service, {"Authorization": f"token {alice[1]}"})
    assert (answer.status_code, answer.json()) == (201, {"name": "alice"})
