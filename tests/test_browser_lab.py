"""ML Lab Hub's JupyterLab panels in a real browser (Debian's chromium driven by Playwright), on a
real ``mllab up`` with its registry and deployments services and a local workspace.

A folder pushed from the file browser's menu becomes a dataset version in the Datasets panel; a
model folder (a real scikit-learn model in MLflow's format) registered with a link to it shows
its lineage both ways; the Deployments panel deploys it on the local runtime, shows its logs,
and its "Try it" form shows the prediction; the Datasets panel also works from the keyboard alone. Each main
screen is saved in test-artifacts/screenshots/lab-*.png (ignored by git) for a person to look at.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .conftest import slow_fixture
from .deployments import conftest as deployments_fixtures
from .deployments.conftest import SavedModel, mlflow_request
from .harness import MLLAB, REPO, Hub, env_with_node, free_port

pytestmark = pytest.mark.slow

#: A scikit-learn model saved in MLflow's format (the deployments suite's fixture).
sklearn_model = deployments_fixtures.sklearn_model

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
#: A deployment answers once MLflow's scoring server has loaded the model (slow on a busy machine).
READY_TIMEOUT = 240_000
#: JupyterHub starts the workspace (a Jupyter server with its extensions) before JupyterLab opens.
SPAWN_TIMEOUT = 300_000


@pytest.fixture(scope="module")
@slow_fixture
def hub(tmp_path_factory) -> Iterator[Hub]:
    """``mllab up`` with its defaults, but patient with workspaces: on a busy test machine a Jupyter
    server with every extension may take more than JupyterHub's 30 s to answer."""
    root = tmp_path_factory.mktemp("hub")
    config = root / "jupyterhub_config.py"
    config.write_text("c.Spawner.http_timeout = 180\nc.Spawner.start_timeout = 300\n")
    hub = Hub(data_dir=root / "data", port=free_port(), admin_password=secrets.token_urlsafe(12),
              args=["--config", str(config)])
    hub.start()
    yield hub
    hub.stop()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"lab-{name}.png"))


