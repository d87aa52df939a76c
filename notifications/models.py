"""Tables of notifications: notices (the inbox and the digest read them), each account's
email preference, webhook endpoints and the deliveries of notices to them."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, LargeBinary
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class Notice(SQLModel, table=True):
    """One thing an account is told, written in the transaction of the event it is about."""

    __table_args__ = (Index("ix_notice_account_created", "account_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", ondelete="CASCADE")
    kind: str = Field(max_length=64, description="A notifications.kinds.NoticeKind value.")
    subject_ids: list[str] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="The ids it is about (asset, clearance, generation, ...), for links.",
    )
    facts: dict[str, Any] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="What happened, only what the recipient may know; the webhook's `data`.",
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    emailed_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime, index=True),
        description="When a digest carried it; never, while the account wants no email.",
    )


class DigestFrequency(StrEnum):
    none = "none"
    daily = "daily"
    immediate = "immediate"  # at the next digest round, minutes at most


class NoticePreference(SQLModel, table=True):
    """An account's choice of email digest; an account without a row gets a daily one."""

    __tablename__ = "notice_preference"

    account_id: uuid.UUID = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    email_digest: DigestFrequency = Field(
        default=DigestFrequency.daily, sa_column=enum_column(DigestFrequency)
    )
    last_digest_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class WebhookEndpoint(SQLModel, table=True):
    """A URL an account has notices sent to, signed with the endpoint's own secret."""

    __tablename__ = "webhook_endpoint"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    account_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=2000)
    kinds: list[str] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="The notice kinds sent here; empty: every kind.",
    )
    sealed_secret: bytes = Field(
        sa_column=Column(LargeBinary, nullable=False),
        description="The secret (`whsec_` and base64), sealed (clearhouse/sealed_secrets.py): it "
        "signs each delivery, so it is kept, and shown to the owner once, when made or rotated.",
    )
    sealed_previous_secret: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary),
        description="The secret before the last rotation, sealed: it signs each delivery too "
        "until previous_secret_until, so the receiver can switch without losing one.",
    )
    previous_secret_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=300)
    consecutive_failures: int = Field(
        default=0, description="Failed attempts since the last success; at the limit, disabled."
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class DeliveryState(StrEnum):
    pending = "pending"  # waiting for its next attempt
    delivered = "delivered"  # the endpoint answered 2xx
    failed = "failed"  # every attempt failed, or the endpoint was disabled


class WebhookDelivery(SQLModel, table=True):
    """One notice sent to one endpoint: its message id and body are fixed when it is made, so
    each retry and a replay send the very same signed message (receivers drop repeats by
    its `webhook-id`)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_endpoint_created", "endpoint_id", "created_at"),
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoint.id", ondelete="CASCADE")
    notice_id: uuid.UUID = Field(foreign_key="notice.id", ondelete="CASCADE")
    message_id: str = Field(max_length=64, description="The `webhook-id` header: msg_ + hex.")
    kind: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    state: DeliveryState = Field(
        default=DeliveryState.pending, sa_column=enum_column(DeliveryState)
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    claimed_until: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="A process sending it holds it until then, so two never send it at once.",
    )
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    last_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
