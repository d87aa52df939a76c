"""Email digests: each account's notices not yet emailed, in one message through the mail
outbox, as often as the account chose (none, daily, immediate; daily by default), and only to
a verified address."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.db import utcnow, write_session
from clearhouse.mail.outbox import Mailer
from clearhouse.settings import Settings
from notifications.models import DigestFrequency, Notice, NoticePreference
from notifications.schemas import describe, summary_of

LISTED = 50  # notices written out in one email; the rest are counted, and wait in the inbox
_DAY = timedelta(days=1)


def send_digests(
    engine: Engine, *, mailer: Mailer, settings: Settings, now: datetime | None = None
) -> int:
    """Queue a digest for every account that is due one; how many were queued."""
    now = now or utcnow()
    with Session(engine) as session:
        waiting = session.exec(
            select(Notice.account_id).where(col(Notice.emailed_at).is_(None)).distinct()
        ).all()
    return sum(
        _send_digest(engine, account_id=account_id, mailer=mailer, settings=settings, now=now)
        for account_id in waiting
    )


def _send_digest(
    engine: Engine, *, account_id: uuid.UUID, mailer: Mailer, settings: Settings, now: datetime
) -> bool:
    with write_session(engine) as session:
        account = session.get(Account, account_id)
        preference = session.get(NoticePreference, account_id, with_for_update=True)
        preference = preference or NoticePreference(account_id=account_id)
        # An address nobody verified may be someone else's (anyone can sign up with it): its
        # notices wait in the inbox, and go in the first digest after it is verified.
        if (
            not _due(preference, now=now)
            or account.deleted_at is not None
            or account.email_verified_at is None
        ):
            return False
        notices = session.exec(
            select(Notice)
            .where(Notice.account_id == account_id, col(Notice.emailed_at).is_(None))
            .order_by(Notice.created_at, Notice.id)
            .with_for_update()
        ).all()
        if not notices:
            return False
        mailer.queue(
            session,
            to=account.email,
            subject=f"Clearhouse: {len(notices)} new notice{'s' if len(notices) > 1 else ''}",
            body=digest_body(account=account, notices=notices, settings=settings),
        )
        session.execute(
            update(Notice)
            .where(col(Notice.id).in_([notice.id for notice in notices]))
            .values(emailed_at=now)
        )
        preference.last_digest_at = now
        session.add(preference)
    return True


def _due(preference: NoticePreference, *, now: datetime) -> bool:
    if preference.email_digest == DigestFrequency.none:
        return False
    if preference.email_digest == DigestFrequency.immediate:
        return True
    return preference.last_digest_at is None or preference.last_digest_at <= now - _DAY


def digest_body(*, account: Account, notices: list[Notice], settings: Settings) -> str:
    lines = [
        f"Hello {account.display_name},",
        "",
        "Here is what happened since the last email:",
        "",
    ]
    for notice in notices[:LISTED]:
        lines.append(f"- {notice.created_at:%Y-%m-%d %H:%M} UTC: {summary_of(notice.kind)}")
        if notice.facts:
            lines.append(f"  {describe(notice.facts)}")
    if len(notices) > LISTED:
        lines.append(f"... and {len(notices) - LISTED} more.")
    base = settings.public_url.rstrip("/")
    lines += [
        "",
        f"Read them all in your inbox: {base}/notices",
        f"Choose how often you get this email: {base}/notices/preferences",
        "",
    ]
    return "\n".join(lines)
