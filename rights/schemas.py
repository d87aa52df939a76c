"""API shapes of assets, grants, revocations and receipts."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from clearhouse.names import check_readable, fold
from clearhouse.schemas import RequestBody
from rights.models import AssetKind, AssetStanding, ReceiptEvent

# 3-32 letters, digits, '_' or '.', starting and ending with a letter or digit; the '@' in
# front is optional and case does not matter (handles are stored lower-case without it).
HANDLE_PATTERN = r"^@?[A-Za-z0-9][A-Za-z0-9_.]{1,30}[A-Za-z0-9]$"


def _normalise_handle(value: str) -> str:
    return value.removeprefix("@").lower()


Handle = Annotated[
    str,
    Field(min_length=3, max_length=33, pattern=HANDLE_PATTERN, examples=["@captain_comet"]),
    AfterValidator(_normalise_handle),
]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(check_readable)]


def _distinct_aliases(aliases: list[str]) -> list[str]:
    """Aliases that read alike (after clearhouse/names.fold) are one alias: the first kept."""
    seen: set[str] = set()
    distinct = []
    for alias in aliases:
        if fold(alias) not in seen:
            seen.add(fold(alias))
            distinct.append(alias)
    return distinct


Aliases = Annotated[list[Name], Field(max_length=50), AfterValidator(_distinct_aliases)]

# What the IP text check reads besides names (rights/matching/): the description, these
# keywords and example prompts. Bounded, since each example is embedded and held in memory by
# every process that matches prompts.
MAX_KEYWORDS, MAX_KEYWORD_CHARS = 25, 60
MAX_EXAMPLE_PROMPTS, MAX_EXAMPLE_PROMPT_CHARS = 10, 500
Keyword = Annotated[
    str, Field(min_length=1, max_length=MAX_KEYWORD_CHARS), AfterValidator(check_readable)
]
ExamplePrompt = Annotated[
    str, Field(min_length=1, max_length=MAX_EXAMPLE_PROMPT_CHARS), AfterValidator(check_readable)
]
Keywords = Annotated[
    list[Keyword],
    Field(
        max_length=MAX_KEYWORDS,
        description='What the asset looks like or does, in a few words each ("red cap", '
        '"blue overalls"): prompts that use several of them without the name still find it.',
        examples=[["retro space hero", "rocket pack", "fishbowl helmet"]],
    ),
]
ExamplePrompts = Annotated[
    list[ExamplePrompt],
    Field(
        max_length=MAX_EXAMPLE_PROMPTS,
        description="Prompts, without the name, that should find this asset: how someone "
        "would ask for it without saying what it is called.",
        examples=[["a 1950s spaceman with a bubble helmet and a jetpack saving a moon base"]],
    ),
]


class AssetCreate(RequestBody):
    kind: AssetKind
    handle: Handle = Field(description="Unique, e.g. '@ada_lovelace'.")
    name: Name
    aliases: Aliases = Field(default_factory=list)
    description: str = Field(default="", max_length=5000)
    keywords: Keywords = Field(default_factory=list)
    example_prompts: ExamplePrompts = Field(default_factory=list)
    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Register it for an organisation you are an owner or manager of: the "
        "organisation holds it and is paid for its uses. A likeness is always its person's.",
    )


class AssetUpdate(RequestBody):
    """Fields that may change; the kind and the owner never do."""

    handle: Handle | None = None
    name: Name | None = None
    aliases: Aliases | None = None
    description: str | None = Field(default=None, max_length=5000)
    keywords: Keywords | None = None
    example_prompts: ExamplePrompts | None = None


class AssetPublic(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    kind: AssetKind
    handle: str
    name: str
    aliases: list[str]
    description: str
    keywords: list[str]
    example_prompts: list[str]
    standing: AssetStanding = Field(
        description="active; in_review: it overlaps another holder's character or style, or a "
        "protected entry, and moderators decide (GET /v1/overlaps); inactive: they decided it "
        "belongs to another. Only an active asset can be granted and licensed."
    )
    created_at: datetime
    updated_at: datetime


class GrantCreate(RequestBody):
    policy_version: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=2**31 - 1,  # versions are 32-bit signed integers in the database
        description="The version to consent to; the one in force if omitted.",
    )


class GrantPublic(BaseModel):
    id: uuid.UUID
    asset_id: uuid.UUID
    policy_version: int
    state: str = Field(description="active, revoked, or expired (its policy's expiry passed).")
    granted_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None


class RevokeRequest(RequestBody):
    reason: str | None = Field(default=None, max_length=500)


class ReceiptPublic(BaseModel):
    id: uuid.UUID
    grant_id: uuid.UUID
    event: ReceiptEvent
    issued_at: datetime
    token: str = Field(description="The receipt itself: a compact ES256 JWS.")


class GrantCreated(BaseModel):
    grant: GrantPublic
    receipt: ReceiptPublic


class Revocation(BaseModel):
    grants: list[GrantPublic]
    receipts: list[ReceiptPublic]
    generations_taken_down: int = Field(
        description="Released clips licensed under these grants, taken down by this "
        "revocation: no longer served, and their status URL answers revoked. Each is listed "
        "in its asset's usage (`GET /v1/assets/{id}/usage?taken_down=true`)."
    )
    effective_at: datetime = Field(
        description="When the revocation committed; no clearance after this uses the grants."
    )


class AssetDeleted(BaseModel):
    asset_id: uuid.UUID
    deleted_at: datetime
    revocation: Revocation


class ReceiptVerifyRequest(RequestBody):
    token: str = Field(min_length=1, max_length=20_000)


class ConsentStatus(BaseModel):
    """Whether a grant's consent stands now: public, and nothing about its owner."""

    grant_id: uuid.UUID
    state: Literal["given", "withdrawn", "expired"] = Field(
        description="given: in force; withdrawn: revoked; expired: its policy's expiry passed."
    )
    given_at: datetime
    withdrawn_at: datetime | None
    withdrawal_receipt_id: uuid.UUID | None = Field(
        description="The receipt of the withdrawal, when withdrawn."
    )
    expires_at: datetime | None
    status_url: str = Field(description="Ask here again later; no account needed.")


class ReceiptVerification(BaseModel):
    valid: bool = Field(description="Signed by this platform, unaltered.")
    reason: str | None = Field(default=None, description="Why it failed, when it did.")
    claims: dict[str, Any] | None = None
    consent: ConsentStatus | None = Field(
        default=None,
        description="The grant's state now, which a receipt signed at the time cannot tell: "
        "a valid consent-given receipt of a withdrawn grant proves only the past consent.",
    )
