"""The owner's view of every request that touched one of their assets, and what came of the
generation that ran it (released, blocked, cancelled, ...) when our generator ran one, and
whether its released clip was taken down since; or, for a third-party generator's request,
whether its output was released (licensed and charged: licensing/third_party_release.py).
Each released use shows what its licence charged for the asset.

One query serves the API (one asset's usage) and the portal (every use of all the owner's
assets): it is scoped by the owner inside, so nobody lists another holder's uses, and what
came of each use (:class:`UseState`) is computed by the database, so a filter on it and the
badge the owner reads can never disagree.
"""

import uuid
from datetime import datetime

from sqlalchemy import and_, case, or_
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.pagination import PageParams, paginate
from generator.models import GenerationJob, JobState
from licensing.models import ApprovalStatus, Clearance, ClearedAsset, Licence, UseApproval
from licensing.schemas import AssetUse, UseState
from policies.decisions import AssetOutcome, ClearanceOutcome
from rights.models import Asset


def _use_state(now: datetime):
    """What came of one use, in the order that decides it: a clip taken down is no longer
    "released", a denial by any other asset blocks the whole request, and so on. An approval
    asked for a denied request (recorded before a denied request stopped asking owners) keeps
    its own state."""
    job_state = col(GenerationJob.state)
    approval = col(UseApproval.status)
    return case(
        (col(GenerationJob.taken_down_at).is_not(None), UseState.taken_down.value),
        (job_state == JobState.released, UseState.released.value),
        # A third-party generator's release: licensed, with no generation.
        (
            and_(col(GenerationJob.id).is_(None), col(Licence.id).is_not(None)),
            UseState.released.value,
        ),
        (job_state == JobState.cancelled, UseState.cancelled.value),
        (job_state == JobState.failed, UseState.failed.value),
        (
            or_(job_state == JobState.blocked, ClearedAsset.outcome == AssetOutcome.deny),
            UseState.blocked.value,
        ),
        (
            and_(approval == ApprovalStatus.pending, col(UseApproval.expires_at) > now),
            UseState.pending.value,
        ),
        (approval == ApprovalStatus.pending, UseState.expired.value),
        (approval == ApprovalStatus.declined, UseState.declined.value),
        (job_state.is_not(None), UseState.generating.value),
        (approval == ApprovalStatus.approved, UseState.approved.value),
        # Another asset (or the requester) denied the request: whatever this asset's policy
        # said, nothing was cleared and its owner was not asked.
        (Clearance.outcome == ClearanceOutcome.denied, UseState.blocked.value),
        # No approval of its own: the same request, sent while an earlier one waited.
        (ClearedAsset.outcome == AssetOutcome.needs_approval, UseState.repeated.value),
        else_=UseState.cleared.value,
    )


def owner_usage(
    session: Session,
    *,
    owner_id: uuid.UUID,
    asset_id: uuid.UUID | None,
    outcome: AssetOutcome | None,
    state: UseState | None,
    taken_down: bool | None,
    now: datetime,
    params: PageParams,
) -> tuple[list[AssetUse], int]:
    """Uses of the owner's assets (deleted ones too: their history stays), newest first; with
    ``asset_id``, of that asset only (another holder's asset lists nothing)."""
    use_state = _use_state(now).label("use_state")
    query = (
        select(
            ClearedAsset,
            Clearance,
            Asset.handle,
            Asset.name,
            Account.display_name,
            UseApproval.id,
            UseApproval.status,
            UseApproval.expires_at,
            GenerationJob.id,
            GenerationJob.state,
            GenerationJob.taken_down_at,
            Licence.price_minor,
            use_state,
        )
        .join(Asset, Asset.id == ClearedAsset.asset_id)
        .join(Clearance, Clearance.id == ClearedAsset.clearance_id)
        .join(Account, Account.id == Clearance.requester_id)
        .outerjoin(UseApproval, UseApproval.cleared_asset_id == ClearedAsset.id)
        .outerjoin(GenerationJob, GenerationJob.clearance_id == Clearance.id)
        # One release per clearance (one job each, or one third-party charge), one licence
        # per asset in it.
        .outerjoin(
            Licence,
            and_(Licence.clearance_id == Clearance.id, Licence.asset_id == ClearedAsset.asset_id),
        )
        .where(Asset.owner_id == owner_id)
    )
    if asset_id is not None:
        query = query.where(ClearedAsset.asset_id == asset_id)
    if outcome is not None:
        query = query.where(ClearedAsset.outcome == outcome)
    if state is not None:
        query = query.where(_use_state(now) == state.value)
    if taken_down is not None:
        flagged = col(GenerationJob.taken_down_at)
        query = query.where(flagged.is_not(None) if taken_down else flagged.is_(None))
    rows, total = paginate(
        session, query.order_by(ClearedAsset.created_at.desc(), ClearedAsset.id), params
    )
    return [
        AssetUse(
            use_id=cleared.id,
            clearance_id=clearance.id,
            asset_id=cleared.asset_id,
            asset_handle=handle,
            asset_name=name,
            created_at=cleared.created_at,
            outcome=cleared.outcome,
            state=UseState(state_value),
            found_in=cleared.found_in,
            clearance_outcome=clearance.outcome,
            requester_id=clearance.requester_id,
            requester_name=requester_name,
            declared_use=clearance.declared_use,
            prompt=clearance.prompt,
            reasons=cleared.reasons,
            matched_by=cleared.matched_by,
            fee_minor=cleared.fee_minor,
            currency=(clearance.quote or {}).get("currency"),
            approval_id=approval_id,
            approval=approval,
            approval_expires_at=approval_expires_at,
            generation_id=generation_id,
            generation_state=generation_state,
            taken_down_at=taken_down_at,
            licence_fee_minor=licence_fee,
        )
        for (
            cleared,
            clearance,
            handle,
            name,
            requester_name,
            approval_id,
            approval,
            approval_expires_at,
            generation_id,
            generation_state,
            taken_down_at,
            licence_fee,
            state_value,
        ) in rows
    ], total
