"""API shapes of protected entries."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from rights.protected.models import ProtectedKind
from rights.schemas import Aliases, Name


class ProtectedEntryCreate(RequestBody):
    kind: ProtectedKind = Field(description="character, style or person (a public figure).")
    name: Name
    aliases: Aliases = Field(default_factory=list)
    description: str = Field(
        default="",
        max_length=5000,
        description="What it looks like or who they are, in words: prompts that describe it "
        "without the name are denied too. Never a face template.",
    )


class ProtectedEntryUpdate(RequestBody):
    name: Name | None = None
    aliases: Aliases | None = None
    description: str | None = Field(default=None, max_length=5000)


class ProtectedEntryPublic(BaseModel):
    id: uuid.UUID
    kind: ProtectedKind
    name: str
    aliases: list[str]
    description: str
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None = Field(description="When a holder's claim to it was upheld.")
    claimed_by_asset_id: uuid.UUID | None = Field(description="The asset that took its place.")
