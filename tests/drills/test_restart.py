"""Restart drill: ``mllab up`` stopped (SIGTERM) and started again on the same data dir loses nothing."""

from __future__ import annotations

import os
import secrets

import pytest

from ..registry.conftest import start_team
from ..registry.helpers import sha256

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


@pytest.fixture(params=["sqlite-local", "postgres-s3"])
def team(request, tmp_path, postgres_url):
    """A hub on the embedded default (SQLite, local folder), or on PostgreSQL with S3."""
    if request.param == "sqlite-local":
        team = start_team(tmp_path, "local", None, None)
    else:
        team = start_team(tmp_path, "s3", request.getfixturevalue("s3_endpoint"), postgres_url)
    yield team
    team.hub.stop()


def test_everything_pulls_back_after_a_restart(team):
    alice = team.registry("alice")
    suffix = secrets.token_hex(3)
    pushed = {
        ("datasets", f"users/alice/iris-{suffix}"): [{"data.csv": os.urandom(3 * MiB), "README": b"iris"}],
        ("datasets", f"users/alice/wine-{suffix}"): [{"a.bin": os.urandom(MiB)}, {"a.bin": os.urandom(MiB)}],
        ("models", f"users/alice/clf-{suffix}"): [{"model.pkl": os.urandom(2 * MiB)}, {"model.pkl": b"v2"}],
    }
    for (kind, ref), versions in pushed.items():
        for files in versions:
            alice.push(ref, files, kind)
    model = f"users/alice/clf-{suffix}"
    assert alice.call("PUT", f"models/{model}/aliases/production", json={"version": 1}).status_code == 200
    assert alice.call("PUT", f"models/{model}/aliases/staging", json={"version": 2}).status_code == 200

    # A third upload, half sent: its first file whole, the big one only in part.
    half = f"users/alice/half-{suffix}"
    big, small = os.urandom(12 * MiB), b"small"
    half_files = {"big.bin": big, "small.txt": small}
    upload = alice.start(half, half_files).json()
    sent_before = _send_half(alice, upload, half_files)

    team.hub.restart()

    for (kind, ref), versions in pushed.items():
        for number, files in enumerate(versions, 1):
            for path, data in files.items():
                answer = alice.download(kind, ref, str(number), path)
                assert answer.status_code == 200, answer.text
                assert sha256(answer.content) == sha256(data), f"{kind} {ref}:{number} {path}"
    aliases = alice.get(f"models/{model}").json()["aliases"]
    assert (aliases["production"], aliases["staging"], aliases["latest"]) == (1, 2, 2)
    assert alice.download("models", model, "production", "model.pkl").content == pushed["models", model][0]["model.pkl"]

    resumed = alice.get(f"uploads/{upload['id']}").json()
    assert resumed["status"] == "open"
    sent_after = alice.send(resumed, half_files)
    assert sent_before + sent_after == len(big) + len(small), "what was received before the restart is kept"
    done = alice.post(f"uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.text
    assert alice.download("datasets", half, "1", "big.bin").content == big


def _send_half(alice, upload: dict, files: dict[str, bytes]) -> int:
    """Send the small file and the first part (or first half) of the big one; the bytes sent."""
    small = next(f for f in upload["files"] if f["path"] == "small.txt")
    sent = alice.send({"files": [small]}, files)
    transfer = next(f for f in upload["files"] if f["path"] == "big.bin")["transfer"]
    big = files["big.bin"]
    if transfer["method"] == "stream":
        half = len(big) // 2
        assert alice.call("PUT", transfer["url"] + "?offset=0", data=big[:half]).status_code == 200
        return sent + half
    first = transfer["parts"][0]
    first_upload = {"files": [{"sha256": sha256(big), "present": False,
                               "transfer": {**transfer, "parts": [first]}}]}
    return sent + alice.send(first_upload, files)
