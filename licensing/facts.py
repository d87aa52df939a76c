"""Reading what the evaluator decides on, for one request, in a handful of queries.

Everything is read inside the clearance's own write transaction, the grants under a shared
row lock: a revocation (which locks its grant for update) that commits before this read is
seen, and one that comes after waits until the clearance is recorded, so no clearance is
recorded relying on a grant whose revocation had already returned to its owner.

What only some policies read is read only where one does: an asset's uses (which grow with
every use) where one of its active policies limits them, daily or in all; the owners'
approvals of this request where a policy asks for them; a requester's generations today
where the requester is under 18 (the only daily limit on requesters). Elsewhere the counts
are given as 0 and the approvals as none, which no rule reads: a popular asset or a busy
generator's key does not make each of its clearances slower.
"""

import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time

from sqlalchemy import Connection, Row, bindparam, func
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account, is_minor
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
from rights.models import MATCHED_STANDINGS, Asset, AssetStanding, ConsentGrant, GrantStatus


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
    """The requester, every live, active or disputed asset among ``asset_ids`` with its
    active grants and usage, and the owners' unexpired approvals of this very request."""
    day = now.astimezone(UTC).date()
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    ids = sorted(set(asset_ids))
    # The transaction's connection, for statements of plain columns: no ORM loading to pay.
    connection = session.connection()
    assets = _assets_with_owners(connection, ids)
    grants = _active_grants(connection, ids)
    limited = [asset for asset, held in grants.items() if any(map(_limits_uses, _policies(held)))]
    today, total = _uses(connection, limited, since=midnight)
    asks_approval = any(p.approval_required for held in grants.values() for p in _policies(held))
    matched = tuple(
        MatchedAsset(
            id=asset.id,
            kind=asset.kind,
            handle=asset.handle,
            owner_id=asset.owner_id,
            owner_date_of_birth=asset.date_of_birth,
            grants=tuple(grants.get(asset.id, ())),
            usage=AssetUsage(today=today[asset.id], total=total[asset.id]),
            deceased_without_estate=(
                asset.deceased_reported_at is not None and asset.estate_account_id is None
            ),
            disputed=asset.standing == AssetStanding.disputed,
        )
        for asset in assets
    )
    return ClearanceFacts(
        requester=Requester(
            account_id=requester.id,
            date_of_birth=requester.date_of_birth,
            generations_today=(
                _generations_since(connection, requester.id, midnight)
                if is_minor(requester.date_of_birth, day)
                else 0
            ),
        ),
        assets=matched,
        approvals=(
            _approvals(connection, requester.id, request_digest, now=now) if asks_approval else ()
        ),
    )


