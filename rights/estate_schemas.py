"""API shapes of estate claims and their decisions."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from rights.models import EstateClaimStatus


class EstateClaimCreate(RequestBody):
    evidence: str = Field(
        min_length=10,
        max_length=5000,
        description="What gives you authority over the estate: a grant of probate, letters of "
        "administration, a will (a reference number, a link).",
    )


class DeceasedReport(RequestBody):
    note: str = Field(min_length=1, max_length=1000, description="How staff learnt of it.")


class EstateDecisionCreate(RequestBody):
    verify: bool
    note: str = Field(min_length=1, max_length=1000)
    person_is_living: bool = Field(
        default=False, description="When rejecting: lift the report, the person is alive."
    )


class EstateClaimPublic(BaseModel):
    id: uuid.UUID
    asset_id: uuid.UUID
    applicant_id: uuid.UUID
    evidence: str
    status: EstateClaimStatus
    created_at: datetime
    decided_at: datetime | None
    decision_note: str | None
