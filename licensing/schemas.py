"""API shapes of clearances, owners' approvals and the usage of an asset."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from licensing.models import ApprovalStatus, FoundIn, OutputVerdict
from policies.decisions import AssetOutcome, ClearanceOutcome
from policies.document import ContentCategory, Use

MAX_PROMPT_CHARS = 4000


class ClearanceCreate(RequestBody):
    """A generation request to clear: what a generator is about to run."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    declared_use: Use = Field(description="What the output will be used for.")
    content: list[ContentCategory] = Field(
        default_factory=list,
        max_length=len(ContentCategory),
        description="Content the output will show, as the requester declares it.",
    )
    parameters: dict[str, Any] = Field(
        description="The generation parameters as the generator will run them; the request "
        "digest covers them exactly. Priced from `duration_ms`, `width`, `height` and "
        "`steps` (whole numbers); anything else (seed, fps, ...) is carried as sent. "
        "Numbers must be integers: send a fractional value as a string.",
        examples=[{"duration_ms": 4000, "width": 854, "height": 480, "steps": 20, "seed": 7}],
    )


class ContentEvidencePublic(BaseModel):
    """What in the prompt showed a content category."""

    kind: str = Field(
        description="`word`: one of the category's words, as written in the prompt at `span`; "
        "`description`: the prompt reads like `text`, one of the category's descriptions, by "
        "`score` more than like everyday scenes."
    )
    text: str
    span: list[int] | None = Field(default=None, description="[start, end) in the prompt.")
    score: float | None = None


class ContentShown(BaseModel):
    """A content category the request shows: declared by the requester, detected in the
    prompt by the content check, or both. An owner's policy may exclude it."""

    category: ContentCategory
    declared: bool
    detected_by: list[ContentEvidencePublic] = Field(
        description="Empty when the category was only declared."
    )


class QuoteLinePublic(BaseModel):
    item: str
    description: str
    quantity: int
    unit: str
    unit_price_minor: int
    amount_minor: int
    asset_id: uuid.UUID | None


class QuotePublic(BaseModel):
    currency: str
    rate_card_version: str
    total_minor: int
    lines: list[QuoteLinePublic]


class TouchedAsset(BaseModel):
    """A registered asset the request touches, as the requester may see it: a likeness
    whose owner has not consented to this requester is not named and has no score."""

    asset_id: uuid.UUID | None
    handle: str | None
    kind: str
    outcome: AssetOutcome
    reasons: list[str]
    matched_by: list[dict[str, Any]] = Field(
        description="What found it: `kind` (name, alias, handle, description, "
        "reference_image, face) and where: `span` and `text` in the prompt, or `input` (the "
        "file, from 0), `frame` and `timestamp_s` in the media (and a face's `box`: left, "
        "top, right, bottom in the file's pixels). `score` for what the text and picture "
        "checks found; never a face's. A reference picture's `method`: `fingerprint` (a copy "
        "of it) or `embedding` (CLIP cosine, where the operator configured a CLIP model)."
    )
    approval: ApprovalStatus | None = Field(
        default=None, description="The owner's answer, for an asset that waits for it."
    )
    holder_verified: bool | None = Field(
        default=None,
        description="Whether staff verified its holder's claim to it (a likeness: verified by "
        "its enrolment). An unverified asset protects but earns nothing: its fee is held, and "
        "given back to you if the claim is rejected. None where the asset is not named.",
    )


class ClearancePublic(BaseModel):
    id: uuid.UUID
    outcome: ClearanceOutcome
    reasons: list[str]
    request_digest: str
    input_media_sha256: list[str] = Field(
        description="The SHA-256 of each input file, in the order sent: the digest covers them."
    )
    content: list[ContentShown] = Field(
        description="The content categories the request shows, declared or detected; an "
        "asset whose policy excludes one is denied."
    )
    assets: list[TouchedAsset]
    quote: QuotePublic | None
    created_at: datetime
    token: str | None = Field(
        default=None,
        description="The signed clearance (ES256 JWS; keys at /.well-known/jwks.json), when "
        "cleared. Returned once, by the request that cleared it.",
    )
    token_expires_at: datetime | None


class OutputChargePublic(BaseModel):
    """What a third-party generator's release was charged: the quote's total, with any
    licence offered for an earlier blocked output and accepted."""

    amount_minor: int = Field(description="In minor units of the currency.")
    currency: str