# Built once: building a query and its cache key costs more than the database takes to answer
# it, and these run on every clearance. Each reads plain columns, not ORM objects.
_ASSETS_WITH_OWNERS = (
    select(
        Asset.id,
        Asset.kind,
        Asset.handle,
        Asset.owner_id,
        Asset.deceased_reported_at,
        Asset.estate_account_id,
        Asset.standing,
        Account.date_of_birth,
    )
    .join(Account, Account.id == Asset.owner_id)
    .where(
        col(Asset.id).in_(bindparam("ids", expanding=True)),
        col(Asset.deleted_at).is_(None),
        # One in review or decided against (rights/overlaps/) neither licenses nor earns; a
        # disputed one (rights/disputes/) is read, to be denied.
        col(Asset.standing).in_(MATCHED_STANDINGS),
    )
    .order_by(Asset.handle)
)
_ACTIVE_GRANTS = (
    select(
        ConsentGrant.id,
        ConsentGrant.asset_id,
        ConsentGrant.policy_version_id,
        ConsentGrant.status,
        ConsentGrant.revoked_at,
        PolicyVersion.asset_id.label("policy_asset_id"),
        PolicyVersion.version,
        PolicyVersion.document,
    )
    .join(PolicyVersion, PolicyVersion.id == ConsentGrant.policy_version_id)
    .where(
        col(ConsentGrant.asset_id).in_(bindparam("ids", expanding=True)),
        ConsentGrant.status == GrantStatus.active,
    )
    .with_for_update(of=ConsentGrant, read=True)
)
_ALLOWED_USES = (
    select(ClearedAsset.asset_id, ClearedAsset.created_at)
    .join(Clearance, Clearance.id == ClearedAsset.clearance_id)
    .where(
        col(ClearedAsset.asset_id).in_(bindparam("ids", expanding=True)),
        ClearedAsset.outcome == AssetOutcome.allow,
        Clearance.outcome == ClearanceOutcome.cleared,
    )
    .subquery()
)
_USES = select(
    _ALLOWED_USES.c.asset_id,
    func.count(),
    func.count().filter(_ALLOWED_USES.c.created_at >= bindparam("since")),
).group_by(_ALLOWED_USES.c.asset_id)
_GENERATIONS_SINCE = select(func.count()).where(
    Clearance.requester_id == bindparam("requester_id"),
    Clearance.outcome == ClearanceOutcome.cleared,
    Clearance.created_at >= bindparam("since"),
)
_APPROVALS = select(
    UseApproval.asset_id,
    UseApproval.requester_id,
    UseApproval.request_digest,
    UseApproval.expires_at,
).where(
    UseApproval.requester_id == bindparam("requester_id"),
    UseApproval.request_digest == bindparam("digest"),
    UseApproval.status == ApprovalStatus.approved,
    UseApproval.expires_at > bindparam("now"),
)


def _policies(grants: list[GrantSnapshot]) -> Iterator[PolicyDocument]:
    return (grant.policy.document for grant in grants if grant.policy is not None)


def _limits_uses(policy: PolicyDocument) -> bool:
    return policy.daily_use_limit is not None or policy.total_use_limit is not None


def _assets_with_owners(connection: Connection, ids: list[uuid.UUID]) -> list[Row]:
    if not ids:
        return []
    return list(connection.execute(_ASSETS_WITH_OWNERS, {"ids": ids}).all())


def _active_grants(
    connection: Connection, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[GrantSnapshot]]:
    if not ids:
        return {}
    grants: dict[uuid.UUID, list[GrantSnapshot]] = {}
    for row in connection.execute(_ACTIVE_GRANTS, {"ids": ids}):
        grants.setdefault(row.asset_id, []).append(
            GrantSnapshot(
                id=row.id,
                asset_id=row.asset_id,
                policy_version_id=row.policy_version_id,
                status=row.status,
                revoked_at=row.revoked_at,
                policy=PolicySnapshot(
                    id=row.policy_version_id,
                    asset_id=row.policy_asset_id,
                    version=row.version,
                    document=PolicyDocument.from_stored(row.document),
                ),
            )
        )
    return grants


def _uses(
    connection: Connection, ids: list[uuid.UUID], *, since: datetime
) -> tuple[Counter[uuid.UUID], Counter[uuid.UUID]]:
    """Each asset's allowed uses in cleared requests, since ``since`` and in all."""
    if not ids:
        return Counter(), Counter()
    rows = connection.execute(_USES, {"ids": ids, "since": since}).all()
    total = Counter({asset_id: n for asset_id, n, _ in rows})
    today = Counter({asset_id: n for asset_id, _, n in rows})
    return today, total


def _generations_since(connection: Connection, requester_id: uuid.UUID, since: datetime) -> int:
    return connection.execute(
        _GENERATIONS_SINCE, {"requester_id": requester_id, "since": since}
    ).scalar_one()


def _approvals(
    connection: Connection, requester_id: uuid.UUID, digest: str, *, now: datetime
) -> tuple[OwnerApproval, ...]:
    rows = connection.execute(
        _APPROVALS, {"requester_id": requester_id, "digest": digest, "now": now}
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
