"""Tables of clearance: each decision on a generation request, what it touched, approvals;
and what a released generation records: a licence per asset it used, and its charge.

A clearance is kept whatever its outcome: the requester reads their decision back, and each
owner reads every request that touched their assets (allowed, denied or waiting for them).
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Column, Field, SQLModel, Text

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow
from policies.decisions import AssetOutcome, ClearanceOutcome


class FoundIn(StrEnum):
    request = "request"  # the prompt or the input media, before generation
    output = "output"  # the generated frames, checked before release


class OutputVerdict(StrEnum):
    release_allowed = "release_allowed"
    release_blocked = "release_blocked"  # it shows a registered asset the clearance does not cover


class ApprovalStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    declined = "declined"


class Clearance(SQLModel, table=True):
    """One generation request and the decision on it."""

    __table_args__ = (Index("ix_clearance_requester_created", "requester_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    requester_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    outcome: ClearanceOutcome = Field(sa_column=enum_column(ClearanceOutcome))
    request_digest: str = Field(max_length=64, index=True, description="SHA-256, hex.")
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    declared_use: str = Field(max_length=32)
    parameters: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    input_media_sha256: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONDocument, nullable=False, server_default="[]"),
        description="The SHA-256 of each input file, in order: with the prompt and the "
        "parameters, what the request digest covers.",
    )
    content_categories: list[dict[str, Any]] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="What the request shows: each category declared by the requester or "
        "detected in the prompt, with what showed it (licensing.clearance.content_document).",
    )
    reasons: list[str] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="Why, in sentences a person can read (the denials first).",
    )
    quote: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDocument))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    token_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ClearedAsset(SQLModel, table=True):
    """One registered asset a clearance touched, the decision on it and what it relied on."""

    __tablename__ = "cleared_asset"
    __table_args__ = (Index("ix_cleared_asset_asset_created", "asset_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    clearance_id: uuid.UUID = Field(foreign_key="clearance.id", index=True, ondelete="CASCADE")
    asset_id: uuid.UUID = Field(foreign_key="asset.id", ondelete="RESTRICT")
    outcome: AssetOutcome = Field(sa_column=enum_column(AssetOutcome))
    found_in: FoundIn = Field(default=FoundIn.request, sa_column=enum_column(FoundIn))
    reasons: list[dict[str, str]] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="Each reason: a machine-readable code and a sentence.",
    )
    matched_by: list[dict[str, Any]] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="How the request touched the asset: kind, score, span or input.",
    )
    grant_id: uuid.UUID | None = Field(
        default=None, foreign_key="consent_grant.id", ondelete="RESTRICT"
    )
    policy_version_id: uuid.UUID | None = Field(
        default=None, foreign_key="policy_version.id", ondelete="RESTRICT"
    )
    fee_minor: int | None = Field(default=None, description="This asset's lines of the quote.")
    output_check_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="output_check.id",
        ondelete="CASCADE",
        description="The output check that found it, for an asset found in the output.",
    )
    disclosed: bool = Field(
        description="Whether the requester was told which asset this is (a likeness is named "
        "only to a requester its owner consented to)."
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class OutputCheck(SQLModel, table=True):
    """One check of a cleared request's generated output before its release: what was
    checked and the verdict. What it found that the clearance does not cover is recorded as
    :class:`ClearedAsset` rows (``found_in`` output), which their owners see."""

    __tablename__ = "output_check"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    clearance_id: uuid.UUID = Field(foreign_key="clearance.id", index=True, ondelete="CASCADE")
    verdict: OutputVerdict = Field(sa_column=enum_column(OutputVerdict))
    input_media_sha256: list[str] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="The SHA-256 of each file checked, in order.",
    )
    frames_checked: int
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class UseApproval(SQLModel, table=True):
    """An owner's answer to one request for one of their assets.

    Bound to the requester and the request's digest: an approval clears exactly that request
    when the requester sends it again, until it expires. A decline stands for the requester
    and the asset under the policy version the request was decided under (its cleared asset's),
    whatever they ask, until it expires (licensing/approvals.py).
    """

    __tablename__ = "use_approval"
    __table_args__ = (
        Index("ix_use_approval_owner_status", "owner_id", "status"),
        Index("ix_use_approval_request", "requester_id", "request_digest", "asset_id"),
        # A requester's declines of the assets a clearance touches.
        Index("ix_use_approval_requester_asset", "requester_id", "asset_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    cleared_asset_id: uuid.UUID = Field(
        foreign_key="cleared_asset.id", unique=True, ondelete="CASCADE"
    )
    asset_id: uuid.UUID = Field(foreign_key="asset.id", ondelete="RESTRICT")
    owner_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    requester_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    request_digest: str = Field(max_length=64)
    status: ApprovalStatus = Field(
        default=ApprovalStatus.pending, sa_column=enum_column(ApprovalStatus)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(
        sa_column=Column(UTCDateTime, nullable=False),
        description="Pending: the answer's deadline; approved or declined: until when the "
        "answer holds.",
    )
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class Licence(SQLModel, table=True):
    """The use of one asset by one release, our generator's (a generation) or a third-party
    generator's (its clearance's first output check that allowed release): under which grant
    and policy version, for which clearance, at what price. Recorded in the release's
    transaction, after the grant was read again still active."""

    __table_args__ = (
        UniqueConstraint("generation_id", "asset_id"),
        # A third-party release licenses each asset of its clearance once.
        Index(
            "uq_licence_third_party_clearance_asset",
            "clearance_id",
            "asset_id",
            unique=True,
            sqlite_where=text("generation_id IS NULL"),
            postgresql_where=text("generation_id IS NULL"),
        ),
        Index("ix_licence_asset_created", "asset_id", "created_at"),
        # A revocation finds the releases it takes down by their grant.
        Index("ix_licence_grant", "grant_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    generation_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="generation_job.id",
        ondelete="RESTRICT",
        description="Our generator's released generation; None for a third-party release.",
    )
    clearance_id: uuid.UUID = Field(foreign_key="clearance.id", ondelete="RESTRICT")
    asset_id: uuid.UUID = Field(foreign_key="asset.id", ondelete="RESTRICT")
    grant_id: uuid.UUID = Field(foreign_key="consent_grant.id", ondelete="RESTRICT")
    policy_version_id: uuid.UUID = Field(foreign_key="policy_version.id", ondelete="RESTRICT")
    price_minor: int = Field(
        sa_column=Column(BigInteger, nullable=False), description="This asset's lines of the quote."
    )
    currency: str = Field(max_length=3)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class Charge(SQLModel, table=True):
    """What the creator of a release owes for it: the quote's total (with any licence offered
    for its output and accepted). One per generation and one per clearance (both unique), so no
    release is charged twice; the ledger (payouts) posts it."""

    __table_args__ = (CheckConstraint("amount_minor >= 0", name="amount_not_negative"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    generation_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="generation_job.id",
        unique=True,
        ondelete="RESTRICT",
        description="Our generator's released generation; None for a third-party release.",
    )
    payer_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="RESTRICT")
    clearance_id: uuid.UUID = Field(foreign_key="clearance.id", unique=True, ondelete="RESTRICT")
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
