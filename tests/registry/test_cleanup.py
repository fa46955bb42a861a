"""Cleanup, called as the service's periodic job calls it: expiring sessions and collecting garbage."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from mllab.services.registry.cleanup import collect_garbage, expire_uploads
from mllab.services.registry.context import Registry as Context
from mllab.services.registry.db import Database
from mllab.services.registry.models import utcnow
from mllab.services.storage import LocalStorage
from mllab.services.storage.base import blob_key

from .helpers import sha256


@pytest.fixture
def context(local_team):
    """The registry's own database and storage, as the service sees them; GC grace 0."""
    root = local_team.hub.data_dir / "artifacts"
    db = Database(local_team.db_url)
    yield Context(db=db, storage=LocalStorage(root=str(root)), gc_grace=timedelta(0))
    db.close()


def run(coroutine):
    return asyncio.run(coroutine)


def test_gc_keeps_what_versions_and_open_uploads_need(local_team, context, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('gc')}"
    old, new = unique("old").encode(), unique("new").encode()
    alice.push(ref, {"a": old})
    alice.push(ref, {"a": new})
    store = local_team.hub.data_dir / "artifacts"
    assert alice.call("DELETE", f"datasets/{ref}/versions/1").status_code == 204

    # A push in progress names the old blob: it stays. (No version holds it any more, so it is not present
    # for the push, whose client must send the bytes again: dedup counts only blobs of readable versions.)
    upload = alice.start(ref, {"a": old, "b": b"other"}).json()
    assert not next(f for f in upload["files"] if f["path"] == "a")["present"]
    assert sha256(old) not in run(collect_garbage(context))
    assert (store / blob_key(sha256(old))).exists()

    # Abandoned: now nothing needs it.
    assert alice.call("DELETE", f"uploads/{upload['id']}").status_code == 204
    assert sha256(old) in run(collect_garbage(context))
    assert not (store / blob_key(sha256(old))).exists()
    assert (store / blob_key(sha256(new))).exists()
    assert alice.download("datasets", ref, "latest", "a").content == new


def test_gc_spares_recent_blobs(local_team, context, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('grace')}"
    content = unique().encode()
    alice.push(ref, {"a": content})
    assert alice.call("DELETE", f"datasets/{ref}").status_code == 204
    context.gc_grace = timedelta(hours=1)
    assert sha256(content) not in run(collect_garbage(context))
    context.gc_grace = timedelta(0)
    assert sha256(content) in run(collect_garbage(context))


def test_expired_upload_is_dropped(local_team, context, unique):
    alice = local_team.registry("alice")
    ref = f"users/alice/{unique('exp')}"
    content = unique().encode() * 1000
    upload = alice.start(ref, {"a": content}).json()
    url = upload["files"][0]["transfer"]["url"]
    assert alice.call("PUT", url, data=content[:100]).json()["received"] == 100
    staged = context.storage.staging_path(upload["id"], sha256(content))
    assert staged.stat().st_size == 100

    assert upload["id"] not in run(expire_uploads(context))  # not yet
    assert upload["id"] in run(expire_uploads(context, now=utcnow() + timedelta(hours=25)))
    assert not staged.exists()
    assert alice.get(f"uploads/{upload['id']}").json()["status"] == "expired"
    assert alice.call("PUT", url + "?offset=100", data=content[100:]).status_code == 409
    assert alice.post(f"uploads/{upload['id']}/complete").status_code == 409
    assert alice.get(f"datasets/{ref}/versions").json()["items"] == []
