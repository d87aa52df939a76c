"""Submitting evidence for a claim, and staff's decision on it.

An owner submits evidence for one of their characters or styles, and may replace it until it
is verified (new evidence for a rejected claim opens it again). Staff list the pending claims,
read the evidence and verify or reject it, never their own. The decision locks its claim for
update (see rights/claims/standing.py for why a release cannot slip between) and settles the
asset's held shares in the same transaction: paid in when verified, back to the creators when
rejected (payouts/held.py). Every submission and decision is in the audit chain.
"""

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import defer
from sqlmodel import Session, col, delete, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import utcnow
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from notifications.kinds import NoticeKind
from notifications.service import notify
from payouts.held import release_held_shares, return_held_shares
from rights.claims.errors import (
    ClaimAlreadyDecided,
    ClaimAlreadyVerified,
    NotClaimable,
    PartyToClaim,
    UnusableEvidence,
)
from rights.claims.models import AssetClaim, ClaimDocument, ClaimStatus, EvidenceKind
from rights.claims.schemas import ClaimEvidence
from rights.models import Asset, AssetKind

#: The largest evidence document kept.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def document_type(data: bytes) -> str:
    """The document's type from its first bytes (never from what the client says it is)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnusableEvidence(
            f"The document is {len(data)} bytes; send one of at most {MAX_DOCUMENT_BYTES} bytes."
        )
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    raise UnusableEvidence("The document is not a PDF, PNG or JPEG file; send one of those.")


def check_claimable(asset: Asset) -> None:
    if asset.kind == AssetKind.likeness:
        raise NotClaimable(
            "A likeness is verified by its enrolment (the liveness check shows the person): "
            "it needs no claim. Claims are for characters and styles."
        )


@dataclass(frozen=True)
class ClaimView:
    claim: AssetClaim
    asset: Asset
    document: ClaimDocument | None


def submit_evidence(
    session: Session,
    *,
    owner: Account,
    asset: Asset,
    evidence: ClaimEvidence,
    document: bytes | None,
) -> ClaimView:
    """Submit (or replace) the evidence of the owner's claim to ``asset``; it waits for staff."""
    check_claimable(asset)
    if (evidence.evidence_kind == EvidenceKind.document) != (document is not None):
        raise UnusableEvidence(
            "Send a document (a PDF, PNG or JPEG as `document`) with evidence_kind "
            "`document`, and with no other kind."
        )
    now = utcnow()
    claim = session.exec(
        select(AssetClaim).where(AssetClaim.asset_id == asset.id).with_for_update()
    ).first()
    if claim is not None and claim.status == ClaimStatus.verified:
        raise ClaimAlreadyVerified("This asset's claim is verified; its evidence stays as it is.")
    stored = None
    if document is not None:
        stored = ClaimDocument(
            owner_id=owner.id,
            content_type=document_type(document),
            byte_size=len(document),
            sha256=hashlib.sha256(document).hexdigest(),
            content=document,
            uploaded_at=now,
        )
        session.add(stored)
        session.flush()
    replaced = claim.document_id if claim is not None else None
    if claim is None:
        claim = AssetClaim(asset_id=asset.id, owner_id=owner.id, submitted_at=now)
    claim.status = ClaimStatus.pending
    claim.evidence_kind = evidence.evidence_kind
    claim.reference = evidence.reference
    claim.statement = evidence.statement
    claim.document_id = stored.id if stored is not None else None
    claim.submitted_at = now
    claim.decided_at = claim.decided_by = claim.decision_reason = None
    session.add(claim)
    session.flush()
    if replaced is not None:
        # The replaced document goes: the audit log keeps its digest.
        session.exec(delete(ClaimDocument).where(ClaimDocument.id == replaced))
    record_event(
        session,
        action="claim.submitted",
        actor_id=owner.id,
        asset_id=asset.id,
        details={
            "claim_id": str(claim.id),
            "evidence_kind": evidence.evidence_kind.value,
            "reference": evidence.reference,
            "document_sha256": stored.sha256 if stored is not None else None,
        },
    )
    return ClaimView(claim=claim, asset=asset, document=stored)


