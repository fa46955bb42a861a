"""The main registry flow, on each storage backend: push, dedup, versions, aliases, pull, lineage."""

from __future__ import annotations

import json

from .helpers import sha256


def test_push_pull_and_versions(team, unique):
    alice = team.registry("alice")
    name = unique("iris")
    ref = f"users/alice/{name}"
    files = {"data/train.csv": b"a,b\n1,2\n" * 1000, "README.md": b"# iris\n", "empty.txt": b""}
    version, sent = alice.push(ref, files, metadata={"rows": 1000})
    assert version["number"] == 1
    assert version["aliases"] == ["latest"]
    assert version["metadata"] == {"rows": 1000}
    assert sent == sum(len(d) for d in files.values())
    assert {f["path"]: f["sha256"] for f in version["files"]} == {p: sha256(d) for p, d in files.items()}

    # Each file comes back byte for byte.
    for path, data in files.items():
        answer = alice.download("datasets", ref, "latest", path)
        assert answer.status_code == 200, answer.text
        assert answer.content == data

    # The same content again: no new version, nothing sent.
    again, sent = alice.push(ref, files)
    assert (again["number"], sent) == (1, 0)

    # One changed file: only it travels.
    files["README.md"] = b"# iris, v2\n"
    v2, sent = alice.push(ref, files)
    assert v2["number"] == 2
    assert sent == len(files["README.md"])

    artifact = alice.get(f"datasets/{ref}").json()
    assert artifact["latest"] == 2
    assert artifact["full_name"] == ref
    listing = alice.get(f"datasets/{ref}/versions").json()
    assert [v["number"] for v in listing["items"]] == [2, 1]
    assert "files" not in listing["items"][0]

    assert alice.get(f"datasets/{ref}/versions/1").json()["files"][0]["path"] == "README.md"
    old = alice.download("datasets", ref, "1", "README.md")
    assert old.content == b"# iris\n"


def test_aliases(team, unique):
    alice = team.registry("alice")
    ref = f"users/alice/{unique('clf')}"
    alice.push(ref, {"w.bin": b"1"}, kind="models")
    alice.push(ref, {"w.bin": b"2"}, kind="models")
    answer = alice.call("PUT", f"models/{ref}/aliases/production", json={"version": 1})
    assert answer.json() == {"alias": "production", "version": 1}
    assert alice.get(f"models/{ref}/versions/production").json()["number"] == 1
    assert alice.get(f"models/{ref}").json()["aliases"] == {"latest": 2, "production": 1}
    alice.call("PUT", f"models/{ref}/aliases/production", json={"version": 2})
    assert alice.get(f"models/{ref}/versions/2").json()["aliases"] == ["latest", "production"]
    assert alice.call("PUT", f"models/{ref}/aliases/latest", json={"version": 1}).status_code == 400
    assert alice.call("DELETE", f"models/{ref}/aliases/production").status_code == 204
    assert alice.get(f"models/{ref}/versions/production").status_code == 404


def test_lineage_and_used_by(team, unique):
    alice = team.registry("alice")
    data = f"users/alice/{unique('data')}"
    model = f"users/alice/{unique('model')}"
    alice.push(data, {"x.csv": b"1,2"})
    mlmodel = {"MLmodel": b"flavors:\n  python_function: {}\n", "model.pkl": b"\x80\x04"}
    version, _ = alice.push(model, mlmodel, kind="models", lineage={
        "datasets": [data], "workspace": "gpu", "params": {"C": 1.0}, "metrics": {"acc": 0.93},
    })
    assert version["lineage"] == {
        "datasets": [f"{data}:1"], "workspace": "gpu", "user": "alice", "params": {"C": 1.0},
        "metrics": {"acc": 0.93}, "flavor": "mlflow",
    }
    assert alice.get(f"datasets/{data}/versions/1").json()["used_by"] == [f"{model}:1"]


def test_list_filter_and_paginate(team, unique):
    alice = team.registry("alice")
    prefix = unique("lst")
    for i in range(3):
        answer = alice.post("datasets", json={"namespace": "users/alice", "name": f"{prefix}-{i}",
                                              "description": f"set {i}", "tags": ["tabular", f"n{i}"]})
        assert answer.status_code == 201, answer.text
    assert alice.post("datasets", json={"namespace": "users/alice", "name": f"{prefix}-0"}).status_code == 409
    page = alice.get("datasets", params={"q": prefix, "limit": 2}).json()
    assert ([a["name"] for a in page["items"]], page["limit"]) == ([f"{prefix}-0", f"{prefix}-1"], 2)
    rest = alice.get("datasets", params={"q": prefix, "limit": 2, "after": page["next"]}).json()
    assert ([a["name"] for a in rest["items"]], rest["next"]) == ([f"{prefix}-2"], None)
    tagged = alice.get("datasets", params=[("q", prefix), ("tag", "tabular"), ("tag", "n1")]).json()
    assert [a["name"] for a in tagged["items"]] == [f"{prefix}-1"]
    patched = alice.call("PATCH", f"datasets/users/alice/{prefix}-2", json={"description": "new", "tags": []})
    assert (patched.json()["description"], patched.json()["tags"]) == ("new", [])
    assert alice.call("DELETE", f"datasets/users/alice/{prefix}-2").status_code == 204
    assert alice.get(f"datasets/users/alice/{prefix}-2").status_code == 404


def test_range_download(team, unique):
    alice = team.registry("alice")
    ref = f"users/alice/{unique('rng')}"
    data = bytes(range(256)) * 64
    alice.push(ref, {"blob.bin": data})
    answer = alice.download("datasets", ref, "1", "blob.bin", headers={"Range": "bytes=100-199"})
    assert answer.status_code == 206
    assert answer.content == data[100:200]


def test_delete_version_moves_latest(team, unique):
    alice = team.registry("alice")
    ref = f"users/alice/{unique('del')}"
    alice.push(ref, {"a": b"1"})
    alice.push(ref, {"a": b"2"})
    assert alice.call("DELETE", f"datasets/{ref}/versions/2").status_code == 204
    assert alice.get(f"datasets/{ref}").json()["latest"] == 1
    # Numbers are not reused: the next push is 3.
    version, _ = alice.push(ref, {"a": b"3"})
    assert version["number"] == 3
    assert json.loads(alice.download("datasets", ref, "latest", "a").content) == 3
