"""Telling an account something: :func:`notify`, called in the event's own transaction, writes
the notice and one webhook delivery per endpoint of that account that takes its kind; the
inbox's reads and marks.
"""

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, update
from sqlmodel import Session, col, select

from clearhouse.db import after_commit, new_id, utcnow
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from notifications.kinds import NoticeKind
from notifications.models import (
    DeliveryState,
    DigestFrequency,
    Notice,
    NoticePreference,
    WebhookDelivery,
    WebhookEndpoint,
)

notices_written = threading.Event()
"""Set after a commit that wrote a notice: the notice worker of this process looks at once."""


@dataclass(frozen=True)
class NoticeDraft:
    """One notice to write: to whom, what kind, about which ids, and the facts it tells."""

    account_id: uuid.UUID
    kind: NoticeKind
    subject_ids: Sequence[uuid.UUID | str] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)


def notify(
    session: Session,
    account_id: uuid.UUID,
    kind: NoticeKind,
    subject_ids: Sequence[uuid.UUID | str] = (),
    facts: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Notice:
    """Tell ``account_id`` about an event, in ``session``'s transaction (the event's own).

    ``facts`` must hold only what that account may know, as JSON values: they are shown in
    the inbox and the digest and sent as the webhook's ``data``."""
    return notify_all(session, [NoticeDraft(account_id, kind, subject_ids, facts or {})], now=now)[
        0
    ]


def notify_all(
    session: Session, drafts: Iterable[NoticeDraft], *, now: datetime | None = None
) -> list[Notice]:
    """:func:`notify` for several notices with one read of the recipients' endpoints."""
    rows = notice_rows(session, drafts, now=now or utcnow())
    if rows.notices:
        write_notices(session, rows)
    return rows.models()


@dataclass(frozen=True)
class NoticeRows:
    """Notices and their webhook deliveries, as rows to insert: made by :func:`notice_rows`,
    written by :func:`write_notices` (which a caller may queue with its own inserts)."""

    notices: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]

    def models(self) -> list[Notice]:
        """The notices, as their table model for reading: built without validation (the
        values are ours) and attached to no session."""
        return [Notice.model_construct(**row) for row in self.notices]


def notice_rows(session: Session, drafts: Iterable[NoticeDraft], *, now: datetime) -> NoticeRows:
    """The rows of ``drafts``' notices and of a delivery for each endpoint of its account
    that takes its kind (one query, none without notices)."""
    notices = [
        {
            "id": new_id(),
            "account_id": draft.account_id,
            "kind": draft.kind.value,
            "subject_ids": [str(subject) for subject in draft.subject_ids],
            "facts": dict(draft.facts),
            "created_at": now,
            "read_at": None,
            "emailed_at": None,
        }
        for draft in drafts
    ]
    if not notices:
        return NoticeRows(notices=[], deliveries=[])
    # What the session still holds goes first, as its autoflush would have sent it: a notice
    # to an account made in this very transaction.
    session.flush()
    endpoints = session.connection().execute(
        _ENABLED_ENDPOINTS, {"account_ids": list({row["account_id"] for row in notices})}
    )
    return NoticeRows(
        notices=notices,
        deliveries=[
            delivery_row(notice, endpoint_id=endpoint_id, now=now)
            for endpoint_id, account_id, kinds in endpoints
            for notice in notices
            if account_id == notice["account_id"] and (not kinds or notice["kind"] in kinds)
        ],
    )


def write_notices(session: Session, rows: NoticeRows) -> None:
    """Insert ``rows`` (Core statements on the session's connection: no ORM instances or unit
    of work, which cost more than the inserts), and wake this process's notice worker once
    they commit."""
    connection = session.connection()
    connection.execute(_INSERT_NOTICES, rows.notices)
    if rows.deliveries:
        connection.execute(_INSERT_DELIVERIES, rows.deliveries)
    after_commit(session, notices_written.set)


