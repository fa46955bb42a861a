"""The newcomer's whole loop on the hub's pages, in a real browser, without a command.

Against a real ``mllab up`` (the local deployments runtime): a CSV uploaded on the Datasets page;
an MLflow model folder (saved beforehand with ``mlflow.sklearn``: the files on the user's disk)
uploaded on the Models page with the dataset version it was trained on and its metrics; "Deploy
v1" on the model's page; the deployment page turning ready; a prediction from its "Try it" form.
Screenshots go to test-artifacts/screenshots/hub-loop-*.png.
"""

from __future__ import annotations

import json

import pytest

from .deployments.conftest import mlflow_request, sklearn_model  # noqa: F401 (a fixture)
from .harness import wait_for
from .registry.helpers import Registry
from .test_browser_hub import log_in, screenshot

pytestmark = pytest.mark.slow

#: Loading the model server (MLflow, scikit-learn) on a busy machine takes a while.
READY_TIMEOUT_MS = 300_000


@pytest.fixture
def iris_csv(tmp_path):
    """The data the model was trained on, as a CSV on the user's disk."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def test_data_to_model_to_deployment_on_the_hub_pages(hub, page, iris_csv, sklearn_model):  # noqa: F811
    registry = Registry(hub, hub.admin().new_token())
    log_in(page, hub)

    # Data: the CSV, uploaded on the Datasets page.
    page.get_by_role("link", name="Datasets").click()
    page.wait_for_url("**/services/registry/datasets/")
    page.get_by_label("Name", exact=True).fill("iris")
    page.get_by_label("Files").set_input_files(iris_csv)
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("status").filter(has_text="Uploaded users/admin/iris:1.").wait_for()

    # Model: the MLflow folder, with what it was trained on and how well it does.
    page.get_by_role("link", name="Models").click()
    page.wait_for_url("**/services/registry/models/")
    page.get_by_label("Name", exact=True).fill("iris-clf")
    page.get_by_label("Or a folder").set_input_files(sklearn_model.path)
    page.get_by_label("Trained on").fill("users/admin/iris:1")
    page.get_by_label("Metrics").fill("accuracy=high")
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("status").filter(has_text="Metrics, line 1: write name=number.").wait_for()
    assert registry.get("models/users/admin/iris-clf").status_code == 404, "a refused form sends nothing"

    page.get_by_label("Metrics").fill("accuracy=0.97\nf1=0.96")
    page.get_by_label("Parameters").fill("max_iter=1000\nsolver=lbfgs")
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("status").filter(has_text="Uploaded users/admin/iris-clf:1.").wait_for()
    page.locator("tr[data-artifact='users/admin/iris-clf']").get_by_text("v1").wait_for()
    screenshot(page, "hub-loop-models")
    version = registry.get("models/users/admin/iris-clf/versions/1").json()
    on_disk = sorted(str(p.relative_to(sklearn_model.path)) for p in sklearn_model.path.rglob("*") if p.is_file())
    assert sorted(f["path"] for f in version["files"]) == on_disk
    assert "MLmodel" in on_disk, "the folder's files sit at the version's root, as the model server reads them"
    lineage = version["lineage"]
    assert lineage["datasets"] == ["users/admin/iris:1"]
    assert lineage["metrics"] == {"accuracy": 0.97, "f1": 0.96}
    assert lineage["params"] == {"max_iter": 1000, "solver": "lbfgs"}
    assert lineage["flavor"] == "mlflow"

    # The model's page shows its lineage; deploy it from there.
    page.get_by_role("link", name="iris-clf").click()
    page.wait_for_url("**/models/users/admin/iris-clf")
    section = page.locator("#lineage")
    section.get_by_role("link", name="users/admin/iris:1").wait_for()
    assert section.get_by_role("table", name="Metrics").inner_text().split() == [
        "Metrics", "accuracy", "0.97", "f1", "0.96"]
    screenshot(page, "hub-loop-model")
    section.get_by_role("link", name="Deploy v1").click()
    page.wait_for_url("**/services/deployments/?model=*")
    assert page.get_by_label("Model version").input_value() == "users/admin/iris-clf:1"
    page.get_by_role("button", name="Deploy").click()
    page.get_by_role("status").filter(has_text="Deploying users/admin/iris-clf").wait_for()

    row = page.locator("tr[data-deployment='users/admin/iris-clf']")
    row.get_by_role("link", name="iris-clf").click()
    page.wait_for_url("**/services/deployments/users/admin/iris-clf")
    page.locator("#status-badge[data-status='ready']").wait_for(timeout=READY_TIMEOUT_MS)
    assert page.locator("#about").get_by_role("link", name="users/admin/iris-clf:1 (v1)").is_visible()
    assert page.get_by_role("button", name="Start", exact=True).is_disabled(), "it runs already"
    assert page.get_by_role("button", name="Stop").is_enabled()
    # The logs follow the status: what the model server printed as it started.
    page.locator("#logs").filter(has_text="Serving model iris-clf").wait_for()

    # Try it: the suggested request has the model's columns (from its signature), so it is answered.
    assert page.get_by_label("Method").input_value() == "POST"
    assert page.get_by_label("Path").input_value() == "invocations"
    body = page.get_by_label("Body (JSON)")
    wait_for(lambda: "dataframe_split" in body.input_value(), what="a request with the model's columns")
    assert json.loads(body.input_value())["dataframe_split"]["columns"] == sklearn_model.columns
    answer = page.locator("#try-answer")
    page.get_by_role("button", name="Send").click()
    answer.filter(has_text="predictions").wait_for()
    first = answer.inner_text()
    [predicted] = json.loads(first)["predictions"]
    assert predicted in (0, 1, 2)

    # The user's own rows: the model's real predictions.
    body.fill(json.dumps(mlflow_request(sklearn_model)))
    page.get_by_role("button", name="Send").click()
    wait_for(lambda: answer.inner_text() != first, what="the answer to the user's rows")
    assert json.loads(answer.inner_text()) == {"predictions": sklearn_model.expected}
    screenshot(page, "hub-loop-deployment")
