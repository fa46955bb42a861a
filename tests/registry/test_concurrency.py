"""Many clients at once: nothing the registry acknowledges is lost, no request fails; and the race of two
first pushes to one new artifact (found by bench/load.py) makes one artifact, not a 500."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from mllab.services.registry.db import Database, migrate
from mllab.services.registry.models import Artifact, Upload, utcnow
from mllab.services.registry.uploads import Declared, Plan, record_upload
from sqlalchemy import func, select, text

from ..conftest import _create_database, _drop_database, slow_fixture
from ..harness import postgres_database_url, wait_for
from .conftest import Team, start_team
from .load import Load, log_size, server_errors


@pytest.fixture(scope="module", params=["embedded", "postgresql-s3"])
@slow_fixture
def busy_team(request, tmp_path_factory) -> Iterator[Team]:
    """The embedded default (SQLite, local folder), or PostgreSQL with S3."""
    root = tmp_path_factory.mktemp(f"load-{request.param}")
    if request.param == "embedded":
        team = start_team(root, "local", None, None)
        yield team
        team.hub.stop()
        return
    database = _create_database()
    team = start_team(root, "s3", request.getfixturevalue("s3_endpoint"), postgres_database_url(database))
    yield team
    team.hub.stop()
    _drop_database(database)


def test_concurrent_clients_lose_nothing(busy_team, tmp_path):
    load = Load(busy_team.hub.url, {user: busy_team.users[user][0].new_token() for user in busy_team.users},
                tmp_path, datasets_per_user=2)
    since = log_size(busy_team.hub.log_path)
    report = load.run(clients=20, seconds=4)
    assert report.errors == []
    assert server_errors(busy_team.hub.log_path, since) == []
    assert report.acked, "no push finished"
    assert load.lost(report.acked) == []


def test_two_first_pushes_to_one_new_artifact_make_one(postgres_url):
    migrate(postgres_url)
    db = Database(postgres_url)
    declared = Declared("datasets", "users/alice", "raced", "alice", files=[])
    plan = Plan(None, set(), None)
    expires = utcnow() + timedelta(hours=1)
    failures: list[BaseException] = []

    def second_push() -> None:
        try:
            db.call(record_upload, "second", declared, plan, {}, expires)
        except BaseException as e:
            failures.append(e)

    try:
        with db.sessions.begin() as first:
            record_upload(first, "first", declared, plan, {}, expires)
            first.flush()
            racer = threading.Thread(target=second_push)
            racer.start()
            # The second push waits on the first's uncommitted artifact (the unique index) until it commits.
            with db.engine.connect() as watcher:
                wait_for(lambda: watcher.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
                    "current_database()")), what="the second push to wait for the first")
        racer.join(timeout=60)
        assert failures == []
        with db.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Artifact).where(Artifact.name == "raced")) == 1
            uploads = session.scalars(select(Upload).where(Upload.id.in_(["first", "second"]))).all()
            assert len({u.artifact_id for u in uploads}) == 1 and len(uploads) == 2
    finally:
        db.close()
