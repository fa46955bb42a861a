"""Dedup proves possession: a sha256 names content, it does not hand it over (issue 16, hole 4).

A blob is present for a caller only if a version they may read references it; anything else is
sent and verified like new content, whoever stored it before, and no answer tells what the store
holds for others. Each test runs on local storage (streamed), S3 with presigned multipart uploads
and S3 in stream mode, each a hub with the registry on PostgreSQL and S3 on moto.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
import requests
from mllab.services.storage.base import blob_key

from ..conftest import _create_database, _drop_database, slow_fixture
from ..harness import postgres_database_url
from .conftest import Team, start_team
from .helpers import Registry, sha256

#: Backend -> its registry options (on top of the storage).
SETUPS = {"local": {}, "s3": {}, "s3-stream": {"RegistryApp.stream": True}}
#: alice writes in groups/vision; bob only reads there (a member); carol is outside.
GROUP_ROLES = (
    "c.JupyterHub.load_roles = [{'name': 'vision-writers', 'groups': ['vision-writers'],"
    " 'scopes': ['custom:datasets:write!group=vision']}]",
)
#: alice's secret content has a size that no answer to anyone else may show.
SECRET_SIZE = 12_345
MISMATCH = ("The content received for 'stolen.bin' does not match its declared sha256 and size; "
            "send the file again.")


@dataclass
class Setup:
    team: Team
    s3_endpoint: str | None
    bucket: str | None

    def registry(self, user: str) -> Registry:
        return self.team.registry(user)

    def copies(self, sha: str) -> int:
        """Copies of the content ``sha`` anywhere in storage: stored blobs, staged files, S3 objects and
        unfinished multipart uploads (S3 keys of blobs and transfers start with its blob key)."""
        found = sum(1 for p in self.team.hub.data_dir.rglob("*") if sha in p.parts and p.is_file())
        if self.bucket:
            s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1")
            found += len(s3.list_objects_v2(Bucket=self.bucket, Prefix=blob_key(sha)).get("Contents", []))
            found += len(s3.list_multipart_uploads(Bucket=self.bucket, Prefix=blob_key(sha)).get("Uploads", []))
        return found


@pytest.fixture(scope="module", params=list(SETUPS))
@slow_fixture
def setup(request, tmp_path_factory) -> Iterator[Setup]:
    backend = "local" if request.param == "local" else "s3"
    s3 = request.getfixturevalue("s3_endpoint") if backend == "s3" else None
    # Named here (the last assignment in the config wins), so the test can count the objects in it.
    bucket = f"dedup-{secrets.token_hex(4)}" if s3 else None
    options = {**SETUPS[request.param], **({"s3_bucket": bucket} if bucket else {})}
    database = _create_database()
    team = start_team(tmp_path_factory.mktemp(f"dedup-{request.param}"), backend, s3,
                      postgres_database_url(database), lines=GROUP_ROLES, **options)
    admin = team.hub.admin()
    assert admin.api("POST", "groups/vision", json={}).status_code == 201
    assert admin.api("POST", "groups/vision/users", json={"users": ["alice", "bob"]}).status_code == 200
    assert admin.api("POST", "groups/vision-writers/users", json={"users": ["alice"]}).status_code == 200
    yield Setup(team, s3, bucket)
    team.hub.stop()
    _drop_database(database)


def refused(answer: requests.Response, status: int) -> dict:
    """A 4xx with the JSON error body every refusal has."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    body = answer.json()
    assert set(body) == {"error", "message"} and body["message"]
    return body


def secret_of(setup: Setup, unique) -> bytes:
    """Content only alice's namespace holds: one version of a dataset of hers."""
    secret = os.urandom(SECRET_SIZE)
    setup.registry("alice").push(f"users/alice/{unique('secret')}", {"s.bin": secret})
    return secret


def declare(registry: Registry, ref: str, sha: str, size: int) -> dict:
    """An upload naming ``stolen.bin`` by sha256 and size alone (no part CRC32s: nothing else about it)."""
    answer = registry.post(f"datasets/{ref}/uploads",
                           json={"files": [{"path": "stolen.bin", "size": size, "sha256": sha}]})
    assert answer.status_code == 201, answer.text
    return answer.json()


def send_raw(registry: Registry, upload: dict, data: bytes) -> requests.Response:
    """Send ``data`` as the first file's content; the answer that refuses it (the PUT when streamed, the
    completion when the parts went to S3)."""
    transfer = upload["files"][0]["transfer"]
    if transfer["method"] == "stream":
        return registry.call("PUT", transfer["url"], data=data)
    for part in transfer["parts"]:
        start = (part["number"] - 1) * transfer["part_size"]
        answer = requests.put(part["url"], data=data[start : start + part["size"]], timeout=60,
                              headers={"Content-Type": "application/octet-stream", **part["headers"]})
        assert answer.status_code == 200, answer.text
    return registry.post(f"uploads/{upload['id']}/complete")


