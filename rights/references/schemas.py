"""API shapes of reference pictures."""

import uuid
from datetime import datetime

from sqlmodel import SQLModel


class ReferenceImagePublic(SQLModel):
    """A registered reference picture: which file it was (its digest and size), never the
    picture or its fingerprint."""

    id: uuid.UUID
    asset_id: uuid.UUID
    sha256: str
    byte_size: int
    created_at: datetime