# Built once: building a statement and its cache key costs more than running it.
_ENABLED_ENDPOINTS = select(
    WebhookEndpoint.id, WebhookEndpoint.account_id, WebhookEndpoint.kinds
).where(
    col(WebhookEndpoint.account_id).in_(bindparam("account_ids", expanding=True)),
    WebhookEndpoint.enabled,
)
_INSERT_NOTICES = insert(Notice.__table__)
_INSERT_DELIVERIES = insert(WebhookDelivery.__table__)


def delivery_row(
    notice: Mapping[str, Any], *, endpoint_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    """The webhook message of ``notice`` for an endpoint: the body every attempt sends."""
    return {
        "id": new_id(),
        "endpoint_id": endpoint_id,
        "notice_id": notice["id"],
        "message_id": f"msg_{new_id().hex}",
        "kind": notice["kind"],
        "payload": {
            "type": notice["kind"],
            "timestamp": notice["created_at"].isoformat(),
            "data": {
                "notice_id": str(notice["id"]),
                "subject_ids": notice["subject_ids"],
                **notice["facts"],
            },
        },
        "state": DeliveryState.pending,
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_until": None,
        "last_status_code": None,
        "last_error": None,
        "last_attempt_at": None,
        "delivered_at": None,
        "created_at": now,
    }


def list_notices(
    session: Session, *, account_id: uuid.UUID, unread_only: bool, params: PageParams
) -> tuple[list[Notice], int]:
    """The account's own notices, newest first."""
    query = select(Notice).where(Notice.account_id == account_id)
    if unread_only:
        query = query.where(col(Notice.read_at).is_(None))
    return paginate(
        session, query.order_by(col(Notice.created_at).desc(), col(Notice.id).desc()), params
    )


def unread_count(session: Session, *, account_id: uuid.UUID) -> int:
    return session.exec(
        select(func.count()).where(Notice.account_id == account_id, col(Notice.read_at).is_(None))
    ).one()


def mark_read(session: Session, *, account_id: uuid.UUID, notice_id: uuid.UUID) -> Notice:
    """Mark one of the account's notices read (another's is not found)."""
    notice = session.exec(
        select(Notice).where(Notice.id == notice_id, Notice.account_id == account_id)
    ).first()
    if notice is None:
        raise NotFound("You have no notice with this id.")
    if notice.read_at is None:
        notice.read_at = utcnow()
        session.add(notice)
    return notice


def mark_all_read(session: Session, *, account_id: uuid.UUID) -> int:
    """Mark every unread notice of the account read; how many were."""
    return session.execute(
        update(Notice)
        .where(Notice.account_id == account_id, col(Notice.read_at).is_(None))
        .values(read_at=utcnow())
    ).rowcount


def preference_of(session: Session, *, account_id: uuid.UUID) -> NoticePreference:
    return session.get(NoticePreference, account_id) or NoticePreference(account_id=account_id)


def choose_digest(
    session: Session, *, account_id: uuid.UUID, email_digest: DigestFrequency
) -> NoticePreference:
    preference = preference_of(session, account_id=account_id)
    preference.email_digest = email_digest
    session.add(preference)
    return preference


def forget_account(session: Session, *, account_id: uuid.UUID) -> None:
    """Erase what notifications keep of an account its owner deleted: its notices, its email
    preference, its webhook endpoints and their deliveries (nothing is sent to it again)."""
    endpoint_ids = select(WebhookEndpoint.id).where(WebhookEndpoint.account_id == account_id)
    notice_ids = select(Notice.id).where(Notice.account_id == account_id)
    session.exec(
        delete(WebhookDelivery).where(
            col(WebhookDelivery.endpoint_id).in_(endpoint_ids)
            | col(WebhookDelivery.notice_id).in_(notice_ids)
        )
    )
    for table in (WebhookEndpoint, Notice, NoticePreference):
        session.exec(delete(table).where(table.account_id == account_id))
