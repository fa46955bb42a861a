"""Crash drill: SIGKILL while ``POST .../complete`` runs leaves a whole version or none, and the GC
then frees exactly the blobs no version references.

The kill lands at a known point: inside the transaction that completes the upload, once it has
written the version and its files and is marking the session completed (the last write before
the commit).  A trigger in the test's own database holds that statement on an advisory lock the
test owns, and PostgreSQL shows the session waiting there; the test kills, then lets go.

Each kill has one right outcome.  SIGKILL of the registry: its transaction dies with it, so no
version at all, the session still open, and completing it again makes the whole version.  SIGKILL
of ``mllab up``: the registry, in a session of its own, outlives it, sees it gone and stops
cleanly, finishing the transaction under way, so the whole version, the session completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta

import psutil
import pytest
import requests
from mllab.services.registry.cleanup import collect_garbage, expire_uploads
from mllab.services.registry.context import Registry as Context
from mllab.services.registry.db import Database
from mllab.services.storage import LocalStorage
from mllab.services.storage.base import blob_key
from sqlalchemy import create_engine, text

from ..harness import service_process, wait_for
from ..registry.conftest import start_team
from ..registry.helpers import sha256
from ..registry.test_faults import kill_registry

pytestmark = pytest.mark.slow

FILES = 40
#: The advisory lock the completing transaction waits on (advisory locks are per database).
HOLD_KEY = 1717

#: Run by the UPDATE that marks an upload completed, inside complete's transaction: it waits
#: until the test lets go of HOLD_KEY.
HOLD_AT_COMPLETED = [
    f"""CREATE FUNCTION drill_hold() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared({HOLD_KEY}); RETURN NULL; END $$""",
    """CREATE TRIGGER drill_hold AFTER UPDATE OF status ON registry_uploads FOR EACH ROW
        WHEN (NEW.status = 'completed') EXECUTE FUNCTION drill_hold()""",
]


@pytest.fixture
def team(tmp_path, postgres_url):
    team = start_team(tmp_path, "local", None, postgres_url)
    yield team
    team.hub.stop()


def kill_process_group(hub) -> None:
    """SIGKILL ``mllab up`` and everything in its process group (proxy, services), then start it again."""
    os.killpg(hub.proc.pid, signal.SIGKILL)
    hub.proc.wait(10)
    hub.proc = None
    hub.start()


class Hold:
    """A completion held in its transaction by `HOLD_AT_COMPLETED`, on the database at ``url``."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.connection = self.engine.connect()
        for statement in HOLD_AT_COMPLETED:
            self.connection.execute(text(statement))
        self.connection.execute(text(f"SELECT pg_advisory_lock({HOLD_KEY})"))  # a session lock: kept across commits
        self.connection.commit()

    def wait_held(self) -> dict:
        """The session held in the UPDATE (pid, query, and the tables it has written to)."""
        def held():
            row = self.connection.execute(text(
                "SELECT pid, query, backend_xid IS NOT NULL AS wrote FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            )).mappings().first()
            self.connection.commit()
            return row and dict(row)

        found = wait_for(held, timeout=60, interval=0.1, what="complete's transaction to reach the hold")
        found["tables"] = set(self.connection.execute(text(
            "SELECT relation::regclass::text FROM pg_locks WHERE pid = :pid AND mode = 'RowExclusiveLock'"),
            {"pid": found["pid"]}).scalars())
        self.connection.commit()
        return found

    def release(self, pid: int) -> None:
        """Let go of the held statement; return once session ``pid`` (its client killed) has ended."""
        self.connection.execute(text(f"SELECT pg_advisory_unlock({HOLD_KEY})"))
        self.connection.commit()

        def ended() -> bool:
            alive = self.connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                            {"pid": pid}).scalar()
            self.connection.commit()
            return not alive

        wait_for(ended, timeout=30, interval=0.1, what=f"the killed service's database session {pid} to end")

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


@contextlib.contextmanager
def hold_completion(url: str) -> Iterator[Hold]:
    hold = Hold(url)
    try:
        yield hold
    finally:
        hold.close()


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(("kill", "committed"), [(kill_registry, False), (kill_process_group, True)],
                         ids=["registry", "process-group"])
def test_kill_inside_completes_transaction(team, kill, committed):
    alice = team.registry("alice")
    ref = f"users/alice/many-{secrets.token_hex(3)}"
    files = {f"part-{i:04}.txt": os.urandom(64) + str(i).encode() for i in range(FILES)}
    upload = alice.start(ref, files).json()
    alice.send(upload, files)

    with hold_completion(team.db_url) as hold:
        answers: list = []
        completing = threading.Thread(target=_complete, args=(alice, upload["id"], answers), daemon=True)
        completing.start()
        held = hold.wait_held()
        assert held["query"].startswith("UPDATE registry_uploads"), held
        assert held["wrote"] and {"registry_versions", "registry_version_files"} <= held["tables"], \
            f"the version and its files are written, not committed: {held}"
        registry = service_process(team.hub, "mllab.services.registry")
        kill(team.hub)
        hold.release(held["pid"])
    wait_for(lambda: gone(registry), timeout=30, what="the killed hub's registry to be gone")
    completing.join(60)
    assert not completing.is_alive()
    [answer] = answers
    assert not (isinstance(answer, requests.Response) and answer.ok), f"the client saw the crash: {answer}"

    listing = alice.get(f"datasets/{ref}/versions").json()["items"]
    if committed:
        assert [v["number"] for v in listing] == [1]
        assert alice.get(f"uploads/{upload['id']}").json()["status"] == "completed"
        again = alice.post(f"uploads/{upload['id']}/complete")
        assert again.status_code == 409, again.text
    else:
        assert listing == [], "no version, not even half of one"
        assert alice.get(f"datasets/{ref}/versions/latest").status_code == 404
        assert alice.get(f"uploads/{upload['id']}").json()["status"] == "open"
        done = alice.post(f"uploads/{upload['id']}/complete")
        assert done.status_code == 201, done.text
        assert done.json()["number"] == 1
    version = alice.get(f"datasets/{ref}/versions/1").json()
    assert version["file_count"] == FILES
    assert sorted(f["path"] for f in version["files"]) == sorted(files)
    for path in ("part-0000.txt", f"part-{FILES - 1:04}.txt"):
        assert alice.download("datasets", ref, "1", path).content == files[path]

    _collect_garbage_and_check(team, alice, ref, files)


def _complete(alice, upload_id: str, answers: list) -> None:
    # The service dies under it: its answer is an error (the connection cut, or the proxy's 5xx).
    try:
        answers.append(alice.post(f"uploads/{upload_id}/complete"))
    except requests.RequestException as e:
        answers.append(e)


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
