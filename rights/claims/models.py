"""Tables of claims: one claim per character or style, its evidence, and its document."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, LargeBinary
from sqlmodel import Column, Field, SQLModel, Text

from clearhouse.db import UTCDateTime, enum_column, new_id


class ClaimStatus(StrEnum):
    pending = "pending"  # evidence submitted, waiting for staff
    verified = "verified"  # staff verified it: the asset earns (final)
    rejected = "rejected"  # staff rejected it: held shares went back; new evidence reopens it


class EvidenceKind(StrEnum):
    trademark_registration = "trademark_registration"  # a registration number
    copyright_registration = "copyright_registration"  # a registration number
    link = "link"  # an https:// address where the right can be checked
    document = "document"  # an uploaded PDF, PNG or JPEG (a contract, a certificate)


class ClaimDocument(SQLModel, table=True):
    """An uploaded evidence document, kept in the database beside its claim: it commits or
    rolls back with the claim, every API process reads it, and only its owner and staff can.
    Its bytes are read only when someone opens it, never by a listing."""

    __tablename__ = "claim_document"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    content_type: str = Field(
        max_length=40, description="application/pdf, image/png or image/jpeg."
    )
    byte_size: int
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class AssetClaim(SQLModel, table=True):
    """The holder's claim to one character or style: the latest evidence and its decision
    (earlier evidence and every decision are in the audit log). A likeness has none: its
    enrolment's liveness check verified the person."""

    __tablename__ = "asset_claim"
    __table_args__ = (Index("ix_asset_claim_status_submitted", "status", "submitted_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", unique=True, ondelete="RESTRICT")
    owner_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    status: ClaimStatus = Field(sa_column=enum_column(ClaimStatus))
    evidence_kind: EvidenceKind = Field(sa_column=enum_column(EvidenceKind))
    reference: str | None = Field(
        default=None, max_length=500, description="A registration number or an https:// link."
    )
    statement: str = Field(
        sa_column=Column(Text, nullable=False),
        description="The holder's own words: what right they hold and how.",
    )
    document_id: uuid.UUID | None = Field(
        default=None, foreign_key="claim_document.id", ondelete="RESTRICT"
    )
    submitted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    decided_by: uuid.UUID | None = Field(
        default=None, foreign_key="account.id", ondelete="RESTRICT"
    )
    decision_reason: str | None = Field(default=None, max_length=1000)
