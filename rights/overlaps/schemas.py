"""API shapes of overlap cases."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from rights.overlaps.models import OverlapStatus


class OverlapCasePublic(BaseModel):
    id: uuid.UUID
    status: OverlapStatus
    your_part: Literal["claimant", "existing_owner", "moderator"]
    your_asset_id: uuid.UUID | None = Field(description="Your asset in the case (owners).")
    other_handle: str | None = Field(
        description="The other asset's public handle, when the other side is an asset."
    )
    protected_entry: str | None = Field(
        description="The protected entry claimed, in words, when the other side is one."
    )
    overlaps_by: list[str] = Field(description="name, alias, description or reference_image")
    explanation: str
    created_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None
    claimant_asset_id: uuid.UUID | None = Field(default=None, description="Moderators only.")
    existing_asset_id: uuid.UUID | None = Field(default=None, description="Moderators only.")
    protected_entry_id: uuid.UUID | None = Field(default=None, description="Moderators only.")
    evidence: list[dict] | None = Field(default=None, description="Moderators only.")


class OverlapDecision(RequestBody):
    decision: Literal["keep_existing", "uphold_claimant"] = Field(
        description="keep_existing: the claimant's asset stays inactive; uphold_claimant: the "
        "claimant is the rightful holder, their asset becomes active and the existing asset "
        "(its grants revoked) or protected entry is retired."
    )
    note: str | None = Field(default=None, max_length=1000)
