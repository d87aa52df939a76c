"""Submitting evidence for a claim, and staff's decision on it.

An owner submits evidence for one of their characters or styles, and may replace it until it
is verified (new evidence for a rejected claim opens it again). Staff list the pending claims,
read the evidence and verify or reject it, never their own. The decision locks its claim for
update (see rights/claims/standing.py for why a release cannot slip between) and settles the
asset's held shares in the same transaction: paid in when verified, back to the creators when
rejected (payouts/held.py), unless a dispute about the asset says otherwise
(payouts/earning.py). Every submission and decision is in the audit chain.
"""

import uuid
from dataclasses import dataclass

from sqlmodel import Session, delete, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import utcnow
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from notifications.kinds import NoticeKind
from notifications.service import notify
from payouts.earning import lock_asset, settle_held_shares
from rights.authority import Action, may
from rights.claims.errors import (
    ClaimAlreadyDecided,
    ClaimAlreadyVerified,
    NotClaimable,
    PartyToClaim,
    UnusableEvidence,
)
from rights.claims.models import AssetClaim, ClaimDocument, ClaimStatus, EvidenceKind
from rights.claims.schemas import ClaimEvidence
from rights.evidence import documents_by_id, store_document
from rights.models import Asset, AssetKind


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
        stored = store_document(session, owner_id=owner.id, data=document, now=now)
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
    document = documents_by_id(session, [claim.document_id]).get(claim.document_id)
    return ClaimView(claim=claim, asset=asset, document=document)


def claim_for_staff(session: Session, *, claim_id: uuid.UUID) -> ClaimView:
    row = session.exec(
        select(AssetClaim, Asset)
        .join(Asset, Asset.id == AssetClaim.asset_id)
        .where(AssetClaim.id == claim_id)
    ).first()
    if row is None:
        raise NotFound("No claim with this id.")
    claim, asset = row
    document = documents_by_id(session, [claim.document_id]).get(claim.document_id)
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
    documents = documents_by_id(session, [claim.document_id for claim, _ in rows])
    return [
        ClaimView(claim=claim, asset=asset, document=documents.get(claim.document_id))
        for claim, asset in rows
    ], total


def decide_claim(
    session: Session, *, staff: Account, claim_id: uuid.UUID, verify: bool, reason: str
) -> ClaimView:
    """Verify or reject a pending claim and settle its asset's held shares (see the module)."""
    asset_id = session.exec(select(AssetClaim.asset_id).where(AssetClaim.id == claim_id)).first()
    if asset_id is None:
        raise NotFound("No claim with this id.")
    asset = lock_asset(session, asset_id)
    claim = session.exec(
        select(AssetClaim).where(AssetClaim.id == claim_id).with_for_update()
    ).one()
    # A party: who sent it, or anyone who may see the asset (an organisation's members, in
    # every role, whose asset earns for them), as for a dispute about it.
    if claim.owner_id == staff.id or may(
        session, account_id=staff.id, action=Action.view, owner_id=asset.owner_id, asset=asset
    ):
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
    # Verified: paid in, unless a dispute about the asset is undecided (its decision settles).
    entries = settle_held_shares(
        session, asset=asset, reason=f"claim {claim.status.value}: {reason}", now=now
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
