"""The workspace's server extension for JupyterLab (``mllab.extensions.lab``), through a real hub.

A ``mllab up`` hub with local workspaces: alice's server is started once, and every call goes
through the hub's proxy to ``/user/alice/mllab/api/...`` with a token of alice's, as the front end's
calls do (with her login cookie and XSRF header instead). What the extension did is then checked
in the registry itself, with alice's token on the registry's own API.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from ..harness import REPO, api, spawn, stop_server, wait_for

MiB = 2**20


@pytest.fixture(scope="module")
def alice(hub):
    """alice, her token and her running workspace; the workspace's root dir is her home."""
    session, _ = hub.add_user("alice")
    token = session.new_token()
    spawn(hub, token, "alice")
    yield session, token
    stop_server(hub, token, "alice")


@pytest.fixture
def home(hub, alice) -> Path:
    return hub.data_dir / "users" / "alice"


def lab(hub, token: str, method: str, path: str, user: str = "alice", **kwargs) -> requests.Response:
    return api(hub, token, method, f"user/{user}/mllab/api/{path}", **kwargs)


def registry(hub, token: str, path: str) -> requests.Response:
    return api(hub, token, "GET", f"services/registry/api/v1/{path}")


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)


def transfer(hub, token: str, body: dict, user: str = "alice") -> dict:
    """Start a transfer and wait for its end; the last transfer object, which must say done."""
    started = lab(hub, token, "POST", "transfers", user=user, json=body)
    assert started.status_code == 202, started.text
    view = started.json()
    assert view["state"] in ("running", "done") and view["direction"] == body["direction"]

    def finished():
        answer = lab(hub, token, "GET", f"transfers/{view['id']}", user=user)
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.json()["state"] != "running" else None

    final = wait_for(finished, timeout=120, what=f"transfer {view['id']}")
    assert final["state"] == "done", final
    return final


IRIS = {
    "train.csv": b"sepal_length,sepal_width,species\n" + b"5.1,3.5,setosa\n" * 4000,
    "images/big.bin": os.urandom(3 * MiB + 17),
    "README.md": b"# iris\n",
}


def test_context_names_the_user_and_their_teams(hub, alice):
    _, token = alice
    context = lab(hub, token, "GET", "context")
    assert context.status_code == 200, context.text
    assert context.json() == {
        "user": "alice", "namespace": "users/alice", "namespaces": ["users/alice"], "hub_url": "/hub/",
        "services": {"registry": "/services/registry/", "deployments": "/services/deployments/"},
    }
    # A team joined while the workspace runs shows at once.
    admin = hub.admin()
    assert admin.api("POST", "groups/vision", json={}).status_code == 201
    assert admin.api("POST", "groups/vision/users", json={"users": ["alice"]}).status_code == 200
    assert lab(hub, token, "GET", "context").json()["namespaces"] == ["users/alice", "groups/vision"]


def test_pass_through_answers_as_the_service_does(hub, alice):
    _, token = alice
    created = lab(hub, token, "POST", "services/registry/datasets",
                  json={"namespace": "users/alice", "name": "notes", "description": "made through the lab"})
    assert created.status_code == 201, created.text
    assert created.json()["full_name"] == "users/alice/notes"

    listed = lab(hub, token, "GET", "services/registry/datasets?namespace=users/alice")
    assert listed.status_code == 200, listed.text
    assert [a["full_name"] for a in listed.json()["items"]] == ["users/alice/notes"]
    assert listed.json() == registry(hub, token, "datasets?namespace=users/alice").json()

    # The service's own error, status and body, readable by the front end.
    missing = lab(hub, token, "GET", "services/registry/datasets/users/alice/nope")
    direct = registry(hub, token, "datasets/users/alice/nope")
    assert (missing.status_code, direct.status_code) == (404, 404)
    assert missing.json() == direct.json()
    assert set(missing.json()) >= {"error", "message"} and "nope" in missing.json()["message"]
    assert lab(hub, token, "GET", "services/deployments/deployments").status_code == 200

    unknown = lab(hub, token, "GET", "services/mlflow/experiments")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found" and "registry" in unknown.json()["message"]
    # Dot segments cannot lead the workspace's token out of the service's API (the proxy resolves them
    # before the server sees them; the server refuses any left, see test_lab_passthrough.py).
    escaping = lab(hub, token, "GET", "services/registry/%2e%2e/%2e%2e/hub/api/users")
    assert escaping.status_code == 404
    assert '"admin"' not in escaping.text


