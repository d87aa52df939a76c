"""Queue email in the caller's transaction; send it by SMTP from a background thread after commit.

A message is written as an outbox row, so it exists exactly when the change that asked for it
does, and a request never waits for (nor reveals anything by the timing of) an SMTP server.
The `Mailer` wakes after each commit that queued mail, and every ``mail_retry_seconds``
anyway, and sends what is due; a failed message is tried again later with a growing pause.
Each message is claimed before it is sent, so several API processes send it once.
"""

import logging
import smtplib
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, select

from clearhouse.db import after_commit, utcnow, write_session
from clearhouse.mail.models import OutboxEmail
from clearhouse.settings import Settings

log = logging.getLogger(__name__)

_CLAIM = timedelta(minutes=5)  # longer than any SMTP conversation
_MAX_PAUSE = timedelta(hours=1)


class Mailer:
    """Sends the outbox by SMTP in a thread of its own; without SMTP settings it sends nothing."""

    def __init__(self, *, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if settings.smtp_host:
            self._thread = threading.Thread(target=self._run, name="mailer", daemon=True)
            self._thread.start()

    def queue(self, session: Session, *, to: str, subject: str, body: str) -> OutboxEmail:
        """Add a message to the outbox in ``session``'s transaction; it goes after the commit."""
        message = OutboxEmail(recipient=to, subject=subject, body=body)
        session.add(message)
        if self._thread is not None:
            after_commit(session, self._due.set)
        return message

    def close(self) -> None:
        self._stop.set()
        self._due.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._due.wait(timeout=self._settings.mail_retry_seconds)
            self._due.clear()
            if self._stop.is_set():
                return
            try:
                deliver_due(self._engine, settings=self._settings)
            except Exception:  # the database may be briefly away; the next round tries again
                log.exception("delivering the outbox failed")


def deliver_due(engine: Engine, *, settings: Settings) -> int:
    """Send every message that is due and not held by another process; how many went."""
    with Session(engine, expire_on_commit=False) as session:
        due = session.exec(
            select(OutboxEmail.id).where(
                OutboxEmail.sent_at.is_(None), OutboxEmail.next_attempt_at <= utcnow()
            )
        ).all()
    return sum(_deliver(engine, message_id=message_id, settings=settings) for message_id in due)


def _deliver(engine: Engine, *, message_id, settings: Settings) -> bool:
    now = utcnow()
    with write_session(engine) as session:
        claimed = session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == message_id,
                OutboxEmail.sent_at.is_(None),
                or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until < now),
            )
            .values(claimed_until=now + _CLAIM, attempts=OutboxEmail.attempts + 1)
        ).rowcount
        message = session.get(OutboxEmail, message_id) if claimed else None
    if message is None:
        return False
    try:
        _send(message, settings=settings)
    except (OSError, smtplib.SMTPException) as exc:
        with write_session(engine) as session:
            session.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == message_id)
                .values(
                    claimed_until=None,
                    next_attempt_at=_next_attempt(message.attempts, now=utcnow()),
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                )
            )
        return False
    with write_session(engine) as session:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == message_id)
            .values(sent_at=utcnow(), claimed_until=None, body="", last_error=None)
        )
    return True


def _next_attempt(attempts: int, *, now: datetime) -> datetime:
    return now + min(timedelta(seconds=30 * 2 ** min(attempts, 10)), _MAX_PAUSE)


def _send(message: OutboxEmail, *, settings: Settings) -> None:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(email)


def take_outbox(session: Session, *, recipient: str | None = None) -> list[OutboxEmail]:
    """For the embedded default (no SMTP): the waiting messages, marked delivered and erased.

    The operator hands them on; a message read here is not kept, since it may carry a link.
    """
    query = select(OutboxEmail).where(OutboxEmail.sent_at.is_(None))
    if recipient is not None:
        query = query.where(OutboxEmail.recipient == recipient.lower())
    messages = list(session.exec(query.order_by(OutboxEmail.created_at)).all())
    taken = [OutboxEmail.model_validate(message.model_dump()) for message in messages]
    for message in messages:
        message.sent_at = utcnow()
        message.body = ""
        session.add(message)
    return taken
