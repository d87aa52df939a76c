"""API shapes of licence offers: one shape for both parties, who may each see all of it (the
owner chose to tell the creator which asset it is by offering)."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class OfferState(StrEnum):
    pending = "pending"  # waits for the creator
    accepted = "accepted"
    declined = "declined"
    expired = "expired"  # unanswered in time: the output stays blocked


class LicenceOfferPublic(BaseModel):
    id: uuid.UUID
    use_id: uuid.UUID = Field(description="The blocked use the licence is for (its owner's usage).")
    clearance_id: uuid.UUID
    generation_id: uuid.UUID | None = Field(
        description="Our generator's blocked generation; none for a third-party generator's "
        "output, whose next output check passes for this asset once the offer is accepted."
    )
    generation_state: str | None = Field(description="released once the output is released.")
    asset_id: uuid.UUID
    asset_handle: str
    asset_kind: str
    asset_name: str
    requester_name: str
    prompt: str
    state: OfferState
    price_minor: int = Field(description="The licence's price: the sum of `lines`.")
    currency: str
    lines: list[dict[str, Any]] = Field(
        description="The owner's lines of the open quote for this output (licensing/quote.py)."
    )
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
