"""Telling an account something as an event would: one notice, committed."""

from sqlmodel import Session

from notifications.kinds import NoticeKind
from notifications.models import Notice
from notifications.service import notify


def tell(engine, account_id, kind: NoticeKind, **facts) -> Notice:
    """A notice of ``kind`` with ``facts`` to ``account_id``, written and committed."""
    with Session(engine, expire_on_commit=False) as session:
        notice = notify(session, account_id, kind, [], facts)
        session.commit()
    return notice
