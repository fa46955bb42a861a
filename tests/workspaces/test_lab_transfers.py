"""What a transfer request must be before anything is sent (``mllab.extensions.lab.transfers``), without a hub."""

from __future__ import annotations

import pytest
from mllab.extensions.lab.errors import LabError
from mllab.extensions.lab.transfers import Transfer, parse_request


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "home"
    (root / "data" / "iris" / "images").mkdir(parents=True)
    (root / "data" / "iris" / "train.csv").write_text("a,b\n1,2\n")
    (root / "data" / "iris" / "images" / "1.png").write_bytes(b"\x89PNG")
    (root / "data" / "empty").mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (root / "data" / "leaky").mkdir()
    (root / "data" / "leaky" / "key.txt").symlink_to(tmp_path / "secret.txt")
    (root / "notes.txt").write_text("a file")
    return root


def push(**fields) -> dict:
    return {"direction": "push", "kind": "datasets", "path": "data/iris", "name": "iris", **fields}


def test_a_push(root):
    request = parse_request(push(namespace="groups/vision/", description=" Fisher's "), root)
    assert (request.local, request.files) == (root / "data" / "iris", 2)
    assert (request.name, request.namespace, request.description) == ("iris", "groups/vision", "Fisher's")


def test_a_model_push_with_its_lineage(root):
    request = parse_request(push(kind="models", datasets=["users/alice/iris:3"], metrics={"acc": 0.9},
                                 params={"C": 1}), root)
    assert (request.datasets, request.metrics, request.params) == (["users/alice/iris:3"], {"acc": 0.9}, {"C": 1})


def test_a_pull_into_a_new_folder(root):
    request = parse_request({"direction": "pull", "kind": "models", "path": "models/clf", "ref": "clf@production",
                             "name": None}, root)
    assert (request.local, request.ref) == (root / "models" / "clf", "clf@production")
    assert not request.local.exists(), "nothing is made before the transfer runs"


@pytest.mark.parametrize("body, words", [
    ([], "JSON object"),
    (push(direction="both"), "Direction must be push or pull"),
    (push(kind="notebooks"), "Kind must be datasets or models"),
    (push(path=None), "Path is missing"),
    (push(path="   "), "Path must be a non-empty string"),
    (push(name=None), "Name is missing"),
    (push(name="my iris"), "Name 'my iris' is not valid"),
    (push(namespace="alice"), "Namespace 'alice' is not valid"),
    (push(path="missing"), "no such file or folder"),
    (push(path="data/empty"), "the folder has no files"),
    (push(path="data/leaky"), "outside the workspace's root folder"),
    (push(path="../secret.txt"), "'..'"),
    (push(ref="iris:1"), "Ref: not a field of a push"),
    (push(metrics={"acc": 1}), "only models record a lineage"),
    (push(kind="models", metrics={"acc": "high"}), "Metric 'acc' must be a number"),
    (push(kind="models", metrics={"ok": True}), "Metric 'ok' must be a number"),
    (push(kind="models", datasets="iris"), "Datasets must be a list"),
    (push(kind="models", datasets=["iris:x"]), "is not valid"),
    ({"direction": "pull", "kind": "datasets", "path": "x"}, "Ref is missing"),
    ({"direction": "pull", "kind": "datasets", "path": "notes.txt", "ref": "iris"}, "it is a file"),
    ({"direction": "pull", "kind": "datasets", "path": "x", "ref": "iris", "name": "y"}, "Name: not a field of a pull"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_refused_with_a_reason(root, body, words):
    with pytest.raises(LabError) as refused:
        parse_request(body, root)
    assert (refused.value.status_code, refused.value.error) == (400, "bad_request")
    assert words in refused.value.message


def test_progress_as_the_client_reports_it(root):
    transfer = Transfer(parse_request(push(), root))
    assert transfer.view()["files_total"] == 2 and transfer.view()["state"] == "running"
    transfer.planned(bytes_total=100, files_total=2, files_done=1)
    transfer.moved(60)
    transfer.moved(40)
    transfer.files_moved(1)
    view = transfer.view()
    assert (view["bytes_done"], view["bytes_total"], view["files_done"], view["files_total"]) == (100, 100, 2, 2)
    transfer.finish("users/alice/iris:1", {"number": 1, "files": [{}, {}]})
    assert (transfer.view()["state"], transfer.view()["ref"]) == ("done", "users/alice/iris:1")
