"""Owners' answers to requests that wait for them.

An approval names one requester, one asset and one request digest: the requester sends the
very same request again and it is cleared for that asset until the approval expires. A
pending request the owner leaves unanswered expires too, and counts as no.

An owner is asked one request of a requester's at a time for each asset: while one is
pending, the requester's other requests for the asset are denied without asking the owner,
naming the one that waits (policies/evaluator.py); the same request sent again still waits.
Once it is answered or expires, another may be asked.

A decline stands for the requester and the asset under the policy version the request was
decided under (``expires_at``: ``CLEARHOUSE_DECLINE_DAYS`` after it): the requester's further
requests for it are denied without asking the owner again (policies/evaluator.py). It ends
early when the owner consents to a new policy version, or approves the declined request after
all. Not bound to the request digest: a changed word would otherwise ask the owner again.
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from audit.service import record_event
from clearhouse.accounts.models import Account
from clearhouse.db import utcnow
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from clearhouse.settings import Settings
from licensing.errors import ApprovalClosed
from licensing.models import ApprovalStatus, Clearance, ClearedAsset, UseApproval
from licensing.schemas import ApprovalPublic
from rights.authority import Action, assets_in_reach, may
from rights.models import Asset


def list_for_owner(
    session: Session,
    *,
    owner_id: uuid.UUID,
    status: ApprovalStatus | None,
    now: datetime,
    params: PageParams,
) -> tuple[list[ApprovalPublic], int]:
    """The requests waiting for, or answered by, whoever manages the asset (its owner, its
    organisation's managers, the person's agent, the estate: rights/authority.py)."""
    in_reach = assets_in_reach(session, account_id=owner_id, action=Action.manage)
    query = _with_request().join(Asset, Asset.id == UseApproval.asset_id).where(in_reach)
    if status is not None:
        query = query.where(UseApproval.status == status)
    if status == ApprovalStatus.pending:
        query = query.where(UseApproval.expires_at > now)
    rows, total = paginate(session, query.order_by(UseApproval.created_at, UseApproval.id), params)
    return [_public(*row) for row in rows], total


def answer(
    session: Session, *, owner: Account, approval_id: uuid.UUID, approve: bool, settings: Settings
) -> ApprovalPublic:
    """Approve or decline a pending request on an asset ``owner`` manages, or approve one
    they declined while the decline stands; audited in the asset's log, naming who answered."""
    row = session.exec(
        _with_request().where(UseApproval.id == approval_id).with_for_update(of=UseApproval)
    ).first()
    asset = session.get(Asset, row[0].asset_id) if row is not None else None
    if asset is None or not may(
        session, account_id=owner.id, action=Action.manage, owner_id=asset.owner_id, asset=asset
    ):
        raise NotFound("No request with this id waits for you.")
    approval = row[0]
    now = utcnow()
    if approval.status == ApprovalStatus.approved or (
        approval.status == ApprovalStatus.declined and not approve
    ):
        raise ApprovalClosed(f"You {approval.status.value} this request already.")
    if approval.expires_at <= now:
        raise ApprovalClosed(_LAPSED[approval.status])
    approval.status = ApprovalStatus.approved if approve else ApprovalStatus.declined
    approval.decided_at = now
    approval.expires_at = now + (
        timedelta(hours=settings.approval_hours)
        if approve
        else timedelta(days=settings.decline_days)
    )
    session.add(approval)
    record_event(
        session,
        action=f"use.{approval.status.value}",
        actor_id=owner.id,
        asset_id=approval.asset_id,
        details={"approval_id": str(approval.id), "requester_id": str(approval.requester_id)},
    )
    session.flush()
    return _public(*row)


_LAPSED = {
    ApprovalStatus.pending: "This request expired before it was answered (or its requester "
    "deleted their account); the requester may send it again.",
    ApprovalStatus.declined: "Your decline of this request no longer stands (or its requester "
    "deleted their account); the requester may send it again.",
}


def withdraw_requests(session: Session, *, requester_id: uuid.UUID, now: datetime) -> None:
    """End the requests ``requester_id`` left waiting, and the declines that stand against
    them (their account is deleted): they leave their owners' queues, and answering one is
    refused as an expired one is."""
    session.exec(
        update(UseApproval)
        .where(
            UseApproval.requester_id == requester_id,
            col(UseApproval.status).in_([ApprovalStatus.pending, ApprovalStatus.declined]),
            UseApproval.expires_at > now,
        )
        .values(expires_at=now)
    )


def _with_request():
    return (
        select(UseApproval, Clearance, Account.display_name)
        .join(ClearedAsset, ClearedAsset.id == UseApproval.cleared_asset_id)
        .join(Clearance, Clearance.id == ClearedAsset.clearance_id)
        .join(Account, Account.id == UseApproval.requester_id)
    )


def _public(approval: UseApproval, clearance: Clearance, requester_name: str) -> ApprovalPublic:
    return ApprovalPublic(
        id=approval.id,
        asset_id=approval.asset_id,
        clearance_id=clearance.id,
        requester_id=approval.requester_id,
        requester_name=requester_name,
        prompt=clearance.prompt,
        declared_use=clearance.declared_use,
        status=approval.status,
        created_at=approval.created_at,
        expires_at=approval.expires_at,
        decided_at=approval.decided_at,
    )
