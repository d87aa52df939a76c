"""A database that stays busy past the wait a request is allowed answers 503 with Retry-After,
never 500 ("a bug on our side"), and changes nothing: here another process holds SQLite's
write lock for longer than the busy timeout (cut to 1 s)."""

import sqlite3

import pytest
from factories import sign_up
from fastapi.testclient import TestClient

from clearhouse import db
from clearhouse.app import create_app


@pytest.fixture
def busy_client(settings, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 1)
    with TestClient(create_app(settings)) as client:
        yield client


# SQLite's write lock only: PostgreSQL's row locks wait without end.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_write_that_waits_too_long_for_the_lock_is_refused_as_busy(busy_client, settings):
    holder = sign_up(busy_client)
    path = settings.resolved_database_url.removeprefix("sqlite:///")
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        refused = busy_client.post(
            "/v1/organisations", headers=holder.headers, json={"name": "Busy Studio"}
        )
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "2"
    assert refused.json()["type"].endswith("/database-busy")
    assert busy_client.get("/v1/organisations", headers=holder.headers).json() == []
    made = busy_client.post("/v1/organisations", headers=holder.headers, json={"name": "Later"})
    assert made.status_code == 201, made.text
