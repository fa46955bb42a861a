"""The hub's own pages in a real browser (Debian's chromium driven by Playwright), no workspace started.

Datasets (upload with a progress bar, resumable), a dataset's page (alias, download),
Deployments, Teams. Each test saves a screenshot of its screen in test-artifacts/screenshots/
(ignored by git) for a person to look at.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from urllib.parse import parse_qs, urlparse

import pytest

from .harness import REPO, api, wait_for
from .registry.conftest import write_config
from .registry.helpers import Registry

pytestmark = pytest.mark.slow

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
MiB = 1024 * 1024
#: A local deployment: Python's HTTP server on the port the runtime gives it.
HTTP_SERVICE = ["sh", "-c", 'exec "$0" -m http.server "$PORT" --bind 127.0.0.1', sys.executable]


#: Controls of the page's main part that have no accessible name or cannot be reached with Tab.
UNREACHABLE_OR_UNLABELLED = """() =>
  [...document.querySelectorAll(
    "main input:not([type=hidden]), main select, main textarea, main button, main a[href], main pre[tabindex]")]
  .filter((e) => e.offsetParent !== null)
  .filter((e) => e.tabIndex < 0 || !((e.labels && e.labels.length) || e.getAttribute("aria-label")
                                      || e.getAttribute("aria-labelledby") || e.textContent.trim()))
  .map((e) => e.outerHTML.slice(0, 120))"""


def screenshot(page, name: str) -> None:
    """Keep the screen for a person to look at, once every control on it has a label and a tab stop."""
    assert page.evaluate(UNREACHABLE_OR_UNLABELLED) == [], name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page, hub) -> None:
    """Log in as admin; the hub starts no workspace for that (the pages are the hub's)."""
    page.goto(hub.url + "hub/login?next=/hub/token")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", hub.admin_password)
    page.click("#login_submit")
    page.wait_for_url("**/hub/token")


@pytest.fixture(scope="module")
def registry(hub) -> Registry:
    return Registry(hub, hub.admin().new_token())


def test_upload_on_the_datasets_page_appears(hub, page, tmp_path, registry):
    data = os.urandom(3 * MiB)
    (tmp_path / "iris.csv").write_bytes(data)
    log_in(page, hub)
    page.get_by_role("link", name="Datasets").click()
    page.wait_for_url("**/services/registry/datasets/")

    page.get_by_label("Name", exact=True).fill("iris")
    page.get_by_label("Files").set_input_files(tmp_path / "iris.csv")
    page.get_by_role("button", name="Upload").click()

    page.get_by_role("status").filter(has_text="Uploaded users/admin/iris:1.").wait_for()
    progress = page.get_by_role("progressbar", name="Upload progress")
    assert progress.get_attribute("aria-valuenow") == "100"
    page.locator("tr[data-artifact='users/admin/iris']").get_by_text("v1").wait_for()
    screenshot(page, "datasets")
    version = registry.get("datasets/users/admin/iris/versions/1").json()
    assert [(f["path"], f["size"], f["sha256"]) for f in version["files"]] == [
        ("iris.csv", len(data), hashlib.sha256(data).hexdigest())
    ]


def test_dataset_page_sets_an_alias_and_downloads(hub, page, registry):
    registry.push("users/admin/wine", {"wine.csv": b"a,b\n1,2\n"})
    registry.push("users/admin/wine", {"wine.csv": b"a,b\n1,2\n3,4\n"})
    log_in(page, hub)
    page.goto(hub.url + "services/registry/datasets/")
    page.get_by_role("link", name="wine").click()
    page.wait_for_url("**/datasets/users/admin/wine")
    page.locator("#file-rows tr").wait_for()

    # With the keyboard only: type the alias, Tab to the version, pick v1, Tab to Set, Enter.
    page.get_by_label("Alias", exact=True).focus()
    page.keyboard.type("production")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "alias-version"
    page.keyboard.press("ArrowDown")  # v2 -> v1 (newest first)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("#alias-list [data-alias='production']").wait_for()
    assert registry.get("datasets/users/admin/wine").json()["aliases"] == {"latest": 2, "production": 1}

    page.get_by_role("button", name="Show version 1").click()
    page.get_by_role("heading", name="Version 1").wait_for()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download wine.csv").click()
    assert download.value.path().read_bytes() == b"a,b\n1,2\n"
    screenshot(page, "dataset")

    page.get_by_role("button", name="Remove alias production").click()
    page.locator("#alias-list [data-alias='production']").wait_for(state="detached")
    assert registry.get("datasets/users/admin/wine").json()["aliases"] == {"latest": 2}


def test_model_page_shows_lineage_and_metrics(hub, page, registry):
    registry.push("users/admin/train", {"train.csv": b"x,y\n1,0\n"})
    registry.push("users/admin/clf", {"model.pkl": b"weights"}, kind="models",
                  lineage={"datasets": ["users/admin/train:1"], "metrics": {"accuracy": 0.93}, "params": {"C": 1.0}})
    log_in(page, hub)
    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="clf").click()
    lineage = page.locator("#lineage")
    lineage.get_by_role("link", name="users/admin/train:1").wait_for()
    assert lineage.get_by_role("table", name="Metrics").inner_text().split() == ["Metrics", "accuracy", "0.93"]
    screenshot(page, "model")

    # Deploy: the Deployments page opens with the version filled in.
    lineage.get_by_role("link", name="Deploy v1").click()
    page.wait_for_url("**/services/deployments/?model=*")
    assert page.get_by_label("Model version").input_value() == "users/admin/clf:1"


