"""API shapes for accounts, tokens and API keys."""

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from clearhouse.accounts.models import Role


class AccountCreate(BaseModel):
    """Sign-up. Only ``holder`` and ``creator`` can be chosen; staff roles are given by admins."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=12, max_length=256, description="At least 12 characters.")
    display_name: str = Field(min_length=1, max_length=120)
    date_of_birth: date
    role: Literal["holder", "creator"] = "holder"


class AccountPublic(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    date_of_birth: date
    role: Role
    revenue_share_bps: int
    created_at: datetime


class AccountAdminUpdate(BaseModel):
    """What an admin may change about an account."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    revenue_share_bps: int | None = Field(default=None, ge=0, le=10_000)
    disabled: bool | None = None


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (OAuth 2 token type)
    expires_in: int = Field(description="Seconds until the token expires.")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="What the key is for.")


class ApiKeyPublic(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="Shown once; send it as the X-API-Key header.")
