"""API shapes of claims."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from clearhouse.schemas import RequestBody, https_link
from rights.claims.models import ClaimDocument, ClaimStatus, EvidenceKind
from rights.claims.standing import ClaimStanding


class ClaimEvidence(RequestBody):
    """What right you hold to the asset. A registration number for a trademark or copyright
    registration, an https:// address for a link; a document (PDF, PNG or JPEG) is sent as
    the `document` file beside this JSON (a multipart form)."""

    evidence_kind: EvidenceKind
    reference: str | None = Field(
        default=None,
        min_length=3,
        max_length=500,
        description="The registration number, or the https:// link; none for a document.",
    )
    statement: str = Field(
        min_length=20,
        max_length=2000,
        description="In your own words: which right you hold and how (owner, licensee, heir).",
    )

    @model_validator(mode="after")
    def _reference_by_kind(self) -> "ClaimEvidence":
        if self.evidence_kind == EvidenceKind.document:
            if self.reference is not None:
                raise ValueError("a document needs no `reference`: send the file as `document`")
        elif self.reference is None:
            raise ValueError(f"a {self.evidence_kind.value} needs a `reference`")
        elif self.evidence_kind == EvidenceKind.link:
            https_link(self.reference)
        return self


class DocumentPublic(BaseModel):
    content_type: str
    byte_size: int
    sha256: str
    uploaded_at: datetime

    @classmethod
    def of(cls, document: ClaimDocument | None) -> "DocumentPublic | None":
        """What is shown of an evidence document: never its bytes (they are downloaded)."""
        if document is None:
            return None
        return cls(
            content_type=document.content_type,
            byte_size=document.byte_size,
            sha256=document.sha256,
            uploaded_at=document.uploaded_at,
        )


class ClaimPublic(BaseModel):
    """A claim as its owner and staff see it."""

    id: uuid.UUID
    asset_id: uuid.UUID
    asset_handle: str
    asset_name: str
    status: ClaimStatus
    evidence_kind: EvidenceKind
    reference: str | None
    statement: str
    document: DocumentPublic | None
    submitted_at: datetime
    decided_at: datetime | None
    decision_reason: str | None


class ClaimStatusPublic(BaseModel):
    """Where the asset's claim stands; its claim, when there is one."""

    asset_id: uuid.UUID
    standing: ClaimStanding = Field(
        description="verified (a likeness: by its enrolment), pending, rejected, or "
        "unclaimed. Only a verified asset earns; the others' shares are held."
    )
    claim: ClaimPublic | None


class ClaimDecision(RequestBody):
    decision: Literal["verify", "reject"]
    reason: str = Field(
        min_length=3, max_length=1000, description="Why: the owner reads it, and the audit log."
    )
