"""API shapes of audit entries, chain reports and signed checkpoints."""

from typing import Any

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody


class AuditEntryPublic(BaseModel):
    """One entry about the caller's asset. Its place in the log and its link to the entry
    before (which may be another holder's) are not shown: see the README's audit section."""

    action: str
    body: dict[str, Any] = Field(description="When, who acted, on which asset, and details.")
    hash: str = Field(description="The entry's SHA-256 in the chain; a checkpoint names it.")


class ChainReportPublic(BaseModel):
    ok: bool
    entries_checked: int
    first_broken_seq: int | None
    reason: str | None


class AuditCheckpoint(BaseModel):
    token: str = Field(
        description="ES256 JWS naming your latest audit entry by its hash; keep it to check later."
    )
    hash: str = Field(description="The hash of the entry it names.")


class CheckpointVerifyRequest(RequestBody):
    token: str = Field(min_length=1, max_length=20_000)


class CheckpointReportPublic(BaseModel):
    valid: bool = Field(description="Signed by this platform.")
    consistent: bool = Field(description="The log still holds, unchanged, the entry signed.")
    hash: str | None = Field(description="The hash of the entry the checkpoint names.")
    reason: str | None
