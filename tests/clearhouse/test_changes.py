"""The change channel (clearhouse.changes) with a real catalogue: what a process trusts, and
where the counter decides. On PostgreSQL a real LISTEN connection; on SQLite no channel, and
every use reads the counter."""

import time

from sqlalchemy import text
from sqlmodel import Session

from clearhouse.changes import (
    CHANNEL_PREFIX,
    REFERENCE_CATALOGUE,
    freshness_for,
    listener_name,
    start_listener,
)
from clearhouse.db import build_engine
from rights.references.catalogue import ReferenceCatalogue, advance_generation, current_generation


def _until(condition, *, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def _change(engine, *, told: bool) -> int:
    """Commit one change to the reference catalogue's counter as another process would: with
    its notification, or with none (a notification lost); the new count."""
    with Session(engine) as session:
        session.execute(
            text("UPDATE reference_catalogue_generation SET generation = generation + 1")
        )
        if told:
            session.execute(
                text("SELECT pg_notify(left(:prefix || current_schema(), 63), :topic)"),
                {"prefix": CHANNEL_PREFIX, "topic": REFERENCE_CATALOGUE},
            )
        count = current_generation(session)
        session.commit()
    return count


def _held(catalogue: ReferenceCatalogue, engine, **refresh) -> int:
    with Session(engine) as session:
        catalogue.refresh(session, **refresh)
    return catalogue.generation


def test_a_catalogue_trusts_the_channel_and_the_counter_decides_when_it_must(database_url):
    engine = build_engine(database_url)
    listener = start_listener(database_url)
    try:
        catalogue = ReferenceCatalogue.start(
            engine=engine, freshness=freshness_for(listener, REFERENCE_CATALOGUE)
        )
        if listener is None:  # SQLite: no channel, the counter at every use
            count = _change(engine, told=False)
            assert _held(catalogue, engine) == count
            return
        assert _until(lambda: listener.connected)
        held = _held(catalogue, engine)
        assert not catalogue.freshness.must_check()  # nothing heard: nothing read

        # Told: the listener marks the catalogue stale, the next use catches up.
        count = _change(engine, told=True)
        assert _until(catalogue.freshness.must_check)
        assert _held(catalogue, engine) == count > held

        # This process's own change is marked at its commit, before its notification returns.
        mark = catalogue.freshness.before_check()
        with Session(engine) as session:
            count = advance_generation(session)
            session.commit()
        assert catalogue.freshness.must_check()
        assert _until(lambda: catalogue.freshness.before_check() == mark + 2)  # and heard
        assert _held(catalogue, engine) == count

        # A change nobody was told of is not seen by a use that trusts the channel; a decision
        # (read_counter, as clearance does) reads the counter and sees it.
        count = _change(engine, told=False)
        assert _held(catalogue, engine) == count - 1
        assert _held(catalogue, engine, read_counter=True) == count

        # Lost while the connection breaks: the listener reconnects and every catalogue reads
        # its counter once before it trusts the channel again.
        count = _change(engine, told=False)
        with engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": listener_name()},
            )
        assert _until(lambda: listener.connections == 2 and listener.connected)
        assert _held(catalogue, engine) == count

        # Closed: every use reads the counter.
        listener.close()
        count = _change(engine, told=False)
        assert _held(catalogue, engine) == count
    finally:
        if listener is not None:
            listener.close()
        engine.dispose()