def test_push_a_folder_as_a_dataset_version_with_progress(hub, alice, home):
    _, token = alice
    write_files(home / "data" / "iris", IRIS)
    done = transfer(hub, token, {"direction": "push", "kind": "datasets", "path": "data/iris", "name": "iris",
                                 "description": "Fisher's iris"})
    total = sum(len(d) for d in IRIS.values())
    assert (done["bytes_done"], done["bytes_total"]) == (total, total)
    assert (done["files_done"], done["files_total"]) == (3, 3)
    assert done["ref"] == "users/alice/iris:1" and done["error"] is None
    assert done["version"]["number"] == 1

    version = registry(hub, token, "datasets/users/alice/iris/versions/1").json()
    assert {f["path"]: (f["size"], f["sha256"]) for f in version["files"]} == {
        path: (len(data), hashlib.sha256(data).hexdigest()) for path, data in IRIS.items()}
    assert registry(hub, token, "datasets/users/alice/iris").json()["description"] == "Fisher's iris"
    listed = lab(hub, token, "GET", "transfers").json()["transfers"]
    assert listed[0]["id"] == done["id"]


def test_register_a_model_with_its_lineage(hub, alice, home):
    _, token = alice
    if registry(hub, token, "datasets/users/alice/iris").status_code == 404:
        test_push_a_folder_as_a_dataset_version_with_progress(hub, alice, home)
    write_files(home / "models" / "clf", {"model.pkl": b"\x80\x04fake model", "MLmodel": b"flavors: {}\n"})
    done = transfer(hub, token, {
        "direction": "push", "kind": "models", "path": "models/clf", "name": "clf",
        "datasets": ["users/alice/iris:1"], "metrics": {"accuracy": 0.93}, "params": {"C": 1.0},
    })
    assert done["ref"] == "users/alice/clf:1"
    lineage = registry(hub, token, "models/users/alice/clf/versions/1").json()["lineage"]
    assert lineage["datasets"] == ["users/alice/iris:1"]
    assert (lineage["metrics"], lineage["params"], lineage["user"]) == ({"accuracy": 0.93}, {"C": 1.0}, "alice")
    assert lineage["flavor"] == "mlflow"
    assert "users/alice/clf:1" in registry(hub, token, "datasets/users/alice/iris/versions/1").json()["used_by"]


def test_pull_a_version_byte_for_byte(hub, alice, home):
    _, token = alice
    if registry(hub, token, "datasets/users/alice/iris").status_code == 404:
        test_push_a_folder_as_a_dataset_version_with_progress(hub, alice, home)
    done = transfer(hub, token, {"direction": "pull", "kind": "datasets", "ref": "users/alice/iris:1",
                                 "path": "pulled/iris"})
    assert done["ref"] == "users/alice/iris:1"
    assert (done["files_done"], done["files_total"]) == (3, 3)
    assert done["bytes_done"] == done["bytes_total"] == sum(len(d) for d in IRIS.values())
    for path, data in IRIS.items():
        assert (home / "pulled" / "iris" / path).read_bytes() == data
    # Pulled again: every file is already there, nothing moves.
    again = transfer(hub, token, {"direction": "pull", "kind": "datasets", "ref": "iris@latest",
                                  "path": "pulled/iris"})
    assert (again["bytes_total"], again["files_done"]) == (0, 3)


def test_a_failed_transfer_says_why(hub, alice):
    _, token = alice
    started = lab(hub, token, "POST", "transfers", json={"direction": "pull", "kind": "datasets",
                                                          "ref": "users/alice/absent:1", "path": "absent"})
    assert started.status_code == 202, started.text

    def failed():
        view = lab(hub, token, "GET", f"transfers/{started.json()['id']}").json()
        return view if view["state"] == "failed" else None

    view = wait_for(failed, timeout=60, what="the transfer to fail")
    assert "absent" in view["error"] and "404" not in view["error"]


