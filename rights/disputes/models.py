"""Tables of disputes: the dispute, and its thread of messages."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Column, Field, SQLModel, Text

from clearhouse.db import UTCDateTime, enum_column, new_id


class DisputeKind(StrEnum):
    improper_registration = "improper_registration"  # the asset is not its holder's to register
    improper_use = "improper_use"  # it is licensed for what it may not be
    content_standards = "content_standards"  # it breaches the content standards


class DisputeStatus(StrEnum):
    open = "open"  # waiting for the holder's answer, until ``answer_due_at``
    answered = "answered"  # the holder answered: staff decide
    upheld = "upheld"  # staff agreed: the asset stops licensing and earning (final)
    dismissed = "dismissed"  # staff disagreed (final)


#: A dispute not yet decided: its asset's new uses' shares are held.
UNDECIDED = (DisputeStatus.open, DisputeStatus.answered)


class PartySide(StrEnum):
    """Who wrote a message of the thread (the parties see sides, not each other's accounts)."""

    opener = "opener"
    holder = "holder"
    staff = "staff"


class Dispute(SQLModel, table=True):
    """One account's dispute about one asset. Its evidence is the opener's statement and a
    link or a document (stored as claims' evidence documents are, rights/evidence.py)."""

    __table_args__ = (Index("ix_dispute_status_opened", "status", "opened_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="RESTRICT")
    opener_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    kind: DisputeKind = Field(sa_column=enum_column(DisputeKind))
    status: DisputeStatus = Field(sa_column=enum_column(DisputeStatus))
    statement: str = Field(
        sa_column=Column(Text, nullable=False), description="The opener's own words."
    )
    link: str | None = Field(
        default=None, max_length=500, description="An https:// address where it can be seen."
    )
    document_id: uuid.UUID | None = Field(
        default=None, foreign_key="claim_document.id", ondelete="RESTRICT"
    )
    opened_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    answer_due_at: datetime = Field(
        sa_column=Column(UTCDateTime, nullable=False),
        description="Until when the holder may answer; after it staff may decide unanswered.",
    )
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    answer_reminded_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="When the holder was reminded that the answer is due (rights/disputes/"
        "deadlines.py; once).",
    )
    overdue_told_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="When both parties were told the answer is overdue and staff may decide "
        "(once).",
    )
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    decided_by: uuid.UUID | None = Field(
        default=None, foreign_key="account.id", ondelete="RESTRICT"
    )
    decision_reason: str | None = Field(default=None, max_length=1000)


class DisputeMessage(SQLModel, table=True):
    """One message of a dispute's thread; the holder's answer is one too."""

    __tablename__ = "dispute_message"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    dispute_id: uuid.UUID = Field(foreign_key="dispute.id", index=True, ondelete="CASCADE")
    author_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    side: PartySide = Field(sa_column=enum_column(PartySide))
    body: str = Field(sa_column=Column(Text, nullable=False))
    is_answer: bool = Field(default=False, description="The holder's answer to the dispute.")
    written_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
