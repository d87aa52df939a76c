"""A GET reads on PostgreSQL without a transaction of its own: each statement is its own
snapshot, as in a READ COMMITTED transaction, and the server is spared BEGIN and ROLLBACK
(half the round trips of an authenticated read)."""

import pytest
from factories import create_asset, sign_up
from sqlalchemy import event


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_an_authenticated_get_runs_every_statement_in_autocommit(client):
    holder = sign_up(client)
    asset = create_asset(client, holder)
    engine = client.app.state.engine
    statements: list[tuple[str, bool]] = []

    def seen(connection, _cursor, statement, *_args) -> None:
        statements.append((statement, connection.connection.dbapi_connection.autocommit))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        read = client.get(f"/v1/assets/{asset['id']}", headers=holder.headers)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert read.status_code == 200, read.text
    assert len(statements) == 2  # the caller, then the asset
    assert all(autocommit for _, autocommit in statements), statements


def test_a_read_after_a_write_sees_it(client):
    holder = sign_up(client)
    asset = create_asset(client, holder)
    client.patch(f"/v1/assets/{asset['id']}", headers=holder.headers, json={"name": "Renamed"})
    read = client.get(f"/v1/assets/{asset['id']}", headers=holder.headers)
    assert read.json()["name"] == "Renamed"