def open_lab(page, hub, user: str, password: str) -> None:
    """Log in; JupyterHub starts the workspace and lands in JupyterLab."""
    page.goto(hub.url + "hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=SPAWN_TIMEOUT)
    page.locator(".jp-DirListing-content").wait_for()


def side_tab(page, panel_id: str):
    """The left sidebar's tab of a panel (Lumino names it by the panel's id)."""
    return page.locator(f".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='{panel_id}']")


def file_menu(page, name: str, item: str) -> None:
    """Right-click ``name`` in the file browser and choose ``item``."""
    side_tab(page, "filebrowser").click()
    entry = page.locator(".jp-DirListing-content").get_by_text(name, exact=True)
    entry.click()
    entry.click(button="right")
    page.locator(".lm-Menu-item", has_text=item).click()


def cli(hub, token: str, tmp_path):
    """``mllab(*argv)``: the command line as the owner of ``token``, from outside the workspace."""
    env = {k: v for k, v in env_with_node().items() if not k.startswith("JUPYTERHUB_")}
    env.update(MLLAB_URL=hub.url, MLLAB_TOKEN=token, MLLAB_CACHE_DIR=str(tmp_path / "cache"))

    def mllab(*argv: str) -> None:
        done = subprocess.run([MLLAB, *argv], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"mllab {' '.join(argv)}: {done.stderr}"

    return mllab


def dialog(page, focused: str = ".jp-Dialog-button.jp-mod-accept"):
    """The open dialog, once it has put the focus where it should (it does so after drawing its
    body: typing before that would land in the wrong field)."""
    box = page.locator(".jp-Dialog")
    expect(box.locator(focused)).to_be_focused(timeout=60_000)
    return box


def workspace_user(hub, name: str, model: SavedModel) -> str:
    """A user whose workspace holds a data folder and a model folder; answers their password."""
    _, password = hub.add_user(name)
    home = hub.data_dir / "users" / name
    (home / "iris-data").mkdir(parents=True)
    (home / "iris-data" / "iris.csv").write_text("sepal_length,sepal_width,petal_length,petal_width,species\n"
                                                 "5.1,3.5,1.4,0.2,0\n7.0,3.2,4.7,1.4,1\n6.3,3.3,6.0,2.5,2\n")
    (home / "iris-data" / "README.md").write_text("Three rows of Fisher's iris.\n")
    subprocess.run(["cp", "-R", str(model.path), str(home / "iris-model")], check=True)
    return password


def test_push_register_and_deploy_from_jupyterlab(hub, page, tmp_path, sklearn_model):
    user = "ann"
    password = workspace_user(hub, user, sklearn_model)

    # (1) JupyterLab, with the three panels in the left sidebar.
    open_lab(page, hub, user, password)
    for panel_id, label in (("mllab-datasets", "Datasets"), ("mllab-models", "Models"),
                            ("mllab-deployments", "Deployments")):
        tab = side_tab(page, panel_id)
        tab.wait_for()
        assert tab.get_attribute("title") == label
        tab.locator("svg").wait_for()  # its icon
    screenshot(page, "01-jupyterlab")

    # (2) The Datasets panel, empty; a folder pushed from the file browser appears in it.
    side_tab(page, "mllab-datasets").click()
    datasets = page.locator("#mllab-datasets")
    datasets.get_by_text("No datasets yet").wait_for()
    screenshot(page, "02-datasets-empty")

    file_menu(page, "iris-data", "Push as dataset version…")
    box = dialog(page, "input[name=name]")
    assert box.get_by_label("Name", exact=True).input_value() == "iris-data"
    assert box.locator("select[name=namespace]").input_value() == f"users/{user}"
    box.get_by_label("Description (optional)").fill("Three rows of iris")
    screenshot(page, "03-push-dialog")
    box.get_by_role("button", name="Push").click()

    # The panel opens on the new version once the transfer is done.
    version = datasets.locator(".mllab-Version[data-version='1']")
    version.wait_for()
    assert datasets.locator(".mllab-Transfer[data-state='done']").count() == 1
    files = datasets.get_by_role("region", name="Files")
    assert sorted(files.locator(".mllab-Path").all_inner_texts()) == ["README.md", "iris.csv"]
    assert f'client.datasets.pull("users/{user}/iris-data:1", "iris-data-v1")' in \
        datasets.locator(".mllab-Code").inner_text()
    screenshot(page, "04-dataset-version")

    # Downloaded into the file browser's folder, in a folder of the version's own.
    datasets.get_by_role("button", name="Download into current folder").click()
    datasets.locator(".mllab-Transfer[data-state='done']", has_text="iris-data-v1").wait_for()
    home = hub.data_dir / "users" / user
    assert (home / "iris-data-v1" / "iris.csv").read_text() == (home / "iris-data" / "iris.csv").read_text()
    side_tab(page, "filebrowser").click()
    page.locator(".jp-DirListing-content").get_by_text("iris-data-v1", exact=True).wait_for()
    side_tab(page, "mllab-datasets").click()

    # The list has it, and the search box finds it (and not for another word).
    datasets.get_by_role("button", name="← All datasets").click()
    search = datasets.get_by_label("Search datasets")
    search.fill("three rows")
    datasets.locator(f".mllab-Item[data-name='users/{user}/iris-data']").wait_for()
    search.fill("nothing like it")
    datasets.get_by_text("No datasets match.").wait_for()
    search.fill("")

    # (3) The model folder registered with a link to that dataset version and a metric.
    file_menu(page, "iris-model", "Register as model version…")
    box = dialog(page, "input[name=name]")
    box.get_by_label("Name", exact=True).fill("iris-clf")
    box.get_by_label(f"users/{user}/iris-data:1 (latest)").check()
    box.get_by_label("Metrics (key=value, comma separated)").fill("accuracy=0.97")
    screenshot(page, "05-register-dialog")
    box.get_by_role("button", name="Register").click()

    models = page.locator("#mllab-models")
    models.locator(".mllab-Version[data-version='1']").wait_for()
    trained_on = models.get_by_role("region", name="Trained on")
    assert trained_on.get_by_role("button").all_inner_texts() == [f"users/{user}/iris-data:1"]
    metrics = models.get_by_role("region", name="Metrics")
    assert metrics.locator("tr").all_inner_texts() == ["accuracy\t0.97"]
    assert "mlflow.pyfunc.load_model" in models.locator(".mllab-Code").inner_text()
    screenshot(page, "06-model-version")

    # Lineage the other way: the dataset version lists the model version that used it.
    trained_on.get_by_role("button", name=f"Open dataset version users/{user}/iris-data:1").click()
    used_by = datasets.get_by_role("region", name="Used by")
    used_by.get_by_role("button", name=f"Open model version users/{user}/iris-clf:1").wait_for()

    # The model deployed from the Deployments panel, on the local runtime.
    side_tab(page, "mllab-deployments").click()
    deployments = page.locator("#mllab-deployments")
    deployments.get_by_text("No deployments yet.").wait_for()
    deployments.get_by_role("button", name="Deploy a model version").click()
    box = dialog(page, "select[name=model]")
    assert box.locator("select[name=model]").input_value() == f"users/{user}/iris-clf"
    assert box.get_by_label("Deployment name", exact=True).input_value() == "iris-clf"
    box.locator("select[name=version]").select_option("latest")
    screenshot(page, "07-deploy-dialog")
    box.get_by_role("button", name="Deploy").click()

    deployments.locator(".mllab-Title", has_text=f"users/{user}/iris-clf").wait_for()
    deployments.locator(".mllab-Title .mllab-Status[data-status='ready']").wait_for(timeout=READY_TIMEOUT)
    assert "version 1" in deployments.get_by_role("row", name="Serves").inner_text()
    screenshot(page, "08-deployment-ready")

    # Stopped, it offers to start again.
    deployments.get_by_role("button", name="Stop").click()
    deployments.locator(".mllab-Title .mllab-Status[data-status='stopped']").wait_for()
    deployments.get_by_role("button", name="Start").wait_for()

    # Deleting asks first, then the deployment is gone.
    deployments.get_by_role("button", name="Delete").click()
    box = dialog(page)
    screenshot(page, "10-delete-confirm")
    box.get_by_role("button", name="Delete").click()
    deployments.get_by_text("No deployments yet.").wait_for()


def test_deployment_logs_and_try_it(hub, page, tmp_path, sklearn_model):
    """The Deployments panel shows a deployment's logs and its "Try it" form answers the prediction:
    through the server extension's pass-through of text answers and its route to the deployments'
    endpoints (lab contract, sections 4 and 5)."""
    user = "lee"
    session, password = hub.add_user(user)
    mllab = cli(hub, session.new_token(), tmp_path)
    mllab("models", "register", str(sklearn_model.path), "iris-clf")
    mllab("deploy", f"users/{user}/iris-clf@latest")  # waits until it is ready

    open_lab(page, hub, user, password)
    side_tab(page, "mllab-deployments").click()
    deployments = page.locator("#mllab-deployments")
    deployments.locator(f".mllab-Item[data-name='users/{user}/iris-clf']").click()
    deployments.locator(".mllab-Title .mllab-Status[data-status='ready']").wait_for()
    deployments.get_by_role("button", name="Show logs").click()
    logs = deployments.locator(".mllab-Logs")
    logs.wait_for()
    assert logs.inner_text().strip(), "the deployment's logs show its output"

    # "Try it": a payload the model cannot read answers the model server's message, not JSON...
    try_it = deployments.get_by_role("region", name="Try it")
    try_it.get_by_role("button", name="Send").click()
    refusal = try_it.get_by_role("alert")
    refusal.wait_for()
    assert refusal.inner_text().strip() and not refusal.inner_text().lstrip().startswith("{")

    # ... and the right one answers the prediction.
    try_it.get_by_label("JSON payload").fill(json.dumps(mlflow_request(sklearn_model)))
    try_it.get_by_role("button", name="Send").click()
    prediction = try_it.locator(".mllab-Prediction")
    prediction.wait_for()
    assert json.loads(prediction.inner_text()) == sklearn_model.expected
    screenshot(page, "09-prediction")


def test_datasets_panel_with_the_keyboard_alone(hub, page, tmp_path):
    user = "kim"
    session, password = hub.add_user(user)
    data = tmp_path / "measurements"
    data.mkdir()
    (data / "values.csv").write_text("x\n1\n")
    mllab = cli(hub, session.new_token(), tmp_path)
    for name in ("measurements", "other-data"):
        mllab("datasets", "push", str(data), name)

    open_lab(page, hub, user, password)
    # The command palette opens the panel, which takes the focus.
    page.locator("body").press("Control+Shift+C")
    page.keyboard.type("Show Datasets")
    page.keyboard.press("Enter")
    panel = page.locator("#mllab-datasets")
    panel.locator(".mllab-Item").first.wait_for()
    assert page.evaluate("document.activeElement.id") == "mllab-datasets"

    # Tab reaches the search box; typing filters; Enter opens the match.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Search datasets"
    page.keyboard.type("measure")
    page.keyboard.press("Enter")
    panel.locator(".mllab-Title", has_text=f"users/{user}/measurements").wait_for()
    panel.locator(".mllab-Version[data-version='1']").wait_for()

    # Escape goes back to the list; Tab walks to a list item and Space opens it.
    page.keyboard.press("Escape")
    search = panel.get_by_label("Search datasets")
    search.wait_for()
    search.focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    for _ in range(3):  # the namespace filter, the refresh button, then the first item
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.name") == f"users/{user}/measurements"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.name") == f"users/{user}/other-data"
    page.keyboard.press("Space")
    panel.locator(".mllab-Title", has_text=f"users/{user}/other-data").wait_for()
    panel.locator(".mllab-Version[data-version='1']").wait_for()
    screenshot(page, "11-keyboard")