class OutputCheckPublic(BaseModel):
    """The verdict on a cleared request's generated output: released, or blocked by the
    registered assets it shows that the clearance does not cover."""

    id: uuid.UUID
    clearance_id: uuid.UUID
    verdict: OutputVerdict
    reasons: list[str]
    found: list[TouchedAsset] = Field(
        description="Every registered asset the output shows: `allow` where the clearance "
        "covers it, `deny` where it does not. A person whose owner has not consented to you "
        "is not named."
    )
    input_media_sha256: list[str] = Field(description="The SHA-256 of each file checked.")
    frames_checked: int
    checked_at: datetime
    charged: OutputChargePublic | None = Field(
        default=None,
        description="What this check's release charged you: set on a third-party "
        "generator's first check of a clearance that allows release, which licenses and "
        "charges the use. None otherwise (blocked, released by an earlier check, or our "
        "generator's own, which its generation charges).",
    )


class UseState(StrEnum):
    """What came of one use of an asset, as its owner reads it."""

    # Licensed and charged: our generator's clip served, or a third party's output released.
    released = "released"
    taken_down = "taken_down"  # released, then a consent it used was withdrawn
    cancelled = "cancelled"  # a consent it relied on was withdrawn before release
    failed = "failed"  # our generator could not run it
    # denied by a policy (its own, or another asset's in the same request), or its output
    # showed something not covered
    blocked = "blocked"
    pending = "pending"  # waits for the owner's answer
    expired = "expired"  # waited for the owner's answer, who gave none in time
    declined = "declined"  # the owner said no
    approved = "approved"  # the owner said yes; the requester may send it again
    repeated = "repeated"  # sent again while the same request waited: one answer covers both
    generating = "generating"  # cleared, and our generator is running it
    cleared = "cleared"  # cleared (for a third-party generator, or not generated yet)


class AssetUse(BaseModel):
    """One request that touched the owner's asset, whatever came of it."""

    use_id: uuid.UUID = Field(
        description="This use's id: for an output the asset blocked (`found_in` output), "
        "`POST /v1/uses/{use_id}/licence-offer` offers its creator a licence instead."
    )
    clearance_id: uuid.UUID
    asset_id: uuid.UUID
    asset_handle: str
    asset_name: str
    created_at: datetime
    outcome: AssetOutcome
    state: UseState = Field(
        description="What came of it, all told: released, taken_down, cancelled, failed, "
        "blocked, pending (waits for you), expired, declined, approved, repeated (sent again "
        "while the same request waited for you), generating or cleared."
    )
    found_in: FoundIn = Field(
        description="`request`: the prompt or its input media; `output`: the generated "
        "frames, where an asset the clearance did not cover blocks release."
    )
    clearance_outcome: ClearanceOutcome
    requester_id: uuid.UUID
    requester_name: str
    declared_use: str
    prompt: str
    reasons: list[dict[str, str]] = Field(
        description="Why your asset was allowed, denied or held, each a `code` and a `text`: "
        'the sentences the requester was given, so written to them ("your request" is '
        "theirs)."
    )
    matched_by: list[dict[str, Any]]
    fee_minor: int | None
    currency: str | None = Field(description="The quote's currency, when it was priced.")
    approval_id: uuid.UUID | None
    approval: ApprovalStatus | None
    approval_expires_at: datetime | None = Field(
        default=None,
        description="As the approval's `expires_at`: declined, until when your no stands (you "
        "may approve the request after all until then, `POST /v1/approvals/{approval_id}/"
        "approve`).",
    )
    generation_id: uuid.UUID | None = Field(
        description="The generation our generator ran for the request, if it ran one."
    )
    generation_state: str | None = Field(
        description="What came of it: queued, generating, checking_output, released, blocked "
        "(its output showed something not covered), cancelled (a consent was withdrawn before "
        "release) or failed."
    )
    taken_down_at: datetime | None = Field(
        description="When the released clip was taken down, a consent it was licensed under "
        "having been withdrawn (yours or another owner's): no longer served."
    )
    licence_fee_minor: int | None = Field(
        default=None,
        description="What the release licensed your asset for (in `currency`), once released "
        "by our generator or by a third-party generator (then `generation_id` is null); your "
        "statement shows your share of it.",
    )


class ApprovalPublic(BaseModel):
    id: uuid.UUID
    asset_id: uuid.UUID
    clearance_id: uuid.UUID
    requester_id: uuid.UUID
    requester_name: str
    prompt: str
    declared_use: str
    status: ApprovalStatus
    created_at: datetime
    expires_at: datetime = Field(
        description="Pending: until when you may answer. Approved: until when the requester "
        "may send the request again and have it cleared. Declined: until when your no stands, "
        "refusing the requester's requests for the asset without asking you again."
    )
    decided_at: datetime | None
