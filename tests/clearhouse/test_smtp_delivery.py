"""With SMTP configured, mail goes out after the commit, is retried from the outbox until it
goes, and is erased from the outbox once sent. A real SMTP server (aiosmtpd) receives it."""

import email
import socket
import threading
import time
from collections.abc import Iterator
from mailbox import verification_link

import pytest
from aiosmtpd.controller import Controller
from factories import PASSWORD
from fastapi.testclient import TestClient
from sqlalchemy import text

from clearhouse.app import create_app
from clearhouse.db import utcnow
from clearhouse.mail.outbox import deliver_due


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.arrived:
            self.messages.append(email.message_from_bytes(envelope.content))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int) -> list[email.message.Message]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=60)
        return self.messages


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def smtp_client(settings, smtp_port) -> Iterator[TestClient]:
    smtp_settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False}
    )
    with TestClient(create_app(smtp_settings)) as client:
        yield client


def _sign_up(client, address: str):
    response = client.post(
        "/v1/accounts",
        json={
            "email": address,
            "password": PASSWORD,
            "display_name": "Mailed",
            "date_of_birth": "1990-01-01",
        },
    )
    assert response.status_code == 202, response.text


def _outbox(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT recipient, body, attempts, last_error, sent_at FROM outbox_email")
        )
        return [dict(row._mapping) for row in rows]


def test_the_link_arrives_by_smtp_and_leaves_no_copy_behind(smtp_client, smtp_port):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        _sign_up(smtp_client, "mailed@example.org")
        (message,) = inbox.wait_for(1)
    finally:
        controller.stop()
    assert message["To"] == "mailed@example.org"
    assert message["Subject"] == "Verify your email address for Clearhouse"
    link = verification_link(message.get_payload(decode=True).decode())
    assert link is not None

    engine = smtp_client.app.state.engine
    (row,) = _wait_until_sent(engine)
    assert row["body"] == ""  # the link is nowhere but in the recipient's mailbox
    assert smtp_client.get(link).status_code == 200


def test_mail_that_cannot_be_sent_stays_in_the_outbox_and_goes_later(
    smtp_client, smtp_port, settings
):
    engine = smtp_client.app.state.engine
    _sign_up(smtp_client, "later@example.org")  # no SMTP server listens yet
    failed = _wait_for(lambda: [r for r in _outbox(engine) if r["last_error"]])
    assert failed[0]["sent_at"] is None and failed[0]["attempts"] == 1
    assert "later@example.org" in failed[0]["recipient"]

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with engine.begin() as connection:  # its pause before the next attempt is over
            connection.execute(
                text("UPDATE outbox_email SET next_attempt_at = :now"), {"now": utcnow()}
            )
        smtp_settings = smtp_client.app.state.settings
        deliver_due(engine, settings=smtp_settings)  # what the mailer's next round runs
        (message,) = inbox.wait_for(1)
    finally:
        controller.stop()
    assert message["To"] == "later@example.org"
    (row,) = _outbox(engine)
    assert row["sent_at"] is not None and row["attempts"] == 2


def _wait_until_sent(engine):
    return _wait_for(lambda: [r for r in _outbox(engine) if r["sent_at"] is not None])


def _wait_for(found):
    """Poll the database until ``found()`` is non-empty (the mailer runs in its own thread)."""
    deadline = time.monotonic() + 60
    while not (result := found()):
        assert time.monotonic() < deadline, "the mailer did not get there"
        time.sleep(0.05)
    return result