@pytest.fixture(params=["local", "s3"])
def storage_hub(request, tmp_path):
    """The module's hub (local artifact store), or a hub of the test's own whose registry uses S3.

    S3 is moto's server, which answers browsers' cross-origin requests (as a bucket with a CORS
    rule allowing the hub's origin would).
    """
    if request.param == "local":
        return request.getfixturevalue("hub")
    config = write_config(tmp_path / "s3_config.py", "s3", request.getfixturevalue("s3_endpoint"), None)
    return request.getfixturevalue("make_hub")(args=["--config", str(config)])


def part_number(request) -> int | None:
    """Which part of the file a PUT sends (from 1): a streamed range's offset, or S3's partNumber."""
    query = parse_qs(urlparse(request.url).query)
    if "offset" in query:
        return int(query["offset"][0]) // (8 * MiB) + 1
    return int(query["partNumber"][0]) if "partNumber" in query else None


def test_interrupted_upload_resumes_without_resending(storage_hub, page, tmp_path):
    """The second part's PUT is cut; after a reload, picking the same file sends only what is missing."""
    hub = storage_hub
    registry = Registry(hub, hub.admin().new_token())
    data = os.urandom(20 * MiB)  # three parts of 8 MiB
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    log_in(page, hub)
    page.goto(hub.url + "services/registry/datasets/")
    sent: list[int] = []
    cut: list[int] = []

    def cut_second_part(route):
        if route.request.method != "PUT":
            route.continue_()
            return
        sent.append(part_number(route.request))
        if sent == [1, 2] and not cut:
            cut.append(2)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", cut_second_part)
    page.get_by_label("Name", exact=True).fill("big")
    page.get_by_label("Files").set_input_files(path)
    page.get_by_role("button", name="Upload").click()
    status = page.get_by_role("status")
    wait_for(lambda: "Pick the same files again to resume" in status.inner_text(), what="the upload to fail")
    assert sent == [1, 2]
    [record] = page.evaluate(
        "Object.entries(localStorage).filter(([k]) => k.startsWith('mllab-upload:')).map(([, v]) => v)")
    upload_id = json.loads(record)["id"]
    session = registry.get(f"uploads/{upload_id}").json()
    assert session["status"] == "open"
    transfer = session["files"][0]["transfer"]
    received = transfer["offset"] if transfer["method"] == "stream" else transfer["received"]
    assert received == 8 * MiB, "the first part was received"

    page.reload()
    sent.clear()
    page.get_by_label("Files").set_input_files(path)
    page.get_by_role("status").filter(has_text="Uploaded users/admin/big:1.").wait_for()

    assert sent == [2, 3], "only the parts not received before are sent"
    assert registry.get(f"uploads/{upload_id}").json()["status"] == "completed"
    version = registry.get("datasets/users/admin/big/versions/1").json()
    assert version["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('mllab-upload:'))") == []
    screenshot(page, f"datasets-resumed-{transfer['method']}")


def test_deployments_page_lists_and_operates(hub, page, registry):
    deployments = "services/deployments/api/v1/deployments"
    created = api(hub, registry.token, "POST", deployments,
                  json={"namespace": "users/admin", "name": "web", "command": HTTP_SERVICE, "port": 8000})
    assert created.status_code == 201, created.text
    log_in(page, hub)
    page.get_by_role("link", name="Deployments").click()
    page.wait_for_url("**/services/deployments/")
    row = page.locator("tr[data-deployment='users/admin/web']")
    row.locator("[data-status='ready']").wait_for()
    screenshot(page, "deployments")

    # Deploying a model that does not exist says so, and starts nothing.
    page.get_by_label("Model version").fill("users/admin/nothing@latest")
    page.get_by_role("button", name="Deploy").click()
    wait_for(lambda: "nothing" in page.locator("#create-status").inner_text(), what="the refusal")
    assert api(hub, registry.token, "GET", deployments).json()["items"][0]["name"] == "web"

    row.get_by_role("link", name="web").click()
    page.wait_for_url("**/services/deployments/users/admin/web")
    page.locator("#status-badge[data-status='ready']").wait_for()
    # Try it: the page calls the endpoint with the login cookie (a service: GET of its root).
    assert page.get_by_label("Method").input_value() == "GET"
    page.get_by_role("button", name="Send").click()
    page.locator("#try-answer").filter(has_text="Directory listing").wait_for()
    screenshot(page, "deployment")

    page.get_by_role("button", name="Stop").click()
    page.locator("#status-badge[data-status='stopped']").wait_for()
    assert api(hub, registry.token, "GET", deployments + "/users/admin/web").json()["desired"] == "stopped"


def test_teams_page_creates_a_team_and_manages_members(hub, page, registry):
    assert api(hub, registry.token, "POST", "hub/api/users/carol").status_code == 201
    log_in(page, hub)
    page.get_by_role("link", name="Teams").click()
    page.wait_for_url("**/hub/teams")

    page.get_by_label("Team name").fill("vision")
    page.get_by_role("button", name="Create team").click()
    team = page.locator("[data-team='vision']")
    team.wait_for()
    assert api(hub, registry.token, "GET", "hub/api/groups/vision").json()["users"] == []

    team.get_by_label("User to add to vision").fill("carol")
    team.get_by_role("button", name="Add").click()
    team.locator("[data-member='carol']").wait_for()
    assert api(hub, registry.token, "GET", "hub/api/groups/vision").json()["users"] == ["carol"]
    screenshot(page, "teams")

    team.get_by_role("button", name="Remove carol from vision").click()
    team.locator("[data-member='carol']").wait_for(state="detached")
    assert api(hub, registry.token, "GET", "hub/api/groups/vision").json()["users"] == []
