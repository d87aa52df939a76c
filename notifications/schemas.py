"""API shapes of notices, the email preference, webhook endpoints and their deliveries."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from notifications.kinds import NoticeKind
from notifications.models import DeliveryState, DigestFrequency, Notice


class NoticePublic(BaseModel):
    id: uuid.UUID
    kind: str
    summary: str = Field(description="The kind in a sentence.")
    subject_ids: list[str]
    facts: dict[str, Any]
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, notice: Notice) -> "NoticePublic":
        return cls(
            id=notice.id,
            kind=notice.kind,
            summary=summary_of(notice.kind),
            subject_ids=notice.subject_ids,
            facts=notice.facts,
            created_at=notice.created_at,
            read_at=notice.read_at,
        )


def summary_of(kind: str) -> str:
    """A stored kind in a sentence; one a newer release wrote is shown by its name."""
    try:
        return NoticeKind(kind).summary
    except ValueError:
        return kind


def describe(facts: dict) -> str:
    """A notice's facts on one line, as the inbox and the digest show them."""
    shown = {
        name: (", ".join(map(str, value)) or "none") if isinstance(value, list) else value
        for name, value in facts.items()
    }
    return "; ".join(f"{name.replace('_', ' ')}: {value}" for name, value in shown.items())


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int


class PreferencePublic(BaseModel):
    email_digest: DigestFrequency
    last_digest_at: datetime | None


class PreferenceUpdate(RequestBody):
    email_digest: DigestFrequency = Field(
        description="none: no email; daily: one email a day at most; immediate: an email at the "
        "notice worker's next round."
    )


class EndpointCreate(RequestBody):
    url: str = Field(max_length=2000, description="http(s); a public address unless allowed.")
    kinds: list[NoticeKind] = Field(
        default_factory=list, max_length=50, description="Kinds sent here; empty: every kind."
    )


class EndpointUpdate(RequestBody):
    url: str | None = Field(default=None, max_length=2000)
    kinds: list[NoticeKind] | None = Field(default=None, max_length=50)
    enabled: bool | None = Field(
        default=None, description="Enabling again resets the count of failures."
    )


class SecretRotation(RequestBody):
    overlap_hours: float | None = Field(
        default=None,
        ge=0,
        le=24 * 30,
        description="How long the old secret goes on signing beside the new one (each delivery "
        "then carries both signatures); 0 ends it at once; unset: the server's default, 24 h.",
    )


class EndpointPublic(BaseModel):
    id: uuid.UUID
    url: str
    kinds: list[str]
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    previous_secret_until: datetime | None = Field(
        description="Until then the secret before the last rotation signs too; null: only the "
        "current one signs."
    )
    created_at: datetime


class EndpointWithSecret(EndpointPublic):
    secret: str = Field(
        description="whsec_…: verify each delivery with it (Standard Webhooks). Shown this once."
    )


class DeliveryPublic(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    notice_id: uuid.UUID
    message_id: str = Field(description="The `webhook-id` header; the same on every attempt.")
    kind: str
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="While pending.")
    delivered_at: datetime | None
    created_at: datetime
