"""A deployment's answer cannot act on the hub: the attack of issue 16, in a real Chromium.

alice deploys a service whose answer is an HTML page with a script. The script tries what a
page on the hub's origin could do with a visitor's rights: stop bob's deployment through the
deployments API (with the service's ``_xsrf`` cookie, whose path covers the endpoint), create a
hub token for the visitor (with the hub's ``_xsrf`` from its token page), and set cookies (in
script and with ``Set-Cookie``). The admin, logged in, visits the Deployments page, opens the
endpoint's URL, and presses "Try it" on it. Nothing may change.
"""

from __future__ import annotations

import sys

import pytest

from .harness import api
from .test_browser_hub import HTTP_SERVICE, log_in

pytestmark = pytest.mark.slow

DEPLOYMENTS = "services/deployments/api/v1/deployments"

#: The page alice's service answers. ``#inert`` shows only where scripts do not run.
EVIL_PAGE = r"""<!doctype html>
<html><head><title>Churn dashboard</title></head><body>
<h1>Churn dashboard</h1>
<noscript><p id="inert">Scripts do not run here.</p></noscript>
<p id="ran" hidden>The script ran.</p>
<script>
(async () => {
  const cookie = (name) => (document.cookie.split("; ").find((c) => c.startsWith(name + "=")) || "=").split("=")[1];
  document.cookie = "evil-script=1; path=/";
  await fetch("/services/deployments/api/v1/deployments/users/bob/churn/stop",
              { method: "POST", credentials: "include", headers: { "X-XSRFToken": cookie("_xsrf") } });
  const tokenPage = await (await fetch("/hub/token", { credentials: "include" })).text();
  const xsrf = (tokenPage.match(/name="_xsrf" value="([^"]+)"/) || tokenPage.match(/xsrf[^"]*"([^"]{20,})"/) || [])[1];
  const me = await (await fetch("/hub/api/user", { credentials: "include", headers: { "X-XSRFToken": xsrf } })).json();
  await fetch(`/hub/api/users/${me.name}/tokens`, {
    method: "POST", credentials: "include",
    headers: { "X-XSRFToken": xsrf, "Content-Type": "application/json" }, body: JSON.stringify({ note: "stolen" }),
  });
  document.getElementById("ran").hidden = false;
})();
</script></body></html>
"""

#: alice's service: the page above at every path, with a cookie for the whole origin.
EVIL_SERVICE = r'''
import http.server, os, sys

PAGE = sys.argv[1].encode()

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Set-Cookie", "evil=1; Path=/")
        self.send_header("Service-Worker-Allowed", "/")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def user_token(hub, admin_token: str, name: str) -> str:
    assert api(hub, admin_token, "POST", f"hub/api/users/{name}").status_code in (201, 409)
    made = api(hub, admin_token, "POST", f"hub/api/users/{name}/tokens", json={"note": "test"})
    assert made.status_code == 201, made.text
    return made.json()["token"]


def deploy(hub, token: str, namespace: str, name: str, command: list[str]) -> None:
    created = api(hub, token, "POST", DEPLOYMENTS, json={"namespace": namespace, "name": name, "command": command,
                                                         "port": 8000})
    assert created.status_code == 201, created.text


def status(hub, token: str, full_name: str) -> tuple[str, str]:
    deployment = api(hub, token, "GET", f"{DEPLOYMENTS}/{full_name}").json()
    return deployment["status"], deployment["desired"]


def token_ids(hub, admin_token: str) -> set[str]:
    return {t["id"] for t in api(hub, admin_token, "GET", "hub/api/users/admin/tokens").json()["api_tokens"]}


def cookies(page) -> set[tuple[str, str, str]]:
    return {(c["name"], c["value"], c["path"]) for c in page.context.cookies()}


def test_endpoint_page_cannot_act_on_the_hub(hub, page):
    admin_token = hub.admin().new_token()
    alice, bob = user_token(hub, admin_token, "alice"), user_token(hub, admin_token, "bob")
    deploy(hub, bob, "users/bob", "churn", HTTP_SERVICE)
    deploy(hub, alice, "users/alice", "evil", [sys.executable, "-c", EVIL_SERVICE, EVIL_PAGE])

    # The admin is logged in to the hub and to the deployments service (its _xsrf cookie included).
    log_in(page, hub)
    page.get_by_role("link", name="Deployments").click()
    page.wait_for_url("**/services/deployments/")
    for full_name in ("users/bob/churn", "users/alice/evil"):
        page.locator(f"tr[data-deployment='{full_name}'] [data-status='ready']").wait_for()
    assert "_xsrf" in {name for name, _, _ in cookies(page)}
    tokens_before, cookies_before = token_ids(hub, admin_token), cookies(page)

    # Opening the endpoint: the page shows, and its script does not run.
    endpoint = hub.url + "services/deployments/endpoints/users/alice/evil/"
    response = page.goto(endpoint)
    assert response.status == 200
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers and "service-worker-allowed" not in response.headers
    page.locator("#inert").wait_for()
    assert page.locator("#ran").is_hidden()

    # "Try it" on alice's deployment: the answer is shown as text.
    page.goto(hub.url + "services/deployments/users/alice/evil")
    page.locator("#status-badge[data-status='ready']").wait_for()
    with page.expect_response(lambda r: r.url == endpoint) as tried:
        page.get_by_role("button", name="Send").click()
    assert tried.value.headers["content-security-policy"] == "sandbox"
    page.locator("#try-answer").filter(has_text="<script>").wait_for()
    assert page.locator("#try-answer script").count() == 0

    assert status(hub, bob, "users/bob/churn") == ("ready", "running")
    assert token_ids(hub, admin_token) == tokens_before
    assert cookies(page) == cookies_before
    for full_name, token in (("users/alice/evil", alice), ("users/bob/churn", bob)):
        assert api(hub, token, "DELETE", f"{DEPLOYMENTS}/{full_name}").status_code == 204
