"""API shapes of enrolment, conflicts and the face scan."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from likeness.models import ConflictStatus, EnrolmentStatus


class EnrolmentCreate(RequestBody):
    keep_media: bool = Field(
        default=False,
        strict=True,
        description="Keep the raw photos or video (encrypted) after enrolment ends. "
        "By default they are never stored.",
    )


class EnrolmentPublic(BaseModel):
    id: uuid.UUID
    likeness_id: uuid.UUID
    status: EnrolmentStatus
    challenge: list[str] = Field(
        description="Head poses the frames must show, in this order (empty when the operator "
        "accepts still photos)."
    )
    liveness_required: bool
    keep_media: bool
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    attempts_left: int = Field(
        description="Rejected submissions this challenge still allows; then start a new one."
    )
    instructions: str


class EnrolmentResult(BaseModel):
    enrolment: EnrolmentPublic
    templates: int = Field(description="Face templates sealed into the vault.")
    conflict_id: uuid.UUID | None = Field(
        default=None,
        description="Set when the face is enrolled by another account: a "
        "moderator decides, and the likeness stays unenrolled until then.",
    )


class ConflictPublic(BaseModel):
    id: uuid.UUID
    status: ConflictStatus
    your_part: str = Field(description="claimant, existing_owner or moderator")
    your_likeness_id: uuid.UUID | None
    created_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None
    similarity: float | None = Field(default=None, description="Moderators only.")
    claimant_likeness_id: uuid.UUID | None = Field(default=None, description="Moderators only.")
    existing_likeness_id: uuid.UUID | None = Field(default=None, description="Moderators only.")


class ConflictResolution(RequestBody):
    decision: str = Field(pattern="^(accept|reject)$", description="accept or reject the claim")
    note: str | None = Field(default=None, max_length=1000)


class LikenessMatchPublic(BaseModel):
    asset_id: uuid.UUID
    handle: str
    similarity: float | None = Field(description="Cosine similarity; moderators only.")


class ScannedFacePublic(BaseModel):
    frame: int = Field(description="Index of the frame in the source (0 for an image).")
    timestamp_s: float
    box: tuple[int, int, int, int] = Field(description="left, top, right, bottom in pixels")
    matches: list[LikenessMatchPublic]


class ScanResultPublic(BaseModel):
    frames_scanned: int
    model_key: str
    threshold: float
    faces: list[ScannedFacePublic]
