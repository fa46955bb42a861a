"""S3 drill: the endpoint stops between the parts of an upload and comes back.

The service answers a clear 503 while S3 is away; the upload resumes with the parts not yet
stored, no half version appears, and nothing is stored twice.
"""

from __future__ import annotations

import os
import secrets

import boto3
import pytest
import requests
from mllab.client import Client
from mllab.client.errors import MLLabError

from ..registry.conftest import start_team
from ..registry.helpers import sha256

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


@pytest.fixture
def team(tmp_path, postgres_url, s3_gate):
    team = start_team(tmp_path, "s3", s3_gate.url, postgres_url)
    yield team
    team.hub.stop()


def bucket_of(team) -> str:
    config = (team.hub.data_dir.parent / "registry_config.py").read_text()
    return config.split("c.MLLab.s3_bucket = '", 1)[1].split("'", 1)[0]


def check_stored_once(team, s3_endpoint: str, blobs: set[str]) -> None:
    """The bucket holds each blob once, under its key, and no multipart upload is left open."""
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    bucket = bucket_of(team)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if o["Key"].startswith("blobs/")]
    # blobs/<ab>/<sha256>/<object>: one object per blob.
    assert sorted(key.split("/")[2] for key in keys) == sorted(blobs), keys
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_resumes_after_s3_comes_back(team, s3_gate, s3_endpoint):
    alice = team.registry("alice")
    ref = f"users/alice/flaky-{secrets.token_hex(3)}"
    big = os.urandom(20 * MiB)
    files = {"big.bin": big}
    upload = alice.start(ref, files).json()
    transfer = upload["files"][0]["transfer"]
    assert transfer["method"] == "s3-multipart" and len(transfer["parts"]) > 1
    first, second = transfer["parts"][:2]
    assert requests.put(first["url"], data=big[: first["size"]], headers=first["headers"], timeout=60).ok

    s3_gate.close()
    with pytest.raises(requests.ConnectionError):
        requests.put(second["url"], data=big[first["size"]: first["size"] + second["size"]],
                     headers=second["headers"], timeout=10)
    refused = alice.post(f"uploads/{upload['id']}/complete")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "unavailable"
    assert "S3" in refused.json()["message"] or "storage" in refused.json()["message"].lower()
    assert alice.get(f"datasets/{ref}/versions/latest").status_code == 404, "no half version"

    s3_gate.open()
    resumed = alice.get(f"uploads/{upload['id']}").json()
    assert resumed["status"] == "open"
    assert [p["done"] for p in resumed["files"][0]["transfer"]["parts"]][:2] == [True, False]
    assert alice.send(resumed, files) == len(big) - first["size"], "the stored part is not sent again"
    done = alice.post(f"uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.text
    assert sha256(alice.download("datasets", ref, "1", "big.bin").content) == sha256(big)
    check_stored_once(team, s3_endpoint, {sha256(big)})


def test_client_push_fails_clearly_then_resumes(team, s3_gate, s3_endpoint, tmp_path):
    """The CLI's client: a readable error while S3 is away; run again, it sends only what is missing."""
    token = team.users["alice"][0].new_token()
    client = Client(team.hub.url, token, env={"MLLAB_CACHE_DIR": str(tmp_path / "cache")}, workers=1)
    folder = tmp_path / "to-push"
    folder.mkdir()
    (folder / "big.bin").write_bytes(os.urandom(24 * MiB))
    (folder / "small.txt").write_bytes(b"small")
    name = f"pushed-{secrets.token_hex(3)}"
    sent: list[int] = []

    def close_during_second_part(n: int) -> None:
        sent.append(n)
        if sum(sent) >= 12 * MiB:  # parts are 8 MiB: the first is stored, the second cut
            s3_gate.close()

    with pytest.raises(MLLabError) as failure:
        client.datasets.push(folder, name, on_transfer=close_during_second_part)
    message = str(failure.value)
    assert "{" not in message, f"a readable message, not a JSON body: {message}"
    before = sum(sent)

    s3_gate.open()
    sent.clear()
    result = client.datasets.push(folder, name, on_transfer=sent.append)
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert sum(sent) <= total - 8 * MiB, "the part stored before the outage is not sent again"
    assert before + sum(sent) <= total + 8 * MiB, "at most the part cut in flight is sent twice"
    pulled = tmp_path / "pulled"
    client.datasets.pull(result.ref, pulled)
    for path in folder.iterdir():
        assert sha256((pulled / path.name).read_bytes()) == sha256(path.read_bytes())
    check_stored_once(team, s3_endpoint, {sha256(p.read_bytes()) for p in folder.iterdir()})
