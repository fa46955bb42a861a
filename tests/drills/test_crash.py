"""Crash drill: SIGKILL while ``POST .../complete`` runs leaves a whole version or none, and the GC
then frees exactly the blobs no version references."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import threading
import time
from datetime import timedelta

import pytest
import requests
from mllab.services.registry.cleanup import collect_garbage, expire_uploads
from mllab.services.registry.context import Registry as Context
from mllab.services.registry.db import Database
from mllab.services.storage import LocalStorage
from mllab.services.storage.base import blob_key
from sqlalchemy import create_engine, text

from ..registry.conftest import start_team
from ..registry.helpers import sha256
from ..registry.test_faults import kill_registry

pytestmark = pytest.mark.slow

#: Enough files that completing takes a while: the kill lands before, during or after the commit.
FILES = 400


@pytest.fixture
def team(tmp_path, postgres_url):
    team = start_team(tmp_path, "local", None, postgres_url)
    yield team
    team.hub.stop()


def kill_process_group(team) -> None:
    """SIGKILL ``mllab up`` and everything in its process group (proxy, services), then start it again."""
    os.killpg(team.hub.proc.pid, signal.SIGKILL)
    team.hub.proc.wait(10)
    team.hub.proc = None
    team.hub.start()


@pytest.mark.parametrize("kill", [kill_registry, kill_process_group], ids=["registry", "process-group"])
@pytest.mark.parametrize("delay", [0.1, 0.6], ids=lambda d: f"after-{d}s")
def test_kill_during_complete_leaves_a_whole_version_or_none(team, kill, delay):
    alice = team.registry("alice")
    ref = f"users/alice/many-{secrets.token_hex(3)}"
    files = {f"part-{i:04}.txt": os.urandom(64) + str(i).encode() for i in range(FILES)}
    upload = alice.start(ref, files).json()
    alice.send(upload, files)

    completing = threading.Thread(target=_complete_ignoring_the_crash, args=(alice, upload["id"]), daemon=True)
    completing.start()
    time.sleep(delay)
    kill(team.hub) if kill is kill_registry else kill(team)
    completing.join(60)

    listing = alice.get(f"datasets/{ref}/versions").json()["items"]
    if listing:
        [version] = listing
        assert version["file_count"] == FILES
    else:
        # None: the session is still open and completes now, whole.
        assert alice.get(f"uploads/{upload['id']}").json()["status"] == "open"
        assert alice.post(f"uploads/{upload['id']}/complete").status_code == 201
    version = alice.get(f"datasets/{ref}/versions/1").json()
    assert sorted(f["path"] for f in version["files"]) == sorted(files)
    for path in ("part-0000.txt", f"part-{FILES - 1:04}.txt"):
        assert alice.download("datasets", ref, "1", path).content == files[path]

    _collect_garbage_and_check(team, alice, ref, files)


def _complete_ignoring_the_crash(alice, upload_id: str) -> None:
    # The service dies under it: what matters is what the database holds afterwards.
    with contextlib.suppress(requests.RequestException):
        alice.post(f"uploads/{upload_id}/complete")


def _collect_garbage_and_check(team, alice, ref: str, files: dict[str, bytes]) -> None:
    """After the crash, GC removes exactly the blobs no version needs; every version still pulls."""
    # A blob no version will ever reference: an abandoned session's.
    orphan = os.urandom(100)
    abandoned = alice.start(f"users/alice/orphan-{secrets.token_hex(3)}", {"o.bin": orphan}).json()
    alice.send(abandoned, {"o.bin": orphan})
    assert alice.call("DELETE", f"uploads/{abandoned['id']}").status_code == 204

    store = team.hub.data_dir / "artifacts"
    db = Database(team.db_url)
    context = Context(db=db, storage=LocalStorage(root=str(store)), gc_grace=timedelta(0))
    try:
        asyncio.run(expire_uploads(context))
        removed = set(asyncio.run(collect_garbage(context)))
    finally:
        db.close()

    engine = create_engine(team.db_url)
    with engine.connect() as connection:
        referenced = set(connection.execute(text("SELECT DISTINCT sha256 FROM registry_version_files")).scalars())
    engine.dispose()
    assert sha256(orphan) in removed
    assert not removed & referenced, "nothing a version references is collected"
    stored = {path.name for path in (store / "blobs").rglob("*") if path.is_file()}
    assert {blob_key(s).rsplit("/", 1)[-1] for s in referenced} == stored, "exactly the referenced blobs remain"
    assert alice.download("datasets", ref, "1", "part-0001.txt").content == files["part-0001.txt"]
