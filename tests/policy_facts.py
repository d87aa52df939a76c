"""Small factories for what the policy evaluator decides on (policies/facts.py)."""

import uuid
from datetime import UTC, date, datetime, timedelta

from policies.decisions import Decision
from policies.document import ContentCategory, PolicyDocument, Use
from policies.evaluator import evaluate
from policies.facts import (
    AssetUsage,
    GenerationRequest,
    GrantSnapshot,
    MatchedAsset,
    OwnerApproval,
    OwnerDecline,
    PolicySnapshot,
    Requester,
    WaitingRequest,
)
from rights.models import AssetKind, GrantStatus

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ADULT_BORN = date(1990, 5, 17)
MINOR_BORN = date(2012, 3, 1)  # 14 on NOW
MINOR_DAILY_LIMIT = 3
OPEN = {"audience": "anyone", "allowed_uses": ["personal", "commercial"]}
DIGEST = "a" * 64


def requester(
    *, born: date | None = ADULT_BORN, generations_today: int = 0, account_id=None
) -> Requester:
    return Requester(
        account_id=account_id or uuid.uuid4(),
        date_of_birth=born,
        generations_today=generations_today,
    )


def request(
    *,
    who: Requester | None = None,
    use: Use = Use.personal,
    categories: tuple[ContentCategory, ...] = (),
    found: dict[ContentCategory, str] | None = None,
    broken: dict[str, str] | None = None,
    digest: str = DIGEST,
) -> GenerationRequest:
    """``categories`` shown, of which ``found`` were found in the prompt (and how); the
    owners' restrictions it ``broken`` (and how)."""
    return GenerationRequest(
        requester=who or requester(),
        digest=digest,
        declared_use=use,
        content_categories=frozenset(categories) | set(found or {}),
        content_found=found or {},
        restrictions_broken=broken or {},
    )


def policy(*, asset_id: uuid.UUID, document: dict, version: int = 1) -> PolicySnapshot:
    return PolicySnapshot(
        id=uuid.uuid4(),
        asset_id=asset_id,
        version=version,
        document=PolicyDocument.model_validate(document),
    )


def grant(*, on: PolicySnapshot, revoked: bool = False) -> GrantSnapshot:
    return GrantSnapshot(
        id=uuid.uuid4(),
        asset_id=on.asset_id,
        policy_version_id=on.id,
        status=GrantStatus.revoked if revoked else GrantStatus.active,
        revoked_at=NOW - timedelta(hours=1) if revoked else None,
        policy=on,
    )


def asset(
    *,
    document: dict | None = OPEN,
    kind: AssetKind = AssetKind.character,
    owner_id: uuid.UUID | None = None,
    owner_born: date | None = ADULT_BORN,
    revoked: bool = False,
    used_today: int = 0,
    used_in_all: int = 0,
) -> MatchedAsset:
    """An asset with one grant of version 1 of ``document`` (None: no grant at all)."""
    asset_id = uuid.uuid4()
    grants = ()
    if document is not None:
        grants = (grant(on=policy(asset_id=asset_id, document=document), revoked=revoked),)
    return MatchedAsset(
        id=asset_id,
        kind=kind,
        handle=f"{kind.value}_{asset_id.hex[:6]}",
        owner_id=owner_id or uuid.uuid4(),
        owner_date_of_birth=owner_born,
        grants=grants,
        usage=AssetUsage(today=used_today, total=used_in_all),
    )


def approval(
    *, of: MatchedAsset, for_request: GenerationRequest, expires_at: datetime = NOW
) -> OwnerApproval:
    return OwnerApproval(
        asset_id=of.id,
        requester_id=for_request.requester.account_id,
        request_digest=for_request.digest,
        expires_at=expires_at,
    )


def decline(
    *, of: MatchedAsset, for_request: GenerationRequest, stands_until: datetime
) -> OwnerDecline:
    """The owner's no to ``for_request``'s requester, under the version ``of``'s grant binds."""
    return OwnerDecline(
        asset_id=of.id,
        requester_id=for_request.requester.account_id,
        policy_version_id=of.grants[0].policy_version_id,
        declined_at=NOW - timedelta(days=2),
        stands_until=stands_until,
    )


def waiting_request(
    *, of: MatchedAsset, for_request: GenerationRequest, expires_at: datetime
) -> WaitingRequest:
    """``for_request`` (its requester, its digest) waiting for the owner of ``of``."""
    return WaitingRequest(
        asset_id=of.id,
        requester_id=for_request.requester.account_id,
        request_digest=for_request.digest,
        clearance_id=uuid.uuid4(),
        expires_at=expires_at,
    )


def decide(
    the_request: GenerationRequest,
    *assets: MatchedAsset,
    approvals: tuple[OwnerApproval, ...] = (),
    declines: tuple[OwnerDecline, ...] = (),
    waiting: tuple[WaitingRequest, ...] = (),
    now: datetime = NOW,
) -> Decision:
    return evaluate(
        the_request,
        assets=assets,
        approvals=approvals,
        declines=declines,
        waiting=waiting,
        now=now,
        minor_daily_generation_limit=MINOR_DAILY_LIMIT,
    )
