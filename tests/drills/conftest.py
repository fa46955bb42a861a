"""Fixtures of the reliability drills: an S3 endpoint and a PostgreSQL server that can be stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .outages import Gate, Postgres


@pytest.fixture
def s3_gate(s3_endpoint) -> Iterator[Gate]:
    """The session's moto endpoint behind a relay the test closes and opens (``gate.url``)."""
    gate = Gate(s3_endpoint)
    gate.open()
    yield gate
    gate.shut_down()


@pytest.fixture
def drill_postgres() -> Iterator[Postgres]:
    """A running PostgreSQL of the test's own (``.url``, ``.stop()``, ``.start()``)."""
    server = Postgres()
    server.start()
    yield server
    server.remove()
