"""Account and API key tables."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Integer
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class Role(StrEnum):
    holder = "holder"
    creator = "creator"
    moderator = "moderator"
    admin = "admin"


ADULT_AGE = 18

# Staff: they review conflicts and may look any face up.
STAFF_ROLES = (Role.moderator, Role.admin)


class Account(SQLModel, table=True):
    """A person (or a service) that signs in. Roles decide what they may do."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=320, description="Lower-cased.")
    password_hash: str = Field(max_length=255, description="argon2id.")
    display_name: str = Field(max_length=120)
    date_of_birth: date | None = Field(
        description="Needed for the protections of minors; erased when the account is deleted."
    )
    role: Role = Field(default=Role.holder, sa_column=enum_column(Role))
    revenue_share_bps: int = Field(
        description="The holder's share of each licence fee, in basis points; set by admins."
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    email_verified_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="When the owner of the address followed our link; until then the account "
        "may neither consent nor enrol a face.",
    )
    deleted_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="Deleted by its owner: personal data erased, the row kept for the audit trail.",
    )
    session_epoch: int = Field(
        default=0,
        sa_column=Column(Integer, nullable=False, server_default="0"),
        description="Access tokens carry the epoch they were issued in; changing the password "
        "moves it on, so every token issued before stops working.",
    )

    def age_on(self, day: date) -> int:
        return age_on(self.date_of_birth, day)


def age_on(born: date, day: date) -> int:
    """Whole years from ``born`` to ``day``: the age the protections of minors go by."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def is_minor(born: date | None, day: date) -> bool:
    """Under 18 on ``day``; an age not on record (erased, never given) counts as a minor's,
    so a missing date of birth can only add protections, never lift them."""
    return born is None or age_on(born, day) < ADULT_AGE


class ApiKey(SQLModel, table=True):
    """A long-lived key for a service (a third-party generator) acting as its account, within
    its scopes. Only a signed-in session makes keys, so a key has no parent key."""

    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16, description="Shown to the owner to tell keys apart.")
    secret_sha256: str = Field(unique=True, max_length=64, description="Only the hash is kept.")
    scopes: list[str] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="What the key may do (clearhouse/accounts/scopes.py), chosen at creation.",
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class EmailVerification(SQLModel, table=True):
    """A link that proves the owner of an address asked for this account: single-use, expiring.

    Only the SHA-256 of the link's token is kept. A link sent because someone signed up again
    with an address whose account was never verified carries that sign-up's password, name and
    date of birth: whoever reads the mail decides, not whoever typed the address first.
    """

    __tablename__ = "email_verification"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    token_sha256: str = Field(unique=True, max_length=64)
    password_hash: str | None = Field(
        default=None, max_length=255, description="Set on the account when the link is used."
    )
    display_name: str | None = Field(
        default=None, max_length=120, description="The same sign-up's name, set with it."
    )
    date_of_birth: date | None = Field(
        default=None, description="The same sign-up's date of birth, set with it (minors)."
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class SignedOutToken(SQLModel, table=True):
    """An access token its holder signed out of, kept until it would have expired anyway."""

    __tablename__ = "signed_out_token"

    jti: str = Field(primary_key=True, max_length=64, description="The token's `jti` claim.")
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    expires_at: datetime = Field(
        sa_column=Column(UTCDateTime, nullable=False, index=True),
        description="The token's `exp`: past it, the row is swept.",
    )
