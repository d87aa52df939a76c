"""The owner's view of every request that touched one of their assets, and what came of the
generation that ran it (released, blocked, cancelled, ...) when our generator ran one, and
whether its released clip was taken down since."""

import uuid

from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.pagination import PageParams, paginate
from generator.models import GenerationJob
from licensing.models import Clearance, ClearedAsset, UseApproval
from licensing.schemas import AssetUse
from policies.decisions import AssetOutcome


def asset_usage(
    session: Session,
    *,
    asset_id: uuid.UUID,
    outcome: AssetOutcome | None,
    taken_down: bool | None,
    params: PageParams,
) -> tuple[list[AssetUse], int]:
    query = (
        select(
            ClearedAsset,
            Clearance,
            Account.display_name,
            UseApproval.id,
            UseApproval.status,
            GenerationJob.id,
            GenerationJob.state,
            GenerationJob.taken_down_at,
        )
        .join(Clearance, Clearance.id == ClearedAsset.clearance_id)
        .join(Account, Account.id == Clearance.requester_id)
        .outerjoin(UseApproval, UseApproval.cleared_asset_id == ClearedAsset.id)
        .outerjoin(GenerationJob, GenerationJob.clearance_id == Clearance.id)
        .where(ClearedAsset.asset_id == asset_id)
    )
    if outcome is not None:
        query = query.where(ClearedAsset.outcome == outcome)
    if taken_down is not None:
        flagged = col(GenerationJob.taken_down_at)
        query = query.where(flagged.is_not(None) if taken_down else flagged.is_(None))
    rows, total = paginate(
        session, query.order_by(ClearedAsset.created_at.desc(), ClearedAsset.id), params
    )
    return [
        AssetUse(
            clearance_id=clearance.id,
            created_at=cleared.created_at,
            outcome=cleared.outcome,
            found_in=cleared.found_in,
            clearance_outcome=clearance.outcome,
            requester_id=clearance.requester_id,
            requester_name=requester_name,
            declared_use=clearance.declared_use,
            prompt=clearance.prompt,
            reasons=cleared.reasons,
            matched_by=cleared.matched_by,
            fee_minor=cleared.fee_minor,
            approval_id=approval_id,
            approval=approval,
            generation_id=generation_id,
            generation_state=generation_state,
            taken_down_at=taken_down_at,
        )
        for (
            cleared,
            clearance,
            requester_name,
            approval_id,
            approval,
            generation_id,
            generation_state,
            taken_down_at,
        ) in rows
    ], total
