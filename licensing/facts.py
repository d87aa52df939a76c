"""Reading what the evaluator decides on, for one request, in a handful of queries.

Everything is read inside the clearance's own write transaction, the grants under a shared
row lock: a revocation (which locks its grant for update) that commits before this read is
seen, and one that comes after waits until the clearance is recorded, so no clearance is
recorded relying on a grant whose revocation had already returned to its owner.

What only some policies read is read only where one does: an asset's uses (which grow with
every use) where one of its active policies limits them, daily or in all; the owners'
approvals of this request, their declines of this requester and the requester's requests
waiting for them where a policy asks for approval; a requester's generations today where the
requester is under 18 (the only daily limit on requesters). Elsewhere the counts are given as
0 and the owners' answers as none, which no rule reads: a popular asset or a busy generator's
key does not make each of its clearances slower.

An owner is asked one request of a requester's at a time for each asset, so the requests
waiting are read in the requester's turn at that asset's queue: on PostgreSQL a
transaction-scoped advisory lock of (requester, asset), taken before they are read. Two
requests of theirs at once, the same or different, would otherwise each read, under READ
COMMITTED, a queue without the other's and both ask: the second waits until the first
commits, then reads its request. SQLite's writers take turns already.
"""

import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, and_, bindparam, func, or_
from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account, is_minor
from clearhouse.db import take_pending_begin
from licensing.models import ApprovalStatus, Clearance, ClearedAsset, UseApproval
from policies.decisions import AssetOutcome, ClearanceOutcome
from policies.document import PolicyDocument
from policies.facts import (
    AssetUsage,
    GrantSnapshot,
    MatchedAsset,
    OwnerApproval,
    OwnerDecline,
    PolicySnapshot,
    Requester,
    WaitingRequest,
)
from policies.models import PolicyVersion
from rights.claims.models import AssetClaim, ClaimStatus
from rights.claims.standing import ClaimStanding, standing
from rights.models import (
    MATCHED_STANDINGS,
    Asset,
    AssetKind,
    AssetStanding,
    ConsentGrant,
    GrantStatus,
)


@dataclass(frozen=True)
class ClearanceFacts:
    requester: Requester
    assets: tuple[MatchedAsset, ...]
    approvals: tuple[OwnerApproval, ...]
    declines: tuple[OwnerDecline, ...]
    waiting: tuple[WaitingRequest, ...]
    """The requester's requests waiting for the owners of these assets, this one's included
    if it waits already."""
    verified: frozenset[uuid.UUID]
    """The assets whose holder's claim is verified (rights/claims/standing.py), read with
    them: what the requester is told of each holder."""


def read_facts(
    session: Session,
    *,
    requester: Account,
    asset_ids: Collection[uuid.UUID],
    request_digest: str,
    now: datetime,
) -> ClearanceFacts:
    """The requester, every live, active or disputed asset among ``asset_ids`` with its
    active grants, usage and claim standing, the owners' unexpired approvals of this very
    request, their standing declines of this requester and the requester's requests waiting
    for them (read in the requester's turn at those assets' queues)."""
    day = now.astimezone(UTC).date()
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    ids = sorted(set(asset_ids))
    # The transaction's connection, for statements of plain columns: no ORM loading to pay.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        assets, grant_rows = _assets_and_grants_on_postgresql(connection, ids)
    else:
        assets, grant_rows = _assets_with_owners(connection, ids), _active_grants(connection, ids)
    grants = _grant_snapshots(grant_rows)
    limited = [asset for asset, held in grants.items() if any(map(_limits_uses, _policies(held)))]
    today, total = _uses(connection, limited, since=midnight)
    asking = sorted(
        asset
        for asset, held in grants.items()
        if any(policy.approval_required for policy in _policies(held))
    )
    approvals, declines, waiting = (
        _answers(connection, requester.id, request_digest, asking, now=now)
        if asking
        else ((), (), ())
    )
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
        approvals=approvals,
        declines=declines,
        waiting=waiting,
        verified=frozenset(
            asset.id
            for asset in assets
            if standing(asset.kind, asset.claim_status) == ClaimStanding.verified
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
        AssetClaim.status.label("claim_status"),
    )
    .join(Account, Account.id == Asset.owner_id)
    # The claim with the asset (one at most), rather than in a round trip of its own.
    .outerjoin(AssetClaim, AssetClaim.asset_id == Asset.id)
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
# The owners' answers that still hold: a yes to this very request, a no to this requester
# for one of these assets (with the policy version the declined request was decided under);
# and the requester's requests still waiting for the owners of these assets (with the
# clearance that asked each). As _PG_ANSWERS, below, on PostgreSQL.
_ANSWERS = (
    select(
        UseApproval.status,
        UseApproval.asset_id,
        UseApproval.request_digest,
        UseApproval.decided_at,
        UseApproval.expires_at,
        ClearedAsset.policy_version_id,
        ClearedAsset.clearance_id,
    )
    .join(ClearedAsset, ClearedAsset.id == UseApproval.cleared_asset_id)
    .where(
        UseApproval.requester_id == bindparam("requester_id"),
        UseApproval.expires_at > bindparam("now"),
        or_(
            and_(
                UseApproval.status == ApprovalStatus.approved,
                UseApproval.request_digest == bindparam("digest"),
            ),
            and_(
                col(UseApproval.asset_id).in_(bindparam("ids", expanding=True)),
                or_(
                    UseApproval.status == ApprovalStatus.pending,
                    and_(
                        UseApproval.status == ApprovalStatus.declined,
                        col(ClearedAsset.policy_version_id).is_not(None),
                    ),
                ),
            ),
        ),
    )
)


