"""The database engine, the request-scoped session and the column types every package shares."""

import secrets
import select
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fastapi import Request
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from clearhouse.errors import DatabaseBusy, raises


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def time_ordered_id() -> uuid.UUID:
    """A UUID of version 7 (RFC 9562): the Unix time in milliseconds, then 74 random bits.
    Rows keyed by it go in at the end of their indexes instead of anywhere in them, for
    tables written far more than read (journal entries: batches of 100 usages cost
    PostgreSQL ~10 us less an entry, 100-110 against 113-120, four alternated rounds)."""
    random_bits = secrets.randbits(74)
    return uuid.UUID(
        int=(time.time_ns() // 1_000_000) << 80
        | 0x7 << 76  # the version
        | (random_bits >> 62) << 64
        | 0b10 << 62  # the variant
        | random_bits & ((1 << 62) - 1)
    )


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum: type[StrEnum], **kwargs: Any) -> Column:
    """A string column holding an enum's values, with a CHECK on every backend.

    Not a native PostgreSQL enum: adding a value later is then a plain migration.
    """
    kwargs.setdefault("nullable", False)
    sa_enum = SAEnum(
        enum,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        name=enum.__name__.lower(),
    )
    return Column(sa_enum, **kwargs)


# JSON documents: JSONB on PostgreSQL (indexable), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


POOL_SIZE = 40
SQLITE_BUSY_TIMEOUT_S = 30
# Set on the engine a write transaction runs on (see ``writer``), on the one reads run on
# (``request_reads``) and on the one a snapshot is read from (``snapshot_session``).
WRITES = "clearhouse_writes"
READS = "clearhouse_reads"
SNAPSHOT = "clearhouse_snapshot"


def build_engine(url: str) -> Engine:
    """An engine tuned per backend; called from the app's lifespan and the CLI, never at import.

    Its transactions only read unless it is the ``writer`` of itself: on SQLite a read
    transaction is a deferred one in WAL mode, which never waits for the write lock and never
    holds it, so no reader, however slow, delays a writer (a revocation above all).
    """
    # Enough pooled connections for every thread that may hold one (anyio's pool has 40), so
    # that none is opened and closed per request under load: opening one costs a SQLite
    # connection its PRAGMAs and a PostgreSQL one a round of authentication.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            pool_size=POOL_SIZE,
            max_overflow=0,
            pool_timeout=30,
        )
        _tune_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # Every connection stays in autocommit and transactions are begun as we choose (below):
    # no connection's isolation level is switched at checkout and back at checkin, two
    # changes that cost a plain read a tenth of its CPU.
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=0, isolation_level="AUTOCOMMIT")
    _begin_postgresql_transactions(engine)
    _discard_hung_up_connections(engine)
    return engine


def _begin_postgresql_transactions(engine: Engine) -> None:
    """READ COMMITTED transactions, but for reads (``request_reads``) and whoever asks for
    autocommit by name, which run each statement on its own, and snapshots
    (``snapshot_session``), which read as of one moment. psycopg commits and rolls back
    whatever transaction is open, autocommit or not.

    A READ COMMITTED transaction's BEGIN waits for its first statement: sent just before it
    (on the driver connection, since the statement's cursor may be a server-side one), or
    queued in one pipeline with it by whoever takes it with :func:`take_pending_begin` (the
    ledger: a round trip saved per posting). One that runs no statement sends nothing, and
    psycopg sends no COMMIT or ROLLBACK where no transaction is open. Whoever sends statements
    to the driver connection itself must take the pending BEGIN first."""

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        connection.info.pop(_BEGIN_PENDING, None)
        if options.get(SNAPSHOT):
            connection.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        elif not options.get(READS) and options.get("isolation_level") != "AUTOCOMMIT":
            connection.info[_BEGIN_PENDING] = True

    @event.listens_for(engine, "before_cursor_execute")
    def on_statement(connection: Any, cursor: Any, *_statement: Any) -> None:
        if connection.info.pop(_BEGIN_PENDING, False):
            cursor.connection.execute("BEGIN")  # not the cursor: it may be a server-side one

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def on_end(connection: Any) -> None:
        connection.info.pop(_BEGIN_PENDING, None)


_BEGIN_PENDING = "clearhouse_begin_pending"


def take_pending_begin(connection: Connection) -> bool:
    """Whether ``connection``'s transaction still waits for its BEGIN (PostgreSQL); if so, the
    caller, who is about to send statements to the driver connection itself, sends it first
    (``BEGIN`` queued in the same pipeline costs no round trip of its own)."""
    return bool(connection.info.pop(_BEGIN_PENDING, False))


@contextmanager
def queued_writes(connection: Connection) -> Iterator[None]:
    """Run the block's statements on PostgreSQL in one psycopg pipeline: sent together at its
    end, one round trip for all of them. Only statements whose rows nobody reads (inserts,
    updates without RETURNING): SQLAlchemy reads a statement's rows as it runs it, before the
    pipeline has them. An error is raised at the end of the block, as psycopg's own, and the
    transaction is to be rolled back. Elsewhere the statements run one by one, as written."""
    if connection.dialect.name != "postgresql":
        yield
        return
    with connection.connection.driver_connection.pipeline():
        yield


