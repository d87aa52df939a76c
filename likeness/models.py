"""Tables of the likeness vault: which likenesses have data keys (the keys live in the key
store, not here), sealed face templates, enrolment sessions, kept enrolment media and
one-face-one-owner conflicts. Nothing here holds a plain embedding or a data key."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Integer, LargeBinary
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class LikenessKey(SQLModel, table=True):
    """The main database's record that a likeness has a data key, and nothing secret.

    The key itself lives only in the likeness key store (likeness/key_store.py), apart from
    this database, so a backup of this table restores timestamps, never a key.
    """

    __tablename__ = "likeness_key"

    likeness_id: uuid.UUID = Field(foreign_key="asset.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_activity_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(UTCDateTime, nullable=False),
        description="Enrolment or a scan match; the retention rule counts from here.",
    )


class TemplateStatus(StrEnum):
    active = "active"  # in the face index
    pending = "pending"  # waits for a moderator (a conflict)


class FaceTemplateRecord(SQLModel, table=True):
    """One face embedding, sealed with its likeness's data key (AES-256-GCM)."""

    __tablename__ = "face_template"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    likeness_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="CASCADE")
    model_key: str = Field(max_length=120, description="Compared only with the same model.")
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: TemplateStatus = Field(sa_column=enum_column(TemplateStatus))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class EnrolmentStatus(StrEnum):
    open = "open"
    enrolled = "enrolled"
    conflict = "conflict"  # the face is someone else's: a moderator decides
    rejected = "rejected"  # by a moderator


class EnrolmentSession(SQLModel, table=True):
    """One attempt to enrol a face, with its liveness challenge."""

    __tablename__ = "enrolment_session"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    likeness_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="CASCADE")
    owner_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    challenge: list[str] = Field(
        sa_column=Column(JSONDocument, nullable=False), description="Head poses, in order."
    )
    liveness_required: bool
    keep_media: bool = Field(description="The owner chose to keep the raw enrolment media.")
    status: EnrolmentStatus = Field(sa_column=enum_column(EnrolmentStatus))
    failed_attempts: int = Field(
        default=0,
        sa_column=Column(Integer, nullable=False, server_default="0"),
        description="Submissions rejected so far; the challenge is spent after a few.",
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class EnrolmentMedia(SQLModel, table=True):
    """Raw enrolment media the owner chose to keep, sealed with the likeness's data key."""

    __tablename__ = "enrolment_media"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    enrolment_id: uuid.UUID = Field(
        foreign_key="enrolment_session.id", index=True, ondelete="CASCADE"
    )
    likeness_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="CASCADE")
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ConflictStatus(StrEnum):
    open = "open"
    accepted = "accepted"  # the claimant's enrolment goes ahead (not the same person)
    rejected = "rejected"  # the claim is refused; its templates are destroyed


class LikenessConflict(SQLModel, table=True):
    """A face enrolled by one account that matches a face enrolled by another."""

    __tablename__ = "likeness_conflict"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    enrolment_id: uuid.UUID = Field(foreign_key="enrolment_session.id", ondelete="CASCADE")
    claimant_likeness_id: uuid.UUID = Field(foreign_key="asset.id", ondelete="CASCADE")
    claimant_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    existing_likeness_id: uuid.UUID = Field(foreign_key="asset.id", ondelete="CASCADE")
    existing_owner_id: uuid.UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    similarity: float
    status: ConflictStatus = Field(sa_column=enum_column(ConflictStatus))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    resolved_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    resolution_note: str | None = Field(default=None, max_length=1000)


class FaceIndexGeneration(SQLModel, table=True):
    """Counts changes to the set of active templates (one row).

    Each API process keeps its own face index and remembers the generation it holds; when the
    database's is newer, another process enrolled or removed a face, and the index is rebuilt.
    """

    __tablename__ = "face_index_generation"

    id: int = Field(default=1, primary_key=True)
    generation: int = Field(sa_column=Column(BigInteger, nullable=False))
