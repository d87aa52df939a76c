"""Tables of the IP text check: stored text embeddings and the catalogue's change counter."""

import uuid

from sqlalchemy import BigInteger, LargeBinary
from sqlmodel import Column, Field, SQLModel


class AssetTextEmbedding(SQLModel, table=True):
    """One of an asset's texts (`CatalogueAsset.semantic_texts`) embedded by one sentence model.

    Written with the asset, in the same transaction, so no process embeds a registered text
    again; ``text_sha256`` says which text it is, so a row that no longer matches the asset's
    text (changed since) is never used.
    """

    __tablename__ = "asset_text_embedding"

    asset_id: uuid.UUID = Field(foreign_key="asset.id", primary_key=True, ondelete="CASCADE")
    model_key: str = Field(primary_key=True, max_length=64)
    position: int = Field(primary_key=True, description="Index in the asset's semantic texts.")
    text_sha256: str = Field(max_length=64)
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32, unit length


class TextCatalogueGeneration(SQLModel, table=True):
    """Counts changes to registered assets' names and texts (one row).

    Each change stamps the asset with the new count (``asset.catalogue_generation``); a process
    whose catalogue is older loads the assets stamped after it, so every process matches
    against what is registered now.
    """

    __tablename__ = "text_catalogue_generation"

    id: int = Field(default=1, primary_key=True)
    generation: int = Field(sa_column=Column(BigInteger, nullable=False))
