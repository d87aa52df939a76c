"""The table of protected entries."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, LargeBinary, text
from sqlmodel import Column, Field, SQLModel, Text

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class ProtectedKind(StrEnum):
    character = "character"
    style = "style"
    person = "person"  # a public figure: by name and description only, never a face


class ProtectedEntry(SQLModel, table=True):
    """A well-known character, style or public figure with no owner on the platform.

    Matched in clearance like an asset's names and texts, and always denied. Retired when a
    holder's claim to it is upheld (``claimed_by_asset_id``): that asset takes its place.
    """

    __tablename__ = "protected_entry"
    __table_args__ = (
        # One live entry per kind and folded name: what makes a CSV import idempotent.
        Index(
            "uq_protected_entry_live_name",
            "kind",
            "name_key",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: ProtectedKind = Field(sa_column=enum_column(ProtectedKind))
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200, description="The name folded as prompts are.")
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSONDocument, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    description_embedding: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary),
        description="The description embedded (float32) when it was set, so no process embeds "
        "it again; None when it is empty or was set without one.",
    )
    embedding_model_key: str | None = Field(default=None, max_length=64)
    catalogue_generation: int = Field(
        default=0,
        sa_column=Column(BigInteger, nullable=False, index=True, server_default="0"),
        description="The text catalogue's count when it last changed (rights/matching/store.py).",
    )
    created_by: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    retired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    claimed_by_asset_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="asset.id",
        ondelete="SET NULL",
        description="The asset whose claim retired this entry.",
    )
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))

    @property
    def listed(self) -> bool:
        """Whether clearance matches it now."""
        return self.deleted_at is None and self.retired_at is None