@pytest.mark.parametrize("body", [
    {"direction": "push", "kind": "datasets", "path": "../bob", "name": "escaped"},
    {"direction": "push", "kind": "datasets", "path": "/etc", "name": "escaped"},
    {"direction": "push", "kind": "datasets", "path": "outside", "name": "escaped"},
    {"direction": "push", "kind": "datasets", "path": "leaky", "name": "escaped"},
    {"direction": "pull", "kind": "datasets", "path": "../../escaped", "ref": "users/alice/iris:1"},
], ids=["dot-dot", "absolute", "link-to-a-folder-outside", "link-to-a-file-outside", "pull-up"])
def test_paths_outside_the_root_dir_are_refused(hub, alice, home, tmp_path, body):
    _, token = alice
    outside = tmp_path / "secret"
    write_files(outside, {"key.txt": b"secret"})
    if not (home / "outside").is_symlink():
        (home / "outside").symlink_to(outside)
    write_files(home / "leaky", {"fine.txt": b"fine"})
    if not (home / "leaky" / "key.txt").is_symlink():
        (home / "leaky" / "key.txt").symlink_to(outside / "key.txt")
    before = set(home.parent.iterdir())

    refused = lab(hub, token, "POST", "transfers", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "bad_request"
    assert "root folder" in refused.json()["message"]
    assert registry(hub, token, "datasets/users/alice/escaped").status_code == 404
    assert set(home.parent.iterdir()) == before
    assert not (home.parent.parent / "escaped").exists()


def test_requests_that_are_not_a_transfer_are_refused(hub, alice, home):
    _, token = alice
    (home / "data").mkdir(exist_ok=True)
    for body, words in [
        ({"direction": "sideways", "kind": "datasets", "path": "data", "name": "x"}, "direction"),
        ({"direction": "push", "kind": "notebooks", "path": "data", "name": "x"}, "kind"),
        ({"direction": "push", "kind": "datasets", "path": "data"}, "Name is missing"),
        ({"direction": "push", "kind": "datasets", "path": "nowhere", "name": "x"}, "no such file"),
        ({"direction": "push", "kind": "datasets", "path": "data", "name": "bad name"}, "not valid"),
        ({"direction": "push", "kind": "datasets", "path": "data", "name": "x", "metrics": {"a": 1}}, "models"),
        ({"direction": "pull", "kind": "datasets", "path": "data", "ref": "iris:three"}, "not valid"),
    ]:
        refused = lab(hub, token, "POST", "transfers", json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert words.lower() in refused.json()["message"].lower(), (body, refused.json())
    assert lab(hub, token, "GET", "transfers/0123").status_code == 404
    assert lab(hub, token, "GET", "transfers/0123").json()["error"] == "not_found"


def test_others_are_refused(hub, alice):
    session, _ = alice
    anonymous = requests.get(hub.url + "user/alice/mllab/api/context", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 403, anonymous.status_code
    assert "users/alice" not in anonymous.text
    bob, _ = hub.add_user("bob")
    assert lab(hub, bob.new_token(), "GET", "context").status_code == 403
    # alice's browser, logged in to her server as JupyterLab is: reads work; a change needs the XSRF header.
    assert session.get(hub.url + "user/alice/lab").status_code == 200
    assert session.get(hub.url + "user/alice/mllab/api/context").json()["user"] == "alice"
    not_a_transfer = {"direction": "pull", "kind": "datasets", "path": "x", "ref": "iris:three"}
    forged = session.post(hub.url + "user/alice/mllab/api/transfers", json=not_a_transfer)
    assert forged.status_code == 403, forged.text
    xsrf = session.cookies.get("_xsrf", path="/user/alice/")
    checked = session.post(hub.url + "user/alice/mllab/api/transfers", json=not_a_transfer,
                           headers={"X-XSRFToken": xsrf})
    assert checked.status_code == 400, checked.text  # past the XSRF check, refused by the handler


def check_no_news(hub, token: str, user: str) -> None:
    answer = api(hub, token, "GET", f"user/{user}/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert answer.status_code == 200, answer.text
    # What JupyterLab uses: the user's own settings (none yet) over the schema's defaults, which the
    # platform's overrides set.
    plugin = answer.json()
    defaults = {key: spec["default"] for key, spec in plugin["schema"]["properties"].items()}
    effective = {**defaults, **plugin["settings"]}
    assert effective["fetchNews"] == "false"
    assert effective["checkForUpdates"] is False


def test_jupyterlab_fetches_no_news_and_no_updates(hub, alice):
    check_no_news(hub, alice[1], "alice")


@pytest.mark.slow
def test_in_a_workspace_container(make_docker_hub, docker_client):
    """The workspace image (``pip install`` of the wheel): the routes, JupyterLab's defaults, a push from its home."""
    hub = make_docker_hub()
    carol, _ = hub.add_user("carol")
    token = carol.new_token()
    spawn(hub, token, "carol", timeout=180)
    try:
        assert lab(hub, token, "GET", "context", user="carol").json()["namespace"] == "users/carol"
        check_no_news(hub, token, "carol")
        container = docker_client.containers.get(f"{hub.env['MLLAB_TEST_PREFIX']}-carol")
        written = container.exec_run(["sh", "-c", "mkdir -p data && printf 'a,b\\n1,2\\n' > data/t.csv"],
                                     user="1000", workdir="/home/jovyan")
        assert written.exit_code == 0, written.output.decode()
        done = transfer(hub, token, {"direction": "push", "kind": "datasets", "path": "data", "name": "t"},
                        user="carol")
        assert done["ref"] == "users/carol/t:1"
        [file] = registry(hub, token, "datasets/users/carol/t/versions/1").json()["files"]
        assert (file["path"], file["size"]) == ("t.csv", 8)
    finally:
        stop_server(hub, token, "carol")


@pytest.mark.slow
def test_the_wheel_enables_the_extension_and_sets_jupyterlab_defaults(tmp_path):
    """What a workspace image gets from ``pip install mllab-*.whl``: the server config and JupyterLab's defaults."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(REPO)], check=True)
    [wheel] = tmp_path.glob("mllab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        data = next(n.split("/data/")[0] for n in names if ".data/data/" in n) + "/data/"
        config = json.loads(archive.read(data + "etc/jupyter/jupyter_server_config.d/mllab-lab.json"))
        overrides = json.loads(archive.read(data + "share/jupyter/lab/settings/overrides.d/mllab.json"))
    assert config["ServerApp"]["jpserver_extensions"] == {"mllab.extensions.lab": True}
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false",
                                                                       "checkForUpdates": False}
    assert {"mllab/extensions/lab/__init__.py", "mllab/extensions/lab/transfers.py"} <= names