# On PostgreSQL the same two reads are sent to psycopg in one pipeline, with the
# transaction's BEGIN that the engine left to the first statement (clearhouse.db): one round
# trip instead of three, the grants still read under their shared lock inside the
# transaction. Fixed texts taking arrays, so psycopg prepares each once per connection.
_PG_ASSETS_WITH_OWNERS = """
    SELECT asset.id, asset.kind, asset.handle, asset.owner_id, asset.deceased_reported_at,
           asset.estate_account_id, asset.standing, account.date_of_birth,
           asset_claim.status AS claim_status
    FROM asset
    JOIN account ON account.id = asset.owner_id
    LEFT OUTER JOIN asset_claim ON asset_claim.asset_id = asset.id
    WHERE asset.id = ANY(%(ids)s::uuid[])
      AND asset.deleted_at IS NULL
      AND asset.standing = ANY(%(standings)s::varchar[])
    ORDER BY asset.handle
"""
_PG_ACTIVE_GRANTS = """
    SELECT consent_grant.id, consent_grant.asset_id, consent_grant.policy_version_id,
           consent_grant.status, consent_grant.revoked_at,
           policy_version.asset_id AS policy_asset_id, policy_version.version,
           policy_version.document
    FROM consent_grant
    JOIN policy_version ON policy_version.id = consent_grant.policy_version_id
    WHERE consent_grant.asset_id = ANY(%(ids)s::uuid[]) AND consent_grant.status = %(active)s
    FOR SHARE OF consent_grant
"""
_MATCHED_STANDINGS = [matched.value for matched in MATCHED_STANDINGS]
# The requester's turn at each asset's queue (the module's docstring), taken in one order by
# every transaction so that two taking several never wait for each other in a circle.
_PG_QUEUE_TURNS = """
    SELECT pg_advisory_xact_lock(turn)
    FROM (SELECT DISTINCT hashtextextended(key, 0) AS turn
          FROM unnest(%(keys)s::text[]) AS key
          ORDER BY turn) AS turns
"""
_PG_ANSWERS = """
    SELECT use_approval.status, use_approval.asset_id, use_approval.request_digest,
           use_approval.decided_at, use_approval.expires_at,
           cleared_asset.policy_version_id, cleared_asset.clearance_id
    FROM use_approval
    JOIN cleared_asset ON cleared_asset.id = use_approval.cleared_asset_id
    WHERE use_approval.requester_id = %(requester_id)s
      AND use_approval.expires_at > %(now)s
      AND (use_approval.status = %(approved)s AND use_approval.request_digest = %(digest)s
           OR use_approval.asset_id = ANY(%(ids)s::uuid[])
              AND (use_approval.status = %(pending)s
                   OR use_approval.status = %(declined)s
                      AND cleared_asset.policy_version_id IS NOT NULL))
"""


class _AssetRow(NamedTuple):
    """A row of ``_PG_ASSETS_WITH_OWNERS``, typed as the Core statement's rows are."""

    id: uuid.UUID
    kind: AssetKind
    handle: str
    owner_id: uuid.UUID
    deceased_reported_at: datetime | None
    estate_account_id: uuid.UUID | None
    standing: AssetStanding
    date_of_birth: date | None
    claim_status: ClaimStatus | None


class _AnswerRow(NamedTuple):
    """A row of ``_PG_ANSWERS``, typed as ``_ANSWERS``' rows are."""

    status: ApprovalStatus
    asset_id: uuid.UUID
    request_digest: str
    decided_at: datetime | None
    expires_at: datetime
    policy_version_id: uuid.UUID | None
    clearance_id: uuid.UUID


class _GrantRow(NamedTuple):
    """A row of ``_PG_ACTIVE_GRANTS``, typed as the Core statement's rows are."""

    id: uuid.UUID
    asset_id: uuid.UUID
    policy_version_id: uuid.UUID
    status: GrantStatus
    revoked_at: datetime | None
    policy_asset_id: uuid.UUID
    version: int
    document: dict[str, Any]


