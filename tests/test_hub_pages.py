"""The services' pages and the hub's Teams page, over HTTP against a real ``mllab up``.

A browser that is logged in to the hub gets HTML (through the services' OAuth with the hub);
one that is not is sent to log in; a token lacking the page's scope gets a 403 page. The REST
API keeps its JSON 404 and its OpenAPI document, which lists no page.
"""

from __future__ import annotations

import pytest
import requests
from mllab.services.deployments.app import DeploymentsApp
from mllab.services.registry.app import RegistryApp

from .harness import api

PAGES = {
    "datasets": "services/registry/datasets/",
    "models": "services/registry/models/",
    "deployments": "services/deployments/",
}


@pytest.fixture(scope="module")
def alice(hub):
    session, _ = hub.add_user("alice")
    return session


@pytest.mark.parametrize("page", list(PAGES.values()), ids=list(PAGES))
def test_logged_in_browser_gets_the_page(hub, alice, page):
    response = alice.get(hub.url + page)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'id="mllab-page"' in response.text
    # No page may frame it, not even one on the hub's origin (a user's content lives there too).
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    # The hub's navigation bar, with the platform's links; alice is no admin: no Teams.
    for label in ("Datasets", "Models", "Deployments"):
        assert f">{label}</a>" in response.text
    assert ">Teams</a>" not in response.text


def test_service_root_opens_the_datasets_page(hub, alice):
    response = alice.get(hub.url + "services/registry/")
    assert response.url == hub.url + PAGES["datasets"]
    assert "<h1 class=\"h3\">Datasets</h1>" in response.text


@pytest.mark.parametrize("page", list(PAGES.values()), ids=list(PAGES))
def test_anonymous_browser_is_sent_to_log_in(hub, page):
    response = requests.get(hub.url + page, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert "/hub/api/oauth2/authorize" in response.headers["Location"]
    landed = requests.get(hub.url + page, timeout=10)
    assert "/hub/login" in landed.url


@pytest.mark.parametrize(
    ("page", "scopes"),
    [
        (PAGES["datasets"], ["custom:models:read!user=alice"]),
        (PAGES["models"], ["custom:datasets:read!user=alice"]),
        (PAGES["deployments"], ["custom:models:read!user=alice"]),
        ("services/registry/datasets/users/bob/secret", ["custom:datasets:read!user=alice"]),
    ],
    ids=["datasets-without-datasets-read", "models-without-models-read", "deployments-without-deployments-read",
         "another-users-dataset"],
)
def test_page_needs_its_scope(hub, alice, page, scopes):
    token = alice.new_token(scopes=scopes)
    response = api(hub, token, "GET", page)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/html")
    assert "may not" in response.text


def test_artifact_and_deployment_pages_answer_for_their_owner(hub, alice):
    for page in ("services/registry/datasets/users/alice/iris", "services/registry/models/users/alice/clf",
                 "services/deployments/users/alice/churn"):
        response = alice.get(hub.url + page)
        assert response.status_code == 200, (page, response.status_code)
        assert 'data-namespace="users/alice"' in response.text


@pytest.mark.parametrize("path", ["services/registry/api/v1/nope", "services/deployments/api/v1/nope"],
                         ids=["registry", "deployments"])
def test_unknown_api_route_is_still_a_json_404(hub, alice, path):
    response = alice.get(hub.url + path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("app", [RegistryApp, DeploymentsApp], ids=["registry", "deployments"])
def test_openapi_lists_no_page(hub, app):
    document = requests.get(hub.url + f"services/{app.name}/api/v1/openapi.json", timeout=10).json()
    pages = {route.openapi_path for route in app().pages()}
    assert "/" in pages and "/static/{path}" in pages
    assert "/api/v1/health" in document["paths"]
    assert pages.isdisjoint(document["paths"])


def test_page_assets_are_served(hub):
    response = requests.get(hub.url + "services/registry/static/upload.js", timeout=10)
    assert response.status_code == 200
    assert "export async function upload" in response.text
    sha = requests.get(hub.url + "services/registry/static/vendor/noble-hashes/sha2.js", timeout=10)
    assert sha.status_code == 200, "make setup copies @noble/hashes into services/pages/static/vendor"


def test_cookie_write_needs_the_pages_xsrf_token(hub, alice):
    """The pages' scripts write with the login cookie and the page's _xsrf token; without it, nobody."""
    page = alice.get(hub.url + PAGES["datasets"])
    xsrf = page.text.split('data-xsrf="', 1)[1].split('"', 1)[0]
    url = hub.url + "services/registry/api/v1/datasets"
    body = {"namespace": "users/alice", "name": "from-the-page"}
    assert alice.post(url, json=body).status_code == 401
    created = alice.post(url, json=body, headers={"X-XSRFToken": xsrf})
    assert created.status_code == 201, created.text


def test_teams_page_is_for_admins(hub, alice):
    assert alice.get(hub.url + "hub/teams").status_code == 403
    admin = hub.admin()
    response = admin.get(hub.url + "hub/teams")
    assert response.status_code == 200
    assert 'id="team-create"' in response.text
    assert ">Teams</a>" in response.text