def shape(value):
    """An answer without what differs between any two sessions (ids, URLs, times, the sha256 itself)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("id", "url", "expires_at", "sha256", "artifact")}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return value


def test_a_foreign_sha256_must_be_sent(setup, unique):
    """bob names alice's sha256: not present, completing is refused, and only his own bytes complete it."""
    secret = secret_of(setup, unique)
    bob = setup.registry("bob")
    ref = f"users/bob/{unique('stolen')}"
    answer = bob.start(ref, {"stolen.bin": secret})
    assert answer.status_code == 201, answer.text
    upload = answer.json()
    [entry] = upload["files"]
    assert (entry["present"], entry["transfer"] is None) == (False, False)

    body = refused(bob.post(f"uploads/{upload['id']}/complete"), 409)
    assert "stolen.bin" in body["message"]
    assert bob.get(f"datasets/{ref}/versions").json()["items"] == []
    again = bob.get(f"uploads/{upload['id']}").json()
    assert again["status"] == "open" and not again["files"][0]["present"]

    assert bob.send(upload, {"stolen.bin": secret}) == SECRET_SIZE
    done = bob.post(f"uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.text
    assert bob.download("datasets", ref, "latest", "stolen.bin").content == secret
    # His verified copy was dropped: the content is stored once.
    assert setup.copies(sha256(secret)) == 1


@pytest.mark.parametrize("declared", ["true size", "other size"])
def test_wrong_bytes_tell_nothing(setup, unique, declared):
    """Wrong bytes for alice's sha256 fail exactly as for a sha256 stored nowhere: no size, no existence."""
    secret = secret_of(setup, unique)
    size = SECRET_SIZE if declared == "true size" else 5_000
    bob = setup.registry("bob")
    answers = []
    for sha in (sha256(secret), secrets.token_hex(32)):  # alice's, and one of no content anywhere
        upload = declare(bob, f"users/bob/{unique('wrong')}", sha, size)
        assert not upload["files"][0]["present"]
        answers.append(send_raw(bob, upload, os.urandom(size)))
        assert bob.call("DELETE", f"uploads/{upload['id']}").status_code == 204
    theirs, nobodys = answers
    assert refused(theirs, 422) == refused(nobodys, 422) == {"error": "checksum_mismatch", "message": MISMATCH}
    assert str(SECRET_SIZE) not in theirs.text
    assert setup.copies(sha256(secret)) == 1


def test_a_wrong_size_is_just_not_present(setup, unique):
    """Declaring alice's sha256 with another size is answered as for a sha256 stored nowhere."""
    secret = secret_of(setup, unique)
    bob = setup.registry("bob")
    sessions = [declare(bob, f"users/bob/{unique('size')}", sha, SECRET_SIZE + 1)
                for sha in (sha256(secret), secrets.token_hex(32))]
    assert shape(sessions[0]) == shape(sessions[1])
    assert not sessions[0]["files"][0]["present"]
    completions = [refused(bob.post(f"uploads/{s['id']}/complete"), 409) for s in sessions]
    assert completions[0] == completions[1]
    assert str(SECRET_SIZE) not in str(shape(sessions[0])) + str(completions[0])


def test_readers_dedup_and_others_send(setup, unique):
    """What a caller may read is present (their own, any kind; their team's); nothing else is."""
    alice, bob, carol = (setup.registry(name) for name in ("alice", "bob", "carol"))
    team_content, private = os.urandom(20_000), os.urandom(30_000)
    alice.push(f"groups/vision/{unique('team')}", {"t.bin": team_content})
    alice.push(f"users/alice/{unique('mine')}", {"p.bin": private})

    # alice's own content in a new dataset, and as a model: all present, nothing sent.
    _, sent = alice.push(f"users/alice/{unique('copy')}", {"t.bin": team_content, "p.bin": private})
    assert sent == 0
    _, sent = alice.push(f"users/alice/{unique('model')}", {"w.bin": private}, kind="models")
    assert sent == 0
    # bob reads the team's version: he dedups against it, but not against alice's own.
    upload = bob.start(f"users/bob/{unique('copy')}", {"t.bin": team_content, "p.bin": private}).json()
    assert {f["path"]: f["present"] for f in upload["files"]} == {"t.bin": True, "p.bin": False}
    assert bob.call("DELETE", f"uploads/{upload['id']}").status_code == 204
    _, sent = bob.push(f"users/bob/{unique('copy')}", {"t.bin": team_content, "p.bin": private})
    assert sent == len(private)
    # carol reads neither.
    _, sent = carol.push(f"users/carol/{unique('copy')}", {"t.bin": team_content})
    assert sent == len(team_content)
    assert (setup.copies(sha256(team_content)), setup.copies(sha256(private))) == (1, 1)


def test_completion_needs_this_sessions_bytes(setup, unique):
    """A blob missing when bob's session began stays missing for it when alice stores it meanwhile."""
    alice, bob = setup.registry("alice"), setup.registry("bob")
    content = os.urandom(40_000)
    ref = f"users/bob/{unique('race')}"
    upload = bob.start(ref, {"c.bin": content}).json()
    alice.push(f"users/alice/{unique('race')}", {"c.bin": content})

    body = refused(bob.post(f"uploads/{upload['id']}/complete"), 409)
    assert "c.bin" in body["message"]
    resumed = bob.get(f"uploads/{upload['id']}").json()
    assert not resumed["files"][0]["present"] and resumed["files"][0]["transfer"]
    assert bob.send(resumed, {"c.bin": content}) == len(content)
    done = bob.post(f"uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.text
    assert bob.download("datasets", ref, "latest", "c.bin").content == content
    assert setup.copies(sha256(content)) == 1