def _assets_and_grants_on_postgresql(
    connection: Connection, ids: list[uuid.UUID]
) -> tuple[list[_AssetRow], list[_GrantRow]]:
    if not ids:
        return [], []
    driver = connection.connection.driver_connection
    with driver.pipeline():
        if take_pending_begin(connection):
            driver.execute("BEGIN")
        assets = driver.execute(
            _PG_ASSETS_WITH_OWNERS, {"ids": ids, "standings": _MATCHED_STANDINGS}
        )
        grants = driver.execute(_PG_ACTIVE_GRANTS, {"ids": ids, "active": GrantStatus.active.value})
    return (
        [
            _AssetRow(
                id=row[0],
                kind=AssetKind(row[1]),
                handle=row[2],
                owner_id=row[3],
                deceased_reported_at=_utc(row[4]),
                estate_account_id=row[5],
                standing=AssetStanding(row[6]),
                date_of_birth=row[7],
                claim_status=None if row[8] is None else ClaimStatus(row[8]),
            )
            for row in assets.fetchall()
        ],
        [
            _GrantRow(
                id=row[0],
                asset_id=row[1],
                policy_version_id=row[2],
                status=GrantStatus(row[3]),
                revoked_at=_utc(row[4]),
                policy_asset_id=row[5],
                version=row[6],
                document=row[7],
            )
            for row in grants.fetchall()
        ],
    )


def _utc(value: datetime | None) -> datetime | None:
    """As clearhouse.db.UTCDateTime reads it (psycopg gives the session's time zone)."""
    return None if value is None else value.astimezone(UTC)


def _policies(grants: list[GrantSnapshot]) -> Iterator[PolicyDocument]:
    return (grant.policy.document for grant in grants if grant.policy is not None)


def _limits_uses(policy: PolicyDocument) -> bool:
    return policy.daily_use_limit is not None or policy.total_use_limit is not None


def _assets_with_owners(connection: Connection, ids: list[uuid.UUID]) -> list[Row]:
    if not ids:
        return []
    return list(connection.execute(_ASSETS_WITH_OWNERS, {"ids": ids}).all())


def _active_grants(connection: Connection, ids: list[uuid.UUID]) -> list[Row]:
    if not ids:
        return []
    return list(connection.execute(_ACTIVE_GRANTS, {"ids": ids}).all())


def _grant_snapshots(rows: Iterable[Any]) -> dict[uuid.UUID, list[GrantSnapshot]]:
    """The active grants' rows, each asset's with its policy version."""
    grants: dict[uuid.UUID, list[GrantSnapshot]] = {}
    for row in rows:
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


def _answers(
    connection: Connection,
    requester_id: uuid.UUID,
    digest: str,
    ids: list[uuid.UUID],
    *,
    now: datetime,
) -> tuple[tuple[OwnerApproval, ...], tuple[OwnerDecline, ...], tuple[WaitingRequest, ...]]:
    rows = _answer_rows(connection, requester_id, digest, ids, now=now)
    approvals = tuple(
        OwnerApproval(
            asset_id=row.asset_id,
            requester_id=requester_id,
            request_digest=row.request_digest,
            expires_at=row.expires_at,
        )
        for row in rows
        if row.status == ApprovalStatus.approved
    )
    declines = tuple(
        OwnerDecline(
            asset_id=row.asset_id,
            requester_id=requester_id,
            policy_version_id=row.policy_version_id,
            declined_at=row.decided_at,
            stands_until=row.expires_at,
        )
        for row in rows
        if row.status == ApprovalStatus.declined
    )
    waiting = tuple(
        WaitingRequest(
            asset_id=row.asset_id,
            requester_id=requester_id,
            request_digest=row.request_digest,
            clearance_id=row.clearance_id,
            expires_at=row.expires_at,
        )
        for row in rows
        if row.status == ApprovalStatus.pending
    )
    return approvals, declines, waiting


def _answer_rows(
    connection: Connection,
    requester_id: uuid.UUID,
    digest: str,
    ids: list[uuid.UUID],
    *,
    now: datetime,
) -> list[_AnswerRow] | list[Row]:
    """The rows of ``_ANSWERS`` for the assets ``ids``, read in the requester's turn at their
    queues."""
    if connection.dialect.name != "postgresql":
        return list(
            connection.execute(
                _ANSWERS, {"requester_id": requester_id, "digest": digest, "ids": ids, "now": now}
            ).all()
        )
    driver = connection.connection.driver_connection
    # The turn and the read in one round trip: the read, after the turn in the pipeline, is
    # run (and takes its snapshot) once the turn is taken.
    with driver.pipeline():
        if take_pending_begin(connection):
            driver.execute("BEGIN")
        driver.execute(
            _PG_QUEUE_TURNS, {"keys": [f"use_approval:{requester_id}:{asset}" for asset in ids]}
        )
        answers = driver.execute(
            _PG_ANSWERS,
            {
                "requester_id": requester_id,
                "now": now,
                "digest": digest,
                "ids": ids,
                "approved": ApprovalStatus.approved.value,
                "pending": ApprovalStatus.pending.value,
                "declined": ApprovalStatus.declined.value,
            },
        )
    return [
        _AnswerRow(
            status=ApprovalStatus(row[0]),
            asset_id=row[1],
            request_digest=row[2],
            decided_at=_utc(row[3]),
            expires_at=_utc(row[4]),
            policy_version_id=row[5],
            clearance_id=row[6],
        )
        for row in answers.fetchall()
    ]
