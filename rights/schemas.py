"""API shapes of assets, grants, revocations and receipts."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from clearhouse.names import check_readable, fold
from clearhouse.schemas import RequestBody
from rights.models import AssetKind, ReceiptEvent

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


class AssetCreate(RequestBody):
    kind: AssetKind
    handle: Handle = Field(description="Unique, e.g. '@ada_lovelace'.")
    name: Name
    aliases: Aliases = Field(default_factory=list)
    description: str = Field(default="", max_length=5000)


class AssetUpdate(RequestBody):
    """Fields that may change; the kind and the owner never do."""

    handle: Handle | None = None
    name: Name | None = None
    aliases: Aliases | None = None
    description: str | None = Field(default=None, max_length=5000)


class AssetPublic(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    kind: AssetKind
    handle: str
    name: str
    aliases: list[str]
    description: str
    created_at: datetime
    updated_at: datetime


class GrantCreate(RequestBody):
    policy_version: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=2**31,  # versions are 32-bit integers in the database
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
    effective_at: datetime = Field(
        description="When the revocation committed; no clearance after this uses the grants."
    )


class AssetDeleted(BaseModel):
    asset_id: uuid.UUID
    deleted_at: datetime
    revocation: Revocation


class ReceiptVerifyRequest(RequestBody):
    token: str = Field(min_length=1, max_length=20_000)


class ReceiptVerification(BaseModel):
    valid: bool
    reason: str | None = Field(default=None, description="Why it failed, when it did.")
    claims: dict[str, Any] | None = None
