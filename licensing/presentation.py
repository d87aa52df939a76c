"""What a requester is shown of a clearance: nothing that names a face they were not granted.

A likeness whose owner has not consented to this requester appears with no id, no handle
and no score: "a registered person who has not consented" (ARCHITECTURE: no face search for
strangers). Characters and styles, and likenesses the requester was granted, are named. No
face's similarity reaches a requester, granted or not: it is biometric detail, for the
likeness's owner (their asset's usage) and for moderators.
"""

import uuid
from typing import Any

from sqlmodel import Session, select

from licensing.clearance import ClearanceResult
from licensing.models import ApprovalStatus, Clearance, ClearedAsset, FoundIn, UseApproval
from licensing.repository import requesters_clearance
from licensing.schemas import ClearancePublic, TouchedAsset
from policies.decisions import NOT_CONSENTED
from rights.claims.standing import ClaimStanding, claim_standings
from rights.models import Asset, AssetKind


def verified_assets(session: Session, assets: list[tuple[uuid.UUID, AssetKind]]) -> set[uuid.UUID]:
    """The assets among ``assets`` whose holder's claim is verified."""
    return {
        asset_id
        for asset_id, standing in claim_standings(session, assets=assets).items()
        if standing == ClaimStanding.verified
    }


def clearance_for_requester(
    result: ClearanceResult, *, verified: set[uuid.UUID]
) -> ClearancePublic:
    evidence = {cleared.asset_id: cleared.matched_by for cleared in result.cleared_assets}
    assets = [
        touched_asset(
            asset_id=asset.asset_id,
            handle=asset.handle,
            kind=asset.kind.value,
            outcome=asset.outcome,
            reasons=[reason.text for reason in asset.requester_reasons],
            matched_by=evidence.get(asset.asset_id, []),
            disclosed=asset.disclosed,
            approval=None,
            holder_verified=asset.asset_id in verified,
        )
        for asset in result.decision.assets
    ]
    return _public(result.clearance, assets=assets, token=result.token)


def stored_clearance_for_requester(
    session: Session, *, clearance_id: uuid.UUID, requester_id: uuid.UUID
) -> ClearancePublic:
    clearance = requesters_clearance(session, requester_id=requester_id, clearance_id=clearance_id)
    rows = session.exec(
        select(ClearedAsset, Asset.handle, Asset.kind, UseApproval.status)
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .outerjoin(UseApproval, UseApproval.cleared_asset_id == ClearedAsset.id)
        .where(ClearedAsset.clearance_id == clearance.id, ClearedAsset.found_in == FoundIn.request)
        .order_by(Asset.handle)
    ).all()
    verified = verified_assets(session, [(cleared.asset_id, kind) for cleared, _, kind, _ in rows])
    assets = [
        stored_touched_asset(
            cleared,
            handle=handle,
            kind=kind,
            approval=approval,
            holder_verified=cleared.asset_id in verified,
        )
        for cleared, handle, kind, approval in rows
    ]
    return _public(clearance, assets=assets, token=None)


def stored_touched_asset(
    cleared: ClearedAsset,
    *,
    handle: str,
    kind: AssetKind,
    approval: ApprovalStatus | None,
    holder_verified: bool | None = None,
) -> TouchedAsset:
    """A recorded touch, as its requester may see it."""
    return touched_asset(
        holder_verified=holder_verified,
        asset_id=cleared.asset_id,
        handle=handle,
        kind=kind.value,
        outcome=cleared.outcome,
        reasons=[reason["text"] for reason in cleared.reasons],
        matched_by=cleared.matched_by,
        disclosed=cleared.disclosed,
        approval=approval,
    )


def touched_asset(
    *,
    asset_id: uuid.UUID,
    handle: str,
    kind: str,
    outcome,
    reasons: list[str],
    matched_by: list[dict[str, Any]],
    disclosed: bool,
    approval,
    holder_verified: bool | None = None,
) -> TouchedAsset:
    if not disclosed:
        return TouchedAsset(
            asset_id=None,
            handle=None,
            kind=kind,
            outcome=outcome,
            reasons=[NOT_CONSENTED.text],
            matched_by=[_without_score(evidence) for evidence in matched_by],
        )
    return TouchedAsset(
        asset_id=asset_id,
        handle=handle,
        kind=kind,
        outcome=outcome,
        reasons=reasons,
        matched_by=[
            _without_score(evidence) if evidence.get("kind") == "face" else evidence
            for evidence in matched_by
        ],
        approval=approval,
        holder_verified=holder_verified,
    )


def _without_score(evidence: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in evidence.items() if key != "score"}


def _content_shown(stored: dict[str, Any] | str) -> dict[str, Any]:
    """A stored content category; clearances recorded before the content check stored the
    declared categories' names alone."""
    if isinstance(stored, str):
        return {"category": stored, "declared": True, "detected_by": []}
    return stored


def _public(
    clearance: Clearance, *, assets: list[TouchedAsset], token: str | None
) -> ClearancePublic:
    return ClearancePublic(
        id=clearance.id,
        outcome=clearance.outcome,
        reasons=clearance.reasons,
        request_digest=clearance.request_digest,
        input_media_sha256=clearance.input_media_sha256,
        content=[_content_shown(stored) for stored in clearance.content_categories],
        assets=assets,
        quote=clearance.quote,
        created_at=clearance.created_at,
        token=token,
        token_expires_at=clearance.token_expires_at,
    )