def _discard_hung_up_connections(engine: Engine) -> None:
    """Hand out no pooled connection that the server has closed (a restart, an operator's
    ``pg_terminate_backend``): the pool replaces it with a new one, and the request that
    would have met the dead connection goes on unharmed.

    The server's last words on closing (an error message, then the end of the stream) wait
    in the socket, while a live idle connection has nothing to read: one ``poll`` at checkout
    tells them apart, where ``pool_pre_ping`` costs a round trip to the server on every
    checkout (about a sixth of a PostgreSQL read's CPU, the server's included).
    """

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed:
            raise DisconnectionError("the connection is closed")
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        if poller.poll(0):
            raise DisconnectionError("the server has closed the connection")


def writer(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that write.

    SQLite opens them ``BEGIN IMMEDIATE``: one writer at a time, decided when the transaction
    starts (a deferred transaction that read first and writes later fails with SQLITE_BUSY
    instead of waiting), and the writers of one process take turns (``_tune_sqlite``). Keep
    them short: no media decoding or model inference inside.
    """
    return _with_option(engine, WRITES)


def _tune_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and transactions begun as we choose.

    The writers of this process wait for their turn on a lock, which each hands to the next
    as its connection goes back to the pool, so only writers of other processes ever meet
    SQLite's own wait for the write lock (the busy timeout). That wait sleeps and polls (1, 2,
    5, 10 ... 100 ms): a writer slept on while the lock was free and a newcomer took it first.
    Four threads clearing on the busy 2-core machine had a p99 write of 220-370 ms with it,
    65-90 ms taking turns; a revocation queues with the clearances, not behind them.
    """
    turn = threading.Lock()

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so we choose how they begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(WRITES, False):
            connection.exec_driver_sql("BEGIN")
            return
        # A connection keeps its turn until it goes back to the pool: a second transaction on
        # it (a route that commits, then writes again) does not queue behind itself.
        if not connection.info.get(_HOLDS_TURN):
            if not turn.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
                raise OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                )
            connection.info[_HOLDS_TURN] = True
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # Also when the connection was invalidated, or the transaction rolled back.
        if record.info.pop(_HOLDS_TURN, False):
            turn.release()


_HOLDS_TURN = "clearhouse_holds_write_turn"


def request_reads(engine: Engine) -> Engine:
    """The engine's pool, for the reads of one request (every GET, and each caller's lookup).

    On PostgreSQL they run in autocommit: each statement is its own snapshot, as it is in a
    READ COMMITTED transaction anyway, and no BEGIN and ROLLBACK go to the server — half the
    round trips of an authenticated GET — so ending them does no I/O either. Whatever must
    read one snapshot across statements takes a :func:`snapshot_session`.
    """
    return _with_option(engine, READS)


def _with_option(engine: Engine, option: str) -> Engine:
    """``engine`` with the execution option ``option`` on, made once per engine and kept on it.

    A clearance opens a request's reads and a write: an option engine made anew for each cost
    15-20 us more a session (its making, and its first events joined to the engine's) than one
    made once. It shares the engine's pool and listeners (SQLAlchemy proxies both), so it
    sees a disposed pool replaced and a listener added later.
    """
    variants = engine.__dict__.setdefault("_clearhouse_option_engines", {})
    variant = variants.get(option)
    if variant is None:  # two threads may both make one: either serves
        variant = variants[option] = engine.execution_options(**{option: True})
    return variant


@contextmanager
def snapshot_session(engine: Engine) -> Iterator[Session]:
    """A read-only session whose statements all see one snapshot of the database.

    PostgreSQL: a REPEATABLE READ transaction. SQLite: a deferred transaction in WAL mode
    sees the database as of its first read until it ends.
    """
    with Session(engine.execution_options(**{SNAPSHOT: True}), expire_on_commit=False) as session:
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session that only reads: it takes no write lock and commits nothing."""
    with Session(request_reads(engine), expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    with Session(writer(engine), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# The request-scoped sessions are async generators: making a Session does no I/O, so only
# ending it goes to the thread pool (one hand-off per request instead of two).


@raises(DatabaseBusy)
async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A request that only reads (every GET): no lock, nothing to commit."""
    session = Session(request.app.state.read_engine, expire_on_commit=False)
    try:
        yield session
    finally:
        # No I/O, so no hand-off to the thread pool: a PostgreSQL read in autocommit has no
        # transaction to end, and ending a SQLite read transaction only drops its snapshot.
        session.close()


@raises(DatabaseBusy)
async def get_session(request: Request) -> AsyncIterator[Session]:
    """One request, one write transaction: committed when the route returns, rolled back if
    it raises."""
    session = Session(writer(request.app.state.engine), expire_on_commit=False)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_rollback_and_close, session)
        raise
    await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


def commit_now(session: Session) -> datetime:
    """Commit inside a route and return the time the commit was confirmed.

    Only for routes that must state when their change took effect (revocations); the
    session dependency's own commit afterwards has nothing left to do.
    """
    session.commit()
    return utcnow()


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once this session's transaction commits (never if it rolls back).

    For in-memory state that mirrors the database, such as the face index: it must change
    only when the rows it mirrors did. Kept in the session's ``info`` for the listeners below,
    which every session shares: listening on the session itself cost a transaction 35-40 us
    (a timing loop of SQLite write sessions), a tenth of a clearance's database work.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


_AFTER_COMMIT = "clearhouse_after_commit"


@event.listens_for(OrmSession, "after_commit")
def _run_after_commit(session: OrmSession) -> None:
    for action in session.info.pop(_AFTER_COMMIT, ()):
        action()


@event.listens_for(OrmSession, "after_rollback")
def _forget_after_commit(session: OrmSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)
