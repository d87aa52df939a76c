"""Claims as their owner and staff see them (the API's and the portal's)."""

from sqlmodel import Session

from rights.claims import service
from rights.claims.schemas import ClaimPublic, ClaimStatusPublic, DocumentPublic
from rights.claims.standing import claim_standings
from rights.models import Asset


def claim_public(view: service.ClaimView) -> ClaimPublic:
    claim, document = view.claim, view.document
    return ClaimPublic(
        id=claim.id,
        asset_id=claim.asset_id,
        asset_handle=view.asset.handle,
        asset_name=view.asset.name,
        status=claim.status,
        evidence_kind=claim.evidence_kind,
        reference=claim.reference,
        statement=claim.statement,
        document=DocumentPublic.of(document),
        submitted_at=claim.submitted_at,
        decided_at=claim.decided_at,
        decision_reason=claim.decision_reason,
    )


def claim_status_public(session: Session, asset: Asset) -> ClaimStatusPublic:
    view = service.owned_claim(session, asset=asset)
    standing = claim_standings(session, assets=[(asset.id, asset.kind)])[asset.id]
    return ClaimStatusPublic(
        asset_id=asset.id, standing=standing, claim=None if view is None else claim_public(view)
    )
