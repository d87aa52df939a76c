"""How each kind of session meets PostgreSQL (clearhouse/db.py).

Every pooled connection stays in autocommit, and a transaction is begun by the engine as each
kind of session needs: a write in one READ COMMITTED transaction, a snapshot in one
REPEATABLE READ READ ONLY transaction, and a read (a request's, or ``read_session``) statement
by statement, with no BEGIN or ROLLBACK sent.
"""

import time

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from clearhouse.db import build_engine, read_session, snapshot_session, write_session

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def engine(settings):
    engine = build_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE transaction_probe (n integer)"))
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE transaction_probe"))
    engine.dispose()


def _timestamps(session) -> tuple:
    return session.execute(text("SELECT transaction_timestamp(), statement_timestamp()")).one()


def test_a_write_is_one_read_committed_transaction_that_a_failure_undoes(engine):
    with write_session(engine) as session:
        assert session.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        first = _timestamps(session)
        time.sleep(0.01)
        second = _timestamps(session)
    assert first[0] == second[0] < second[1]  # both statements in the transaction begun first

    with pytest.raises(RuntimeError), write_session(engine) as session:
        session.execute(text("INSERT INTO transaction_probe VALUES (1)"))
        raise RuntimeError("the route failed after writing")
    with read_session(engine) as session:
        assert session.execute(text("SELECT count(*) FROM transaction_probe")).scalar() == 0


def test_a_write_sends_its_begin_with_its_first_statement(engine):
    """No round trip of its own for BEGIN: it goes just before the write's first statement,
    and a write that runs none sends nothing."""
    with write_session(engine) as session:
        driver = session.connection().connection.driver_connection
        assert driver.pgconn.transaction_status == TransactionStatus.IDLE
    assert driver.pgconn.transaction_status == TransactionStatus.IDLE
    with write_session(engine) as session:
        driver = session.connection().connection.driver_connection
        assert driver.pgconn.transaction_status == TransactionStatus.IDLE
        session.execute(text("INSERT INTO transaction_probe VALUES (1)"))
        assert driver.pgconn.transaction_status == TransactionStatus.INTRANS
    assert driver.pgconn.transaction_status == TransactionStatus.IDLE


def test_a_write_that_ends_well_is_committed(engine):
    with write_session(engine) as session:
        session.execute(text("INSERT INTO transaction_probe VALUES (1)"))
    with read_session(engine) as session:
        assert session.execute(text("SELECT count(*) FROM transaction_probe")).scalar() == 1


def test_a_read_runs_each_statement_on_its_own(engine):
    with read_session(engine) as session:
        for _ in range(2):
            began, now = _timestamps(session)
            assert began == now  # autocommit: the statement is its own transaction
            time.sleep(0.01)


def test_a_snapshot_reads_as_of_one_moment_and_writes_nothing(engine):
    with snapshot_session(engine) as session:
        assert session.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
        assert session.execute(text("SHOW transaction_read_only")).scalar() == "on"
        before = session.execute(text("SELECT count(*) FROM transaction_probe")).scalar()
        with write_session(engine) as writer:
            writer.execute(text("INSERT INTO transaction_probe VALUES (1)"))
        after = session.execute(text("SELECT count(*) FROM transaction_probe")).scalar()
    assert before == after == 0
