"""`after_commit` (clearhouse/db.py): what mirrors the database in memory (the face index, the
change channels, the notice worker's wake-up) changes once its rows are committed, and never
for rows rolled back."""

import pytest
from sqlmodel import Session

from clearhouse.db import after_commit, write_session


def test_an_action_runs_once_its_transaction_commits_and_only_then(engine):
    ran = []
    with write_session(engine) as session:
        session.connection()
        after_commit(session, lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]
    with write_session(engine) as session:
        session.connection()
    assert ran == ["committed"]


def test_an_action_never_runs_for_a_transaction_rolled_back(engine):
    ran = []
    with pytest.raises(RuntimeError), write_session(engine) as session:
        session.connection()
        after_commit(session, lambda: ran.append("raised"))
        raise RuntimeError
    with Session(engine) as session:
        session.connection()
        after_commit(session, lambda: ran.append("rolled back"))
        session.rollback()
        session.connection()  # the same session's next transaction
        session.commit()
    assert ran == []
