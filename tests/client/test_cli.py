"""``mllab datasets|models ...`` run as a subprocess against a real hub, the way scripts use it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from ..harness import MLLAB, env_with_node
from .conftest import User, make_user

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def carol(hub, tmp_path_factory) -> User:
    return make_user(hub, "carol", tmp_path_factory.mktemp("carol-cache"))


def mllab(user: User, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env_with_node().items() if not k.startswith("JUPYTERHUB_")}
    env.update(MLLAB_URL=user.hub.url, MLLAB_TOKEN=user.token, MLLAB_CACHE_DIR=str(user.cache_dir))
    return subprocess.run([MLLAB, *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def mllab_json(user: User, *argv: str, cwd: Path | None = None):
    result = mllab(user, *argv, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def data(tmp_path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "train.csv").write_bytes(b"x,y\n1,2\n")
    (root / "sub" / "blob.bin").write_bytes(os.urandom(300_000))
    return root


def test_push_show_pull_round_trip(carol, data, tmp_path):
    pushed = mllab_json(carol, "datasets", "push", str(data), "iris", "--tag", "tabular", "--description", "Iris",
                        "--metadata", "source=uci")
    assert (pushed["ref"], pushed["number"], pushed["unchanged"], pushed["files"]) == ("users/carol/iris:1", 1,
                                                                                       False, 2)
    again = mllab_json(carol, "datasets", "push", str(data), "iris")
    assert (again["unchanged"], again["bytes_sent"], again["number"]) == (True, 0, 1)

    artifact = mllab_json(carol, "datasets", "show", "iris")
    assert (artifact["full_name"], artifact["description"], artifact["tags"]) == ("users/carol/iris", "Iris",
                                                                                  ["tabular"])
    version = mllab_json(carol, "datasets", "show", "users/carol/iris:1")
    assert sorted(f["path"] for f in version["files"]) == ["sub/blob.bin", "train.csv"]
    assert version["metadata"] == {"source": "uci"}

    pulled = mllab_json(carol, "datasets", "pull", "users/carol/iris@latest", str(tmp_path / "out"))
    assert pulled["files_downloaded"] == 2
    for rel in ("train.csv", "sub/blob.bin"):
        assert (tmp_path / "out" / rel).read_bytes() == (data / rel).read_bytes()


def test_pull_defaults_to_a_folder_named_after_the_artifact(carol, data, tmp_path):
    mllab_json(carol, "datasets", "push", str(data), "default-dest")
    result = mllab(carol, "datasets", "pull", "default-dest", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Pulled users/carol/default-dest:1" in result.stdout
    assert (tmp_path / "default-dest" / "train.csv").read_bytes() == b"x,y\n1,2\n"


def test_text_output_is_for_people(carol, data):
    result = mllab(carol, "datasets", "push", str(data), "texty", "-q")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Pushed users/carol/texty:1: 2 files, [12] sent \(.+\)\.\n", result.stdout)
    assert result.stderr == ""  # no progress bars when not on a terminal
    listing = mllab(carol, "datasets", "list")
    assert listing.stdout.splitlines()[0].split() == ["NAME", "LATEST", "TAGS", "UPDATED", "DESCRIPTION"]
    assert "users/carol/texty" in listing.stdout
    shown = mllab(carol, "datasets", "show", "texty:1")
    assert "train.csv" in shown.stdout and "sub/blob.bin" in shown.stdout


def test_models_register_alias_and_lineage(carol, data, tmp_path):
    dataset = mllab_json(carol, "datasets", "push", str(data), "training-set")
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "model.pkl").write_bytes(b"\x80\x04weights")
    registered = mllab_json(carol, "models", "register", str(model), "clf", "--dataset", "training-set",
                            "--metric", "acc=0.93", "--param", "C=1", "--param", "solver=lbfgs")
    lineage = registered["version"]["lineage"]
    assert lineage["datasets"] == [dataset["ref"]]
    assert (lineage["metrics"], lineage["params"], lineage["flavor"]) == (
        {"acc": 0.93}, {"C": 1, "solver": "lbfgs"}, "mlflow")

    assert mllab_json(carol, "models", "alias", registered["ref"], "production") == {"alias": "production",
                                                                                     "version": 1}
    assert mllab_json(carol, "models", "show", "clf@production")["number"] == 1
    assert [v["number"] for v in mllab_json(carol, "models", "versions", "clf")] == [1]
    used_by = mllab_json(carol, "datasets", "show", dataset["ref"])["used_by"]
    assert used_by == [registered["ref"]]


def test_list_filters(carol, data):
    mllab_json(carol, "datasets", "push", str(data), "tagged", "--tag", "vision")
    listed = mllab_json(carol, "datasets", "list", "--tag", "vision")
    assert [a["full_name"] for a in listed] == ["users/carol/tagged"]
    assert mllab_json(carol, "datasets", "list", "--tag", "no-such-tag") == []
    refused = mllab(carol, "datasets", "list", "--namespace", "users/nobody")
    assert refused.returncode == 1
    assert "may not read" in refused.stderr


def test_delete_needs_yes_when_not_interactive(carol, data):
    mllab_json(carol, "datasets", "push", str(data), "doomed")
    refused = mllab(carol, "datasets", "delete", "doomed")
    assert refused.returncode == 1
    assert "without --yes" in refused.stderr
    assert mllab_json(carol, "datasets", "delete", "doomed", "--yes") == {"deleted": "users/carol/doomed"}
    gone = mllab(carol, "datasets", "show", "doomed")
    assert gone.returncode == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["datasets", "show", "users/carol/never-pushed"], "(404 not_found)", id="missing-artifact"),
        pytest.param(["datasets", "pull", "users/carol/never-pushed:7", "out"], "(404", id="missing-version"),
        pytest.param(["datasets", "show", "iris:zero"], "is not valid", id="bad-reference"),
        pytest.param(["datasets", "push", "/no/such/folder", "x"], "no such file or folder", id="missing-path"),
        pytest.param(["datasets", "push", ".", "users/someone-else/x"], "(403", id="foreign-namespace"),
    ],
)
def test_errors_are_one_line_and_exit_1(carol, argv, message, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    result = mllab(carol, *argv, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("mllab: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_token_is_a_clear_error(carol):
    bad = User(carol.hub, carol.name, "not-a-token", carol.cache_dir)
    result = mllab(bad, "datasets", "list")
    assert result.returncode == 1
    # The registry identifies nobody by it (401), and its message says what to send.
    assert "(401 unauthorized)" in result.stderr
    assert "send a JupyterHub token" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_team_namespace_push_and_shared_pull(carol, data, tmp_path, tmp_path_factory):
    """The admin publishes in groups/vision; carol (a member) pulls it; frank (not a member) is refused."""
    admin_session = carol.hub.admin()
    admin = User(carol.hub, "admin", admin_session.new_token("cli team test"), tmp_path_factory.mktemp("admin-cache"))
    frank = make_user(carol.hub, "frank", tmp_path_factory.mktemp("frank-cache"))
    assert admin_session.api("POST", "groups/vision", json={}).status_code == 201
    assert admin_session.api("POST", "groups/vision/users", json={"users": ["carol"]}).status_code == 200

    # A fresh token: the registry caches what it learns about a token (HubAuth) for a few minutes.
    member = carol.hub.session()
    member.login("carol", carol.password)
    carol = User(carol.hub, "carol", member.new_token("cli team test"), carol.cache_dir)

    pushed = mllab_json(admin, "datasets", "push", str(data), "cats", "--namespace", "groups/vision")
    assert pushed["ref"] == "groups/vision/cats:1"
    assert "groups/vision/cats" in [a["full_name"] for a in mllab_json(carol, "datasets", "list")]
    mllab_json(carol, "datasets", "pull", "groups/vision/cats", str(tmp_path / "cats"))
    assert (tmp_path / "cats" / "sub" / "blob.bin").read_bytes() == (data / "sub" / "blob.bin").read_bytes()

    refused = mllab(frank, "datasets", "pull", "groups/vision/cats", str(tmp_path / "nope"))
    assert refused.returncode == 1
    assert "(403 forbidden)" in refused.stderr
    assert not (tmp_path / "nope").exists()


def test_inside_a_workspace_the_client_needs_no_configuration(carol, data, tmp_path):
    """The environment a workspace gets (hub API URL, a token with the workspace token's scopes, the
    platform URLs) is enough: no MLLAB_TOKEN, and lineage names the workspace."""
    from mllab.hub.scopes import own_namespace_scopes

    session = carol.hub.session()
    session.login("carol", carol.password)
    # What a workspace token resolves to for a plain user (the hub keeps the requested scopes she holds).
    token = session.new_token("workspace-like", scopes=["read:users:name!user", *own_namespace_scopes()])
    env = {k: v for k, v in env_with_node().items() if not k.startswith(("JUPYTERHUB_", "MLLAB_"))}
    env.update(
        JUPYTERHUB_API_URL=carol.hub.url + "hub/api", JUPYTERHUB_API_TOKEN=token,
        JUPYTERHUB_CLIENT_ID="jupyterhub-user-carol", MLLAB_URL=carol.hub.url,
        MLLAB_REGISTRY_URL=carol.hub.url + "services/registry/", MLLAB_CACHE_DIR=str(carol.cache_dir),
    )
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.pkl").write_bytes(b"weights")
    result = subprocess.run([MLLAB, "models", "register", str(model), "in-workspace", "--json"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    registered = json.loads(result.stdout)
    assert registered["ref"] == "users/carol/in-workspace:1"
    assert registered["version"]["lineage"]["workspace"] == "jupyterhub-user-carol"
    assert registered["version"]["lineage"]["user"] == "carol"
