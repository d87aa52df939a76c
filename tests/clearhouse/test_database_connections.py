"""Pooled PostgreSQL connections the server has closed are never handed to a request.

A PostgreSQL restart, or an operator's ``pg_terminate_backend``, ends the server side of
every pooled connection. The next requests must still be answered (not a 500 for each dead
connection they meet): the pool replaces a dead connection at checkout.
"""

import time

import pytest
from factories import sign_up
from sqlalchemy import text

from clearhouse.db import build_engine

POOLED = 4


def _terminate(database_url: str, pids: list[int]) -> None:
    """End these backends from another connection, and wait until they are gone."""
    # Autocommit: within one transaction pg_stat_activity would show the same snapshot.
    admin = build_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                alive = connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                    {"pids": pids},
                ).scalar()
                if alive == 0:
                    return
                time.sleep(0.05)
        raise AssertionError(f"backends {pids} still alive after pg_terminate_backend")
    finally:
        admin.engine.dispose()


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_requests_go_on_after_the_server_closed_every_pooled_connection(client, settings):
    holder = sign_up(client)
    engine = client.app.state.engine
    # Make the pool hold POOLED idle connections, and learn their backends.
    connections = [engine.connect() for _ in range(POOLED)]
    pids = [c.execute(text("SELECT pg_backend_pid()")).scalar() for c in connections]
    for connection in connections:
        connection.close()

    _terminate(settings.database_url, pids)

    # Reads and writes both check connections out: each would meet a dead one.
    statuses = [client.get("/v1/accounts/me", headers=holder.headers).status_code]
    statuses += [client.get("/v1/api-keys", headers=holder.headers).status_code]
    for n in range(POOLED):
        created = client.post(
            "/v1/api-keys",
            headers=holder.headers,
            json={"name": f"k{n}", "scopes": ["assets:read"]},
        )
        statuses.append(created.status_code)
    assert statuses == [200, 200] + [201] * POOLED
    listed = client.get("/v1/api-keys", headers=holder.headers).json()
    assert sorted(key["name"] for key in listed) == [f"k{n}" for n in range(POOLED)]
