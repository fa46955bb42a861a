"""``client.datasets`` / ``client.models`` against the real registry, on local storage and on S3 (moto).

Every test runs once per storage backend (the ``storage_hub`` fixture).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import boto3
import pytest
import requests
from mllab.client import IntegrityError, RefError, RegistryError
from mllab.services.storage.base import blob_key

from ..harness import wait_for

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


class Stop(Exception):
    """Raised from a progress callback to interrupt a transfer, as Ctrl-C or a lost connection would."""


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stop_after(limit: int):
    sent = 0

    def hear(n: int) -> None:
        nonlocal sent
        sent += n
        if sent >= limit:
            raise Stop(f"stopped after {sent} bytes")

    return hear


@pytest.fixture
def dataset(tmp_path) -> Path:
    # Bigger than two S3 parts (8 MiB each), an empty file, a duplicate, nested and non-ASCII names.
    big = os.urandom(17 * MiB + 5)
    return make_folder(tmp_path / "iris", {
        "train.csv": b"sepal,petal\n5.1,1.4\n" * 100,
        "test.csv": b"sepal,petal\n4.9,1.3\n",
        "copy-of-test.csv": b"sepal,petal\n4.9,1.3\n",
        "empty.txt": b"",
        "images/big.bin": big,
        "notes/r\u00e9sum\u00e9 v2.md": "# caf\u00e9\n".encode(),
    })


def test_push_pull_round_trip_is_byte_for_byte(alice, dataset, tmp_path, request):
    client = alice.client()
    name = f"roundtrip-{request.node.callspec.id}"
    pushed = client.datasets.push(dataset, name, description="Iris measurements", tags=["tabular", "demo"])
    assert not pushed.unchanged
    assert pushed.ref == f"users/alice/{name}:1"
    assert pushed.files == 6
    assert pushed.bytes_sent == sum(len(b) for b in set(tree(dataset).values()))  # duplicates sent once

    pulled = client.datasets.pull(f"users/alice/{name}@latest", tmp_path / "out")
    assert tree(tmp_path / "out") == tree(dataset)
    assert pulled.ref == pushed.ref
    assert not list((tmp_path / "out").rglob("*.mllab-part"))

    version = client.datasets.get(name)
    assert version["number"] == 1
    assert {f["path"]: f["sha256"] for f in version["files"]} == {
        p: hashlib.sha256(b).hexdigest() for p, b in tree(dataset).items()}
    info = client.datasets.info(name)
    assert (info["description"], sorted(info["tags"]), info["latest"]) == ("Iris measurements", ["demo", "tabular"], 1)


def test_a_single_file_round_trips(alice, tmp_path):
    client = alice.client()
    source = make_folder(tmp_path / "src", {"model.pkl": os.urandom(1000)}) / "model.pkl"
    client.datasets.push(source, "one-file")
    client.datasets.pull("one-file", tmp_path / "out")
    assert (tmp_path / "out" / "model.pkl").read_bytes() == source.read_bytes()


def test_re_push_of_unchanged_content_sends_nothing(alice, dataset):
    client = alice.client()
    first = client.datasets.push(dataset, "unchanged")
    again = client.datasets.push(dataset, "unchanged")
    assert again.unchanged
    assert (again.bytes_sent, again.files_sent) == (0, 0)
    assert again.version["number"] == first.version["number"] == 1
    assert [v["number"] for v in client.datasets.versions("unchanged")] == [1]


def test_changing_one_file_sends_only_that_file(alice, dataset):
    client = alice.client()
    client.datasets.push(dataset, "one-change")
    (dataset / "test.csv").write_bytes(b"sepal,petal\n6.3,2.5\n")
    second = client.datasets.push(dataset, "one-change")
    assert second.version["number"] == 2
    assert (second.files_sent, second.bytes_sent) == (1, len(b"sepal,petal\n6.3,2.5\n"))
    assert [v["number"] for v in client.datasets.versions("one-change")] == [2, 1]
    assert client.datasets.get("one-change:1")["files"] != client.datasets.get("one-change:2")["files"]


def test_the_same_content_in_another_dataset_is_not_sent_again(alice, dataset):
    client = alice.client()
    client.datasets.push(dataset, "original")
    copy = client.datasets.push(dataset, "copy")
    assert copy.version["number"] == 1
    assert copy.bytes_sent == 0


def settled_bytes(user, upload_id: str) -> int | None:
    """The bytes of the session's one file the registry holds, once no interrupted request can add to them.

    S3 parts count when their PUT has completed. A streamed file is written while the service
    reads the request, which goes on after the client stops sending: the service refuses a
    second PUT of the file (409) while the first is being received, so an empty PUT at the
    offset it reports, accepted, says the offset is final. None until then.
    """
    http = user.client().http
    upload = http.json("GET", http.registry_url(f"uploads/{upload_id}"))
    transfer = upload["files"][0]["transfer"]
    if transfer["method"] == "s3-multipart":
        return transfer["received"]
    offset = transfer["offset"]
    if offset == 0:
        return None  # the interrupted request is not being received yet
    probe = requests.put(transfer["url"], params={"offset": offset}, data=b"", timeout=30,
                         headers={"Authorization": f"token {user.token}"})
    if probe.status_code == 409:
        return None  # still being received, or it moved past the offset read
    assert (probe.status_code, probe.json()["received"]) == (200, offset), probe.text
    return offset


def test_interrupted_push_resumes_and_sends_only_what_is_missing(alice, tmp_path):
    client = alice.client(workers=1)  # one part at a time: the first parts finish before the stop
    data = make_folder(tmp_path / "big", {"weights.bin": os.urandom(20 * MiB)})
    total = 20 * MiB
    with pytest.raises(Stop):
        client.datasets.push(data, "resumable", on_transfer=stop_after(10 * MiB))
    with pytest.raises(RegistryError) as missing:
        client.datasets.get("resumable")
    assert missing.value.status == 404, "no version may appear before the upload completes"

    [state] = list((alice.cache_dir / "uploads").glob("*.json"))
    upload_id = json.loads(state.read_text())["upload"]
    received = wait_for(lambda: settled_bytes(alice, upload_id), what="the interrupted upload to be handled")
    assert 0 < received < total

    resumed = alice.client().datasets.push(data, "resumable")
    assert resumed.resumed
    assert resumed.bytes_sent == total - received
    client.datasets.pull("resumable", tmp_path / "out")
    assert (tmp_path / "out" / "weights.bin").read_bytes() == (data / "weights.bin").read_bytes()
    assert not list((alice.cache_dir / "uploads").glob("*.json")), "a finished upload is forgotten"


def test_pull_keeps_identical_files_and_repairs_changed_ones(alice, dataset, tmp_path):
    client = alice.client()
    client.datasets.push(dataset, "repair")
    out = tmp_path / "out"
    client.datasets.pull("repair", out)
    again = client.datasets.pull("repair", out)
    assert (again.files_downloaded, again.bytes_received) == (0, 0)

    (out / "train.csv").write_bytes(b"tampered")
    (out / "images" / "big.bin").unlink()
    repaired = client.datasets.pull("repair", out)
    assert repaired.files_downloaded == 2
    assert tree(out) == tree(dataset)


def corrupt_blob(hub, sha256: str, s3_endpoint: str) -> None:
    """Flip one bit of the stored blob ``sha256``, as a failing disk or a meddling hand would."""
    key = blob_key(sha256)
    for path in hub.data_dir.rglob(key):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
        return
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for bucket in s3.list_buckets()["Buckets"]:
        for stored in s3.list_objects_v2(Bucket=bucket["Name"], Prefix=key).get("Contents", []):
            data = bytearray(s3.get_object(Bucket=bucket["Name"], Key=stored["Key"])["Body"].read())
            data[len(data) // 2] ^= 1
            s3.put_object(Bucket=bucket["Name"], Key=stored["Key"], Body=bytes(data))
            return
    raise AssertionError(f"blob {sha256} is in neither the hub's folder nor S3")


def test_a_pull_refuses_bytes_that_are_not_the_versions(alice, tmp_path, s3_endpoint):
    """The pull checks every file's sha256 before it puts it in place: rotten storage raises, and leaves
    neither the file nor a partial one behind."""
    client = alice.client()
    weights = os.urandom(3 * MiB)
    client.datasets.push(make_folder(tmp_path / "src", {"weights.bin": weights}), "rotten")
    corrupt_blob(alice.hub, hashlib.sha256(weights).hexdigest(), s3_endpoint)
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match=r"^weights\.bin: got 3145728 bytes with sha256 [0-9a-f]{12}\.\.\., "
                       r"expected 3145728 bytes with sha256 [0-9a-f]{12}\.\.\.; nothing was written, pull again\.$"):
        client.datasets.pull("rotten", out)
    assert list(out.rglob("*")) == []


def test_interrupted_pull_resumes_from_the_partial_file(alice, dataset, tmp_path):
    client = alice.client(workers=1)
    client.datasets.push(dataset, "pull-resume")
    out = tmp_path / "out"
    with pytest.raises(Stop):
        client.datasets.pull("pull-resume", out, on_transfer=stop_after(9 * MiB))
    [partial] = list(out.rglob("*.mllab-part"))
    have = partial.stat().st_size
    assert have >= 9 * MiB
    resumed = client.datasets.pull("pull-resume", out)
    assert tree(out) == tree(dataset)
    assert resumed.bytes_received < sum(len(b) for b in tree(dataset).values()) - have + 1


def test_model_register_records_lineage(alice, dataset, tmp_path, monkeypatch):
    client = alice.client()
    data = client.datasets.push(dataset, "lineage-data")
    model = make_folder(tmp_path / "clf", {
        "MLmodel": b"flavors:\n  sklearn:\n    pickled_model: model.pkl\n",
        "model.pkl": os.urandom(2048),
    })
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", "gpu-box")
    registered = client.models.register(model, "clf", datasets=["lineage-data"], metrics={"acc": 0.93},
                                        params={"C": 1.0, "solver": "lbfgs"})
    lineage = registered.version["lineage"]
    assert lineage["datasets"] == [data.ref]
    assert (lineage["user"], lineage["workspace"], lineage["flavor"]) == ("alice", "gpu-box", "mlflow")
    assert (lineage["metrics"], lineage["params"]) == ({"acc": 0.93}, {"C": 1.0, "solver": "lbfgs"})
    assert client.datasets.get(data.ref)["used_by"] == [registered.ref]


def test_aliases_point_at_versions(alice, dataset):
    client = alice.client()
    client.models.push(dataset, "aliased")
    (dataset / "test.csv").write_bytes(b"v2")
    client.models.push(dataset, "aliased")
    answer = client.models.alias("aliased:1", "production")
    assert answer == {"alias": "production", "version": 1}
    assert client.models.get("aliased@production")["number"] == 1
    assert client.models.get("aliased")["number"] == 2
    assert client.models.info("aliased")["aliases"] == {"latest": 2, "production": 1}
    client.models.alias("aliased@latest", "production")
    assert client.models.get("users/alice/aliased@production")["number"] == 2
    client.models.unalias("aliased", "production")
    with pytest.raises(RegistryError) as gone:
        client.models.get("aliased@production")
    assert gone.value.status == 404


def test_list_filters_by_namespace_tag_and_text(alice, bob, tmp_path):
    data = make_folder(tmp_path / "d", {"a.csv": b"1"})
    alice.client().datasets.push(data, "listed-cats", tags=["images", "cats"], description="Cat pictures")
    alice.client().datasets.push(data, "listed-dogs", tags=["images"])
    bob.client().datasets.push(data, "bobs-own")
    names = {a["full_name"] for a in alice.client().datasets.list(tag="images")}
    assert names == {"users/alice/listed-cats", "users/alice/listed-dogs"}
    assert {a["full_name"] for a in alice.client().datasets.list(tag=["images", "cats"])} == {
        "users/alice/listed-cats"}
    assert {a["full_name"] for a in alice.client().datasets.list(q="pictures")} == {"users/alice/listed-cats"}
    assert "users/bob/bobs-own" not in {a["full_name"] for a in alice.client().datasets.list()}
    assert [a["full_name"] for a in bob.client().datasets.list(namespace="users/bob")] == ["users/bob/bobs-own"]


def test_delete_a_version_then_the_artifact(alice, tmp_path):
    client = alice.client()
    data = make_folder(tmp_path / "d", {"a.csv": b"1"})
    client.datasets.push(data, "deleted")
    (data / "a.csv").write_bytes(b"2")
    client.datasets.push(data, "deleted")
    client.datasets.delete("deleted:1")
    assert [v["number"] for v in client.datasets.versions("deleted")] == [2]
    with pytest.raises(RefError):
        client.datasets.delete("deleted@latest")
    client.datasets.delete("deleted")
    with pytest.raises(RegistryError) as gone:
        client.datasets.info("deleted")
    assert gone.value.status == 404


def test_other_peoples_namespaces_are_refused(alice, bob, tmp_path):
    data = make_folder(tmp_path / "d", {"a.csv": b"1"})
    bob.client().datasets.push(data, "private")
    with pytest.raises(RegistryError) as refused:
        alice.client().datasets.push(data, "users/bob/intruder")
    assert refused.value.status == 403
    with pytest.raises(RegistryError) as hidden:
        alice.client().datasets.pull("users/bob/private", tmp_path / "out")
    assert hidden.value.status == 403
    assert refused.value.message and "Traceback" not in refused.value.message
