"""Reading what the evaluator decides on, for one request, in a handful of queries.

Everything is read inside the clearance's own write transaction, the grants under a shared
row lock: a revocation (which locks its grant for update) that commits before this read is
seen, and one that comes after waits until the clearance is recorded, so no clearance is
recorded relying on a grant whose revocation had already returned to its owner.
"""

import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from licensing.models import ApprovalStatus, Clearance, ClearedAsset, UseApproval
from policies.decisions import AssetOutcome, ClearanceOutcome
from policies.document import PolicyDocument
from policies.facts import (
    AssetUsage,
    GrantSnapshot,
    MatchedAsset,
    OwnerApproval,
    PolicySnapshot,
    Requester,
)
from policies.models import PolicyVersion
from rights.models import Asset, ConsentGrant, GrantStatus


@dataclass(frozen=True)
class ClearanceFacts:
    requester: Requester
    assets: tuple[MatchedAsset, ...]
    approvals: tuple[OwnerApproval, ...]


def read_facts(
    session: Session,
    *,
    requester: Account,
    asset_ids: Collection[uuid.UUID],
    request_digest: str,
    now: datetime,
) -> ClearanceFacts:
    """The requester, every live asset among ``asset_ids`` with its active grants and usage,
    and the owners' unexpired approvals of this very request."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    ids = sorted(set(asset_ids))
    assets = _assets_with_owners(session, ids)
    grants = _active_grants(session, ids)
    today, total = _uses(session, ids, since=midnight)
    matched = tuple(
        MatchedAsset(
            id=asset.id,
            kind=asset.kind,
            handle=asset.handle,
            owner_id=asset.owner_id,
            owner_date_of_birth=owner_born,
            grants=tuple(grants.get(asset.id, ())),
            usage=AssetUsage(today=today[asset.id], total=total[asset.id]),
        )
        for asset, owner_born in assets
    )
    return ClearanceFacts(
        requester=Requester(
            account_id=requester.id,
            date_of_birth=requester.date_of_birth,
            generations_today=_generations_since(session, requester.id, midnight),
        ),
        assets=matched,
        approvals=_approvals(session, requester.id, request_digest, now=now),
    )


def _assets_with_owners(session: Session, ids: list[uuid.UUID]) -> list[tuple[Asset, date | None]]:
    if not ids:
        return []
    query = (
        select(Asset, Account.date_of_birth)
        .join(Account, Account.id == Asset.owner_id)
        .where(col(Asset.id).in_(ids), Asset.deleted_at.is_(None))
        .order_by(Asset.handle)
    )
    return list(session.exec(query).all())


def _active_grants(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[GrantSnapshot]]:
    if not ids:
        return {}
    query = (
        select(ConsentGrant, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.id == ConsentGrant.policy_version_id)
        .where(col(ConsentGrant.asset_id).in_(ids), ConsentGrant.status == GrantStatus.active)
        .with_for_update(of=ConsentGrant, read=True)
    )
    grants: dict[uuid.UUID, list[GrantSnapshot]] = {}
    for grant, policy in session.exec(query).all():
        grants.setdefault(grant.asset_id, []).append(
            GrantSnapshot(
                id=grant.id,
                asset_id=grant.asset_id,
                policy_version_id=grant.policy_version_id,
                status=grant.status,
                revoked_at=grant.revoked_at,
                policy=PolicySnapshot(
                    id=policy.id,
                    asset_id=policy.asset_id,
                    version=policy.version,
                    document=PolicyDocument.from_stored(policy.document),
                ),
            )
        )
    return grants


def _uses(
    session: Session, ids: list[uuid.UUID], *, since: datetime
) -> tuple[Counter[uuid.UUID], Counter[uuid.UUID]]:
    """Each asset's allowed uses in cleared requests, since ``since`` and in all."""
    if not ids:
        return Counter(), Counter()
    allowed = (
        select(ClearedAsset.asset_id, ClearedAsset.created_at)
        .join(Clearance, Clearance.id == ClearedAsset.clearance_id)
        .where(
            col(ClearedAsset.asset_id).in_(ids),
            ClearedAsset.outcome == AssetOutcome.allow,
            Clearance.outcome == ClearanceOutcome.cleared,
        )
        .subquery()
    )
    rows = session.exec(
        select(
            allowed.c.asset_id,
            func.count(),
            func.count().filter(allowed.c.created_at >= since),
        ).group_by(allowed.c.asset_id)
    ).all()
    total = Counter({asset_id: n for asset_id, n, _ in rows})
    today = Counter({asset_id: n for asset_id, _, n in rows})
    return today, total


def _generations_since(session: Session, requester_id: uuid.UUID, since: datetime) -> int:
    return session.exec(
        select(func.count()).where(
            Clearance.requester_id == requester_id,
            Clearance.outcome == ClearanceOutcome.cleared,
            Clearance.created_at >= since,
        )
    ).one()


def _approvals(
    session: Session, requester_id: uuid.UUID, digest: str, *, now: datetime
) -> tuple[OwnerApproval, ...]:
    rows = session.exec(
        select(UseApproval).where(
            UseApproval.requester_id == requester_id,
            UseApproval.request_digest == digest,
            UseApproval.status == ApprovalStatus.approved,
            UseApproval.expires_at > now,
        )
    ).all()
    return tuple(
        OwnerApproval(
            asset_id=row.asset_id,
            requester_id=row.requester_id,
            request_digest=row.request_digest,
            expires_at=row.expires_at,
        )
        for row in rows
    )
