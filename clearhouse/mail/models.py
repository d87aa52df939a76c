"""The outbox: every email is a row first, written in the transaction that decided to send it."""

import uuid
from datetime import datetime

from sqlmodel import Column, Field, SQLModel, Text

from clearhouse.db import UTCDateTime, new_id, utcnow


class OutboxEmail(SQLModel, table=True):
    """One message. With SMTP configured it is sent after its transaction commits and retried
    until it goes; then its body is erased (it may carry a sign-in link). Without SMTP the
    outbox is the mailbox: an operator reads it with `clearhouse mail outbox`."""

    __tablename__ = "outbox_email"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    recipient: str = Field(max_length=320, index=True)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    attempts: int = Field(default=0, description="SMTP deliveries tried.")
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
    claimed_until: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="A process sending it holds it until then, so two never send it at once.",
    )
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
