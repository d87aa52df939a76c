"""Tables of reference pictures: their fingerprints, the catalogue's removals and its
generation counter."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import UTCDateTime, new_id, utcnow


class ReferenceImage(SQLModel, table=True):
    """A picture an owner registered for a character or style, as its perceptual
    fingerprint (and its CLIP embedding, when a model was configured). The picture itself is
    not kept: nothing of the artwork can be shown or leak from here, and nothing but these is
    needed to match. Changing the fingerprint (its version) means owners upload their
    pictures again."""

    __tablename__ = "asset_reference_image"
    __table_args__ = (
        UniqueConstraint("asset_id", "sha256", name="uq_asset_reference_image_asset_id_sha256"),
        CheckConstraint(
            "(embedding_model IS NULL) = (embedding IS NULL)", name="embedding_with_its_model"
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    asset_id: uuid.UUID = Field(foreign_key="asset.id", index=True, ondelete="CASCADE")
    sha256: str = Field(max_length=64, description="Of the uploaded file: one upload once.")
    byte_size: int = Field(description="Of the uploaded file.")
    fingerprint_version: str = Field(max_length=80)
    fingerprint: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    embedding_model: str | None = Field(
        default=None,
        max_length=80,
        description="The CLIP model that embedded it (clip_embeddings.ClipEncoder.model_key); "
        "none when uploaded while no model was configured: matched by fingerprint only.",
    )
    embedding: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary, nullable=True),
        description="Its CLIP embedding, float32 little-endian, unit length.",
    )
    generation: int = Field(
        sa_column=Column(BigInteger, nullable=False, index=True),
        description="The catalogue generation that added it: processes load what is newer.",
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ReferenceImageRemoval(SQLModel, table=True):
    """A reference removed from the catalogue (deleted, or its asset deleted), so that every
    API process drops it from its index without reloading the others."""

    __tablename__ = "reference_image_removal"

    generation: int = Field(sa_column=Column(BigInteger, primary_key=True))
    reference_id: uuid.UUID = Field(primary_key=True)
    removed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ReferenceCatalogueGeneration(SQLModel, table=True):
    """Counts changes to the reference pictures (one row); each change takes this row's lock
    and the next number, so numbers are handed out in commit order."""

    __tablename__ = "reference_catalogue_generation"

    id: int = Field(default=1, primary_key=True)
    generation: int = Field(sa_column=Column(BigInteger, nullable=False))
