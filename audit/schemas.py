"""API shapes of audit entries, chain reports and signed checkpoints."""

from typing import Any

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody


class AuditEntryPublic(BaseModel):
    seq: int
    action: str
    body: dict[str, Any]
    prev_hash: str
    hash: str


class ChainReportPublic(BaseModel):
    ok: bool
    entries_checked: int
    first_broken_seq: int | None
    reason: str | None


class AuditCheckpoint(BaseModel):
    token: str = Field(description="ES256 JWS over the chain's head; keep it to check later.")
    seq: int
    hash: str


class CheckpointVerifyRequest(RequestBody):
    token: str = Field(min_length=1, max_length=20_000)


class CheckpointReportPublic(BaseModel):
    valid: bool = Field(description="Signed by this platform.")
    consistent: bool = Field(description="The log still holds, unchanged, what was signed.")
    seq: int | None
    reason: str | None
