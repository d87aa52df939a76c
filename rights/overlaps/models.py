"""The table of overlap cases."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class OverlapStatus(StrEnum):
    open = "open"
    existing_kept = "existing_kept"  # the claimant's asset stays inactive
    claimant_upheld = "claimant_upheld"  # the claimant is the rightful holder: it takes over


class OverlapCase(SQLModel, table=True):
    """A character or style (the claimant's) registered or edited into overlap with an earlier
    live asset of another holder, or with a protected entry (then a claim of the entry)."""

    __tablename__ = "overlap_case"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    claimant_asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="CASCADE")
    claimant_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    existing_asset_id: uuid.UUID | None = Field(
        default=None, foreign_key="asset.id", index=True, ondelete="CASCADE"
    )
    existing_owner_id: uuid.UUID | None = Field(
        default=None, foreign_key="account.id", index=True, ondelete="CASCADE"
    )
    protected_entry_id: uuid.UUID | None = Field(
        default=None, foreign_key="protected_entry.id", index=True, ondelete="CASCADE"
    )
    evidence: list[dict] = Field(
        default_factory=list,
        sa_column=Column(JSONDocument, nullable=False),
        description="What overlaps: name, alias, description or reference image. Staff only.",
    )
    status: OverlapStatus = Field(sa_column=enum_column(OverlapStatus))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    resolved_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    resolution_note: str | None = Field(default=None, max_length=1000)
