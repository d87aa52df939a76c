"""API shapes of disputes."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from clearhouse.schemas import RequestBody, https_link
from rights.claims.schemas import DocumentPublic
from rights.disputes.models import DisputeKind, DisputeStatus, PartySide


class DisputeOpening(RequestBody):
    """What you dispute and why. Evidence: your statement, and an https:// link or a
    document (PDF, PNG or JPEG, sent as the `document` file beside this JSON: a multipart
    form)."""

    asset_handle: str = Field(
        min_length=1, max_length=33, description="The asset's public handle, with or without @."
    )
    kind: DisputeKind
    statement: str = Field(
        min_length=20, max_length=4000, description="In your own words: what is wrong, and how."
    )
    link: str | None = Field(
        default=None, max_length=500, description="An https:// address where it can be seen."
    )

    @field_validator("link")
    @classmethod
    def _https(cls, link: str | None) -> str | None:
        return None if link is None else https_link(link)


class DisputeWords(RequestBody):
    """An answer or a message of the thread."""

    body: str = Field(min_length=3, max_length=4000)


class DisputeDecision(RequestBody):
    decision: Literal["uphold", "dismiss"] = Field(
        description="uphold: the asset stops licensing and earning, its held shares go back to "
        "the creators; dismiss: it goes on as before."
    )
    reason: str = Field(
        min_length=3, max_length=1000, description="Why: both parties read it, and the audit log."
    )


class DisputeMessagePublic(BaseModel):
    side: PartySide = Field(description="Who wrote it: the opener, the holder, or staff.")
    body: str
    is_answer: bool
    written_at: datetime


class DisputePublic(BaseModel):
    """A dispute as its parties and staff see it: sides, not the other party's account."""

    id: uuid.UUID
    asset_id: uuid.UUID
    asset_handle: str
    kind: DisputeKind
    status: DisputeStatus
    your_side: PartySide
    statement: str
    link: str | None
    document: DocumentPublic | None
    opened_at: datetime
    answer_due_at: datetime
    answered_at: datetime | None
    decided_at: datetime | None
    decision_reason: str | None
    messages: list[DisputeMessagePublic]
