"""The table of licence offers: one owner's offer to one creator, for one asset that blocked
one output."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, text
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class OfferStatus(StrEnum):
    pending = "pending"  # waits for the creator, until it expires (then ``lapsed_at`` is set)
    accepted = "accepted"
    declined = "declined"


_TO_LAPSE = "status = 'pending' AND lapsed_at IS NULL"


class LicenceOffer(SQLModel, table=True):
    """A licence for a blocked output, offered by whoever manages the asset that blocked it
    (rights/authority.py, with consent: never an agent for a likeness), at the price of the
    asset's current policy, to the clearance's requester."""

    __tablename__ = "licence_offer"
    __table_args__ = (
        Index("ix_licence_offer_requester_created", "requester_id", "created_at"),
        Index("ix_licence_offer_blocked_use", "cleared_asset_id", "status"),
        # The deadline sweep's (licensing/offers/lapse.py): only offers still to lapse.
        Index(
            "ix_licence_offer_to_lapse",
            "expires_at",
            sqlite_where=text(_TO_LAPSE),
            postgresql_where=text(_TO_LAPSE),
        ),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    cleared_asset_id: uuid.UUID = Field(
        foreign_key="cleared_asset.id",
        ondelete="RESTRICT",
        description="The blocked use: the asset found in the output that the clearance did "
        "not cover (found_in output, denied).",
    )
    clearance_id: uuid.UUID = Field(foreign_key="clearance.id", ondelete="RESTRICT")
    output_check_id: uuid.UUID = Field(foreign_key="output_check.id", ondelete="RESTRICT")
    generation_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="generation_job.id",
        ondelete="RESTRICT",
        description="Our generator's blocked job, which holds the output; None when a "
        "third-party generator asked for the check.",
    )
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="RESTRICT")
    owner_id: uuid.UUID = Field(
        foreign_key="account.id",
        ondelete="RESTRICT",
        description="The asset's owner (a person or an organisation) when it was offered.",
    )
    offered_by: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    requester_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    grant_id: uuid.UUID = Field(
        foreign_key="consent_grant.id",
        ondelete="RESTRICT",
        description="The owner's active consent the licence relies on: withdrawn, the offer "
        "can no longer be accepted.",
    )
    policy_version_id: uuid.UUID = Field(foreign_key="policy_version.id", ondelete="RESTRICT")
    price_minor: int = Field(
        sa_column=Column(BigInteger, nullable=False),
        description="The asset's lines of the open quote for this output, added up.",
    )
    currency: str = Field(max_length=3)
    lines: list[dict[str, Any]] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="The quote lines the price adds up (licensing/quote.py), for the creator.",
    )
    status: OfferStatus = Field(default=OfferStatus.pending, sa_column=enum_column(OfferStatus))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    lapsed_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="When the sweep recorded that it expired unanswered and told both parties "
        "(set once; the offer stays pending, past its expiry).",
    )
