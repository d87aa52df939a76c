"""API shapes of reference pictures."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel


class ReferenceImagePublic(SQLModel):
    """A registered reference picture: which file it was (its digest and size), never the
    picture, its fingerprint or its embedding."""

    id: uuid.UUID
    asset_id: uuid.UUID
    sha256: str
    byte_size: int
    embedding_model: str | None = Field(
        description="The CLIP model that embedded it at upload: pictures alike in content are "
        "found as well as copies, while the operator keeps that model configured. Null: "
        "uploaded when no CLIP model was configured, so only copies are found (upload it "
        "again, after deleting it, to have it embedded)."
    )
    created_at: datetime
