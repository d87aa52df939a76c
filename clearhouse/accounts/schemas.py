"""API shapes for accounts, tokens and API keys."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from audit.schemas import AuditEntryPublic
from clearhouse.accounts.models import Role
from clearhouse.accounts.scopes import SCOPE_DESCRIPTIONS, Scope
from clearhouse.names import check_readable
from clearhouse.schemas import IsoDate, RequestBody
from policies.schemas import PolicyVersionPublic
from rights.schemas import AssetPublic, GrantPublic, ReceiptPublic

#: A name people read in lists: visible, in reading order (clearhouse/names.py).
ReadableName = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(check_readable)]


class AccountCreate(RequestBody):
    """Sign-up. Only ``holder`` and ``creator`` can be chosen; staff roles are given by admins."""

    email: EmailStr
    password: str = Field(
        min_length=1,
        max_length=256,
        description="At least 12 characters after Unicode NFKC normalisation, and not easy to "
        "guess (common passwords, repeats, sequences, your name or email are refused).",
    )
    display_name: ReadableName
    date_of_birth: IsoDate
    role: Literal["holder", "creator"] = "holder"


class SignUpAccepted(BaseModel):
    """The same answer whether or not the address already has an account."""

    email: str
    detail: str


class EmailVerified(BaseModel):
    email: str
    email_verified_at: datetime


class AccountPublic(BaseModel):
    id: uuid.UUID
    email: str
    email_verified_at: datetime | None = Field(
        description="Unset until you follow the link we emailed; until then you may not grant "
        "consent or enrol a face."
    )
    display_name: str
    date_of_birth: date
    role: Role
    revenue_share_bps: int
    created_at: datetime


class AccountAdminUpdate(RequestBody):
    """What an admin may change about an account."""

    role: Role | None = None
    revenue_share_bps: int | None = Field(default=None, strict=True, ge=0, le=10_000)
    disabled: bool | None = Field(default=None, strict=True)


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (OAuth 2 token type)
    expires_in: int = Field(description="Seconds until the token expires.")


_SCOPES_DOC = "; ".join(f"`{scope.value}`: {text}" for scope, text in SCOPE_DESCRIPTIONS.items())


class ApiKeyCreate(RequestBody):
    name: ReadableName = Field(description="What the key is for.")
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=len(Scope),
        description="What the key may do, at least one. No key manages keys or acts as staff. "
        + _SCOPES_DOC,
    )


class ApiKeyPublic(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="Shown once; send it as the X-API-Key header.")


class PasswordChange(RequestBody):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=12, max_length=256, description="At least 12 characters.")


class PasswordChanged(AccessToken):
    """A new access token for this session: every token issued before stopped working."""


class AccountDeletionRequest(RequestBody):
    password: str = Field(min_length=1, max_length=256, description="Your password, again.")


class AccountDeleted(BaseModel):
    deleted_at: datetime
    grants_revoked: int = Field(description="Grants withdrawn, each with a receipt.")
    generations_taken_down: int = Field(
        description="Released clips licensed under those grants, no longer served."
    )
    likenesses_shredded: int = Field(description="Likenesses whose face data was destroyed.")


class ExportedAsset(AssetPublic):
    deleted_at: datetime | None
    policies: list[PolicyVersionPublic] = Field(description="Every version, oldest first.")
    grants: list[GrantPublic]
    receipts: list[ReceiptPublic]


class AccountExport(BaseModel):
    """Everything Clearhouse holds about the account and what it registered (GDPR art. 20)."""

    exported_at: datetime
    account: AccountPublic
    api_keys: list[ApiKeyPublic]
    assets: list[ExportedAsset]
    audit_entries: list[AuditEntryPublic] = Field(
        description="Entries about your assets and your account, oldest first."
    )