def owned_claim(session: Session, *, asset: Asset) -> ClaimView | None:
    """The claim of an asset already known to be the caller's."""
    claim = session.exec(select(AssetClaim).where(AssetClaim.asset_id == asset.id)).first()
    if claim is None:
        return None
    document = _documents(session, [claim.document_id]).get(claim.document_id)
    return ClaimView(claim=claim, asset=asset, document=document)


def _documents(
    session: Session, document_ids: list[uuid.UUID | None]
) -> dict[uuid.UUID, ClaimDocument]:
    """The documents by id, their bytes left unread until someone opens one."""
    wanted = [document_id for document_id in document_ids if document_id is not None]
    if not wanted:
        return {}
    rows = session.exec(
        select(ClaimDocument)
        .options(defer(ClaimDocument.content))
        .where(col(ClaimDocument.id).in_(wanted))
    ).all()
    return {row.id: row for row in rows}


def claim_for_staff(session: Session, *, claim_id: uuid.UUID) -> ClaimView:
    row = session.exec(
        select(AssetClaim, Asset)
        .join(Asset, Asset.id == AssetClaim.asset_id)
        .where(AssetClaim.id == claim_id)
    ).first()
    if row is None:
        raise NotFound("No claim with this id.")
    claim, asset = row
    document = _documents(session, [claim.document_id]).get(claim.document_id)
    return ClaimView(claim=claim, asset=asset, document=document)


def claims_for_staff(
    session: Session, *, status: ClaimStatus | None, params: PageParams
) -> tuple[list[ClaimView], int]:
    """Claims in ``status`` (all when None), the longest waiting first."""
    query = (
        select(AssetClaim, Asset)
        .join(Asset, Asset.id == AssetClaim.asset_id)
        .order_by(AssetClaim.submitted_at, AssetClaim.id)
    )
    if status is not None:
        query = query.where(AssetClaim.status == status)
    rows, total = paginate(session, query, params)
    documents = _documents(session, [claim.document_id for claim, _ in rows])
    return [
        ClaimView(claim=claim, asset=asset, document=documents.get(claim.document_id))
        for claim, asset in rows
    ], total


def decide_claim(
    session: Session, *, staff: Account, claim_id: uuid.UUID, verify: bool, reason: str
) -> ClaimView:
    """Verify or reject a pending claim and settle its asset's held shares (see the module)."""
    claim = session.exec(
        select(AssetClaim).where(AssetClaim.id == claim_id).with_for_update()
    ).first()
    if claim is None:
        raise NotFound("No claim with this id.")
    if claim.owner_id == staff.id:
        raise PartyToClaim("This claim is yours: another member of staff must decide it.")
    if claim.status != ClaimStatus.pending:
        raise ClaimAlreadyDecided(
            f"This claim was {claim.status.value} already"
            + (
                "."
                if claim.status == ClaimStatus.verified
                else "; the owner may send new evidence."
            )
        )
    now = utcnow()
    claim.status = ClaimStatus.verified if verify else ClaimStatus.rejected
    claim.decided_at, claim.decided_by, claim.decision_reason = now, staff.id, reason
    session.add(claim)
    session.flush()
    if verify:
        entries = release_held_shares(session, asset_id=claim.asset_id, now=now)
    else:
        entries = return_held_shares(
            session, asset_id=claim.asset_id, reason=f"claim rejected: {reason}", now=now
        )
    record_event(
        session,
        action=f"claim.{claim.status.value}",
        actor_id=staff.id,
        asset_id=claim.asset_id,
        details={
            "claim_id": str(claim.id),
            "reason": reason,
            "ledger_entries": [entry.key for entry in entries],
        },
    )
    notify(
        session,
        claim.owner_id,
        NoticeKind.claim_decided,
        [claim.id, claim.asset_id],
        {
            "claim_id": str(claim.id),
            "asset_id": str(claim.asset_id),
            "decision": claim.status.value,
            "reason": reason,
        },
        now=now,
    )
    return claim_for_staff(session, claim_id=claim.id)
