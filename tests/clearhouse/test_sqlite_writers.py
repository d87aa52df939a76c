"""The write transactions of one process take turns on SQLite, and every way a transaction
ends gives its turn back: committed, rolled back by an error, or committed and written again
on the same connection."""

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from clearhouse import db
from clearhouse.db import build_engine, write_session, writer


@pytest.fixture
def engine(tmp_path, monkeypatch):
    # A turn that is never given back then fails the next writer in seconds, not thirty.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 5)
    engine = build_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def _notes(engine) -> list[str]:
    with engine.connect() as connection:
        return [row.body for row in connection.execute(text("SELECT body FROM note ORDER BY 1"))]


def _note(session, body: str) -> None:
    session.execute(text("INSERT INTO note (body) VALUES (:body)"), {"body": body})


def test_a_writer_that_failed_leaves_the_next_one_its_turn(engine):
    with pytest.raises(ZeroDivisionError), write_session(engine) as session:
        _note(session, "lost")
        1 / 0  # noqa: B018 (an error inside the transaction)
    with write_session(engine) as session:
        _note(session, "kept")

    assert _notes(engine) == ["kept"]


def test_a_connection_that_commits_and_writes_again_does_not_wait_for_itself(engine):
    with writer(engine).connect() as connection:
        with connection.begin():
            connection.execute(text("INSERT INTO note (body) VALUES ('first')"))
        with connection.begin():
            connection.execute(text("INSERT INTO note (body) VALUES ('second')"))

    assert _notes(engine) == ["first", "second"]


def test_a_second_writer_waits_for_the_first_to_commit_and_then_sees_its_write(engine):
    first_writing, first_may_commit = threading.Event(), threading.Event()
    seen_by_second: list[list[str]] = []
    errors: list[BaseException] = []

    def first() -> None:
        with write_session(engine) as session:
            _note(session, "first")
            first_writing.set()
            first_may_commit.wait(timeout=30)

    def second() -> None:
        try:
            with write_session(engine) as session:
                rows = session.execute(text("SELECT body FROM note")).scalars().all()
                seen_by_second.append(list(rows))
                _note(session, "second")
        except OperationalError as exc:  # waited a whole busy timeout
            errors.append(exc)

    writers = [threading.Thread(target=first), threading.Thread(target=second)]
    writers[0].start()
    first_writing.wait(timeout=30)
    writers[1].start()
    first_may_commit.set()
    for thread in writers:
        thread.join(timeout=60)

    assert errors == []
    assert seen_by_second == [["first"]]
    assert _notes(engine) == ["first", "second"]


def test_a_writer_holding_its_turn_too_long_fails_the_next_one_as_sqlite_would(engine, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 1)
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with write_session(engine) as session:
            _note(session, "slow")
            holding.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(timeout=30)
    try:
        with (
            pytest.raises(OperationalError, match="database is locked"),
            write_session(engine) as session,
        ):
            _note(session, "impatient")
    finally:
        release.set()
        holder.join(timeout=60)

    assert _notes(engine) == ["slow"]
