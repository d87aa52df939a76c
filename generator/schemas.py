"""API shapes of generations: what a creator asks for, and what they read back."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from generator.models import JobState
from generator.pipeline import SIDE_MULTIPLE
from licensing.schemas import MAX_PROMPT_CHARS, ClearancePublic, TouchedAsset
from policies.document import ContentCategory, Use
from rights.schemas import Handle

MAX_CAMEOS = 8
MAX_SIDE = 3840  # the rate card's largest tier (licensing/quote.py) holds 3840x2160
MAX_DURATION_MS = 60_000


class GenerationCreate(RequestBody):
    """A clip to generate: cleared first, then queued when cleared."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    cameos: list[Handle] = Field(
        default_factory=list,
        max_length=MAX_CAMEOS,
        description="Registered assets the clip uses by name (`@handle`), whether or not the "
        "prompt names them: each is decided under its owner's policy and licensed.",
        examples=[["@captain_comet"]],
    )
    declared_use: Use = Field(description="What the clip will be used for.")
    content: list[ContentCategory] = Field(
        default_factory=list,
        max_length=len(ContentCategory),
        description="Content the clip will show, as you declare it.",
    )
    duration_ms: int = Field(strict=True, ge=1, le=MAX_DURATION_MS, examples=[2000])
    width: int = Field(
        strict=True, ge=SIDE_MULTIPLE, le=MAX_SIDE, multiple_of=SIDE_MULTIPLE, examples=[512]
    )
    height: int = Field(
        strict=True, ge=SIDE_MULTIPLE, le=MAX_SIDE, multiple_of=SIDE_MULTIPLE, examples=[512]
    )
    steps: int = Field(
        default=20, strict=True, ge=1, le=200, description="Denoising steps of each frame."
    )
    fps: int = Field(default=8, strict=True, ge=1, le=30, description="Frames a second.")
    seed: int = Field(
        default=0,
        strict=True,
        ge=0,
        le=2**53 - 1,
        description="The same request with the same seed makes the same clip; a request that "
        "waits for an owner's approval is cleared when sent again unchanged.",
    )


class Progress(BaseModel):
    steps_done: int
    steps_total: int = Field(description="0 until generation has started.")


class LicencePublic(BaseModel):
    """An asset a released clip uses, under which grant and policy version, at what price."""

    asset_id: uuid.UUID
    handle: str
    grant_id: uuid.UUID
    policy_version: int
    price_minor: int
    currency: str


class ChargePublic(BaseModel):
    amount_minor: int
    currency: str


class TakedownPublic(BaseModel):
    """Why a released clip is no longer served: a consent it was licensed under was
    withdrawn (the first, when several were). Nothing of the owner's own reasons."""

    taken_down_at: datetime = Field(description="When the consent was withdrawn.")
    asset_id: uuid.UUID
    handle: str = Field(description="The asset whose consent was withdrawn, as licensed.")
    grant_id: uuid.UUID
    withdrawal_receipt_id: uuid.UUID | None = Field(
        description="The owner's signed receipt of the withdrawal (the grant's public status, "
        "`GET /v1/grants/{id}/status`, names it too)."
    )


class GenerationPublic(BaseModel):
    id: uuid.UUID
    state: JobState
    progress: Progress
    attempts: int
    reasons: list[str] = Field(description="Why it was blocked, cancelled or failed.")
    found: list[TouchedAsset] = Field(
        description="Once blocked: the registered assets its output shows that the clearance "
        "does not cover. A person who has not consented to you is not named, and no face's "
        "score is shown."
    )
    clearance_id: uuid.UUID
    prompt: str
    declared_use: str
    parameters: dict[str, Any] = Field(description="What the generator runs.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    licences: list[LicencePublic] = Field(description="Once released: what was licensed.")
    charge: ChargePublic | None = Field(description="Once released: what it costs you.")
    video_url: str | None = Field(
        description="Once released, until it is taken down: the signed MP4."
    )
    status_url: str | None = Field(
        description="Once released: where anyone asks whether the clip may still be shown "
        "(its C2PA manifest names this URL)."
    )
    taken_down: TakedownPublic | None = Field(
        description="Once a consent the released clip was licensed under is withdrawn: when, "
        "and which. The clip is no longer served, and its status answers revoked."
    )


class GenerationRequested(BaseModel):
    """The clearance of a generation request and, when it was cleared, its queued job."""

    clearance: ClearancePublic = Field(
        description="The decision, with its reasons: `denied`, or `needs_approval` (send the "
        "same request again once the owners approve)."
    )
    generation: GenerationPublic | None = Field(description="Queued when cleared; else null.")


class GenerationStatus(BaseModel):
    """Whether a released clip may still be shown: `revoked` once a consent it was licensed
    under is withdrawn."""

    generation_id: uuid.UUID
    status: Literal["released", "revoked"]
    revoked_at: datetime | None
