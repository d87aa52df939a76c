"""Routes of the rights registry: assets, grants, revocations and receipts."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from clearhouse.accounts.dependencies import VerifiedHolderAccount
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import commit_now
from clearhouse.deps import (
    CurrentAccount,
    HolderAccount,
    KeysDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from clearhouse.errors import InvalidRequest, NotFound, raises
from clearhouse.pagination import Page, Paging
from clearhouse.signing import MalformedToken, TokenRejected
from likeness.runtime import LikenessDep
from policies.errors import MinorsLikenessProtected
from policies.models import PolicyVersion
from rights import repository, service
from rights.authority import Action
from rights.dependencies import (
    ChangedTexts,
    ManagedAsset,
    OwnedAsset,
    OwnedAssetIncludingDeleted,
    OwnedAssetToChange,
    OwnedAssetToWithdraw,
    RegisteredTexts,
)
from rights.errors import (
    AssetNotActive,
    ConsentIsTheHolders,
    GrantRevoked,
    HandleTaken,
    LikenessOfDeceased,
    NotAllowed,
    NothingToGrant,
)
from rights.matching.runtime import MatchingDep
from rights.models import AssetKind, GrantStatus
from rights.receipts import verify_receipt
from rights.schemas import (
    AssetCreate,
    AssetDeleted,
    AssetPublic,
    AssetUpdate,
    ConsentStatus,
    GrantCreate,
    GrantCreated,
    GrantPublic,
    ReceiptPublic,
    ReceiptVerification,
    ReceiptVerifyRequest,
    Revocation,
    RevokeRequest,
)

router = APIRouter(prefix="/v1")


@router.post(
    "/assets", status_code=status.HTTP_201_CREATED, response_model=AssetPublic, tags=["assets"]
)
@raises(HandleTaken, InvalidRequest, NotFound, NotAllowed)
@needs_scope(Scope.assets_write)
def create_asset(
    owner: VerifiedHolderAccount,
    texts: RegisteredTexts,
    body: AssetCreate,
    session: SessionDep,
    matching: MatchingDep,
):
    """Register a likeness, character or style. Nobody may use it until you grant a policy.

    A handle that reads like one in use or retired within `CLEARHOUSE_HANDLE_RESERVED_DAYS`
    (look-alike letters, digits for letters, separators) is taken. Prompts that name it, or
    describe it in the words of its description, keywords and example prompts, are found by
    the IP check.

    With `organisation_id`, the organisation holds it (you must be its owner or manager): it
    is paid for its uses, and its members act on it in their roles.

    A character or style whose name or alias reads as another holder's (or a protected
    entry's), whose description the IP check would take for theirs, or whose reference picture
    matches theirs is registered with `standing` "in_review": an overlap case goes to the
    moderators (GET /v1/overlaps), and it cannot be granted or licensed until they decide."""
    return service.create_asset(
        session, owner=owner, data=body, text_vectors=texts, matching=matching
    )


@router.get("/assets", response_model=Page[AssetPublic], tags=["assets"])
@needs_scope(Scope.assets_read)
def list_assets(
    owner: HolderAccount,
    session: ReadSessionDep,
    paging: Paging,
    kind: Annotated[AssetKind | None, Query(description="Only assets of this kind.")] = None,
):
    items, total = repository.list_owned_assets(
        session, owner_id=owner.id, kind=kind, params=paging
    )
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/assets/{asset_id}", response_model=AssetPublic, tags=["assets"])
@needs_scope(Scope.assets_read)
async def read_asset(asset: OwnedAsset):
    """Async: its dependency has loaded the asset, so answering needs no thread hand-off."""
    return asset


@router.patch("/assets/{asset_id}", response_model=AssetPublic, tags=["assets"])
@raises(HandleTaken)
@needs_scope(Scope.assets_write)
def update_asset(
    texts: ChangedTexts,  # first: embedded before the write transaction begins
    asset: OwnedAssetToChange,
    body: AssetUpdate,
    owner: HolderAccount,
    session: SessionDep,
    settings: SettingsDep,
    matching: MatchingDep,
):
    """Change an asset; a handle given up stays reserved, as a deleted asset's does. Names or
    a description changed into overlap with another's put it in review, as at registration."""
    return service.update_asset(
        session,
        owner=owner,
        asset=asset,
        changes=body,
        settings=settings,
        text_vectors=texts,
        matching=matching,
    )


@router.delete("/assets/{asset_id}", response_model=AssetDeleted, tags=["assets"])
@needs_scope(Scope.assets_write)
def delete_asset(
    asset: OwnedAssetToChange,
    owner: HolderAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    likeness: LikenessDep,
):
    """Revoke every active grant of the asset, then delete it. Its audit log stays readable.

    Deleting a likeness also destroys its face templates and their key (crypto-shredding).
    """
    deletion = service.delete_asset(
        session, owner=owner, asset=asset, settings=settings, keys=keys, likeness=likeness
    )
    revocation = _revocation(deletion.revoked)
    revocation.effective_at = commit_now(session)
    return AssetDeleted(asset_id=asset.id, deleted_at=deletion.deleted_at, revocation=revocation)


@router.post(
    "/assets/{asset_id}/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantCreated,
    tags=["grants"],
)
@raises(
    NotFound,
    NothingToGrant,
    MinorsLikenessProtected,
    ConsentIsTheHolders,
    LikenessOfDeceased,
    AssetNotActive,
)
@needs_scope(Scope.assets_write)
def create_grant(
    asset: ManagedAsset,
    body: GrantCreate,
    owner: VerifiedHolderAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """Consent to uses of the asset under a policy version; returns a signed receipt.

    An organisation's owners and managers consent in its name. A person's agent may grant
    only a version within what the person consented to (a new price): anything more is a 403
    `consent-is-the-holders`, and the version waits for the person to grant it."""
    given = service.create_grant(
        session,
        actor=owner,
        asset=asset,
        policy_version=body.policy_version,
        settings=settings,
        keys=keys,
    )
    return GrantCreated(
        grant=service.grant_public(given.grant, given.policy),
        receipt=ReceiptPublic.model_validate(given.receipt, from_attributes=True),
    )


@router.get("/assets/{asset_id}/grants", response_model=Page[GrantPublic], tags=["grants"])
@needs_scope(Scope.assets_read)
def list_grants(
    asset: OwnedAssetIncludingDeleted,
    session: ReadSessionDep,
    paging: Paging,
    status: Annotated[GrantStatus | None, Query(description="Only grants in this status.")] = None,
):
    rows, total = repository.grants_with_policies(
        session, asset_id=asset.id, status=status, params=paging
    )
    return Page(
        items=[service.grant_public(g, p) for g, p in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/grants/{grant_id}", response_model=GrantPublic, tags=["grants"])
@raises(NotFound)
@needs_scope(Scope.assets_read)
def read_grant(grant_id: uuid.UUID, owner: HolderAccount, session: ReadSessionDep):
    grant, _ = repository.get_owned_grant(
        session, account_id=owner.id, grant_id=grant_id, action=Action.view
    )
    return service.grant_public(grant, session.get(PolicyVersion, grant.policy_version_id))


@router.post("/grants/{grant_id}/revoke", response_model=Revocation, tags=["grants"])
@raises(NotFound, GrantRevoked)
@needs_scope(Scope.assets_write)
def revoke_grant(
    grant_id: uuid.UUID,
    body: RevokeRequest,
    owner: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """Withdraw consent. Effective when this call returns: `effective_at` is the commit time.
    Released clips licensed under the grant are taken down in the same step (counted in
    `generations_taken_down`, listed in the asset's usage).

    Open to the grant's owner whatever their role is now: consent can always be withdrawn."""
    withdrawn = service.revoke_grant(
        session,
        owner=owner,
        grant_id=grant_id,
        reason=body.reason,
        settings=settings,
        keys=keys,
    )
    revocation = _revocation([withdrawn])
    revocation.effective_at = commit_now(session)
    return revocation


@router.post("/assets/{asset_id}/revoke", response_model=Revocation, tags=["grants"])
@needs_scope(Scope.assets_write)
def revoke_asset_grants(
    asset: OwnedAssetToWithdraw,
    body: RevokeRequest,
    owner: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """Withdraw every active grant of the asset at once, taking down every released clip
    licensed under one of them."""
    revocation = _revocation(
        service.revoke_asset_grants(
            session, actor=owner, asset=asset, reason=body.reason, settings=settings, keys=keys
        )
    )
    revocation.effective_at = commit_now(session)
    return revocation


def _revocation(withdrawn: list[service.ConsentChange]) -> Revocation:
    """The response body; ``effective_at`` is filled in once the commit is confirmed."""
    return Revocation.model_construct(
        grants=[service.grant_public(change.grant, change.policy) for change in withdrawn],
        receipts=[
            ReceiptPublic.model_validate(change.receipt, from_attributes=True)
            for change in withdrawn
        ],
        generations_taken_down=sum(len(change.taken_down) for change in withdrawn),
    )


@router.get("/receipts/{receipt_id}", response_model=ReceiptPublic, tags=["receipts"])
@raises(NotFound)
@needs_scope(Scope.assets_read)
def read_receipt(receipt_id: uuid.UUID, owner: HolderAccount, session: ReadSessionDep):
    return repository.get_owned_receipt(session, account_id=owner.id, receipt_id=receipt_id)


@router.post("/receipts/verify", response_model=ReceiptVerification, tags=["receipts"])
@raises(InvalidRequest)
def verify(
    body: ReceiptVerifyRequest, settings: SettingsDep, keys: KeysDep, session: ReadSessionDep
):
    """Check a receipt's signature against our published keys, and say whether the consent
    it records stands now (`consent`: given, withdrawn and when, or expired). Needs no account.

    A token that is no JWS at all, or whose header fields have the wrong type, is a 400."""
    try:
        claims = verify_receipt(body.token, settings=settings, keys=keys)
    except MalformedToken as exc:
        raise InvalidRequest(f"The token is malformed: {exc}. Send a receipt as issued.") from exc
    except TokenRejected as exc:
        return ReceiptVerification(valid=False, reason=str(exc))
    try:
        consent = service.consent_status(
            session, grant_id=uuid.UUID(claims["grant"]["id"]), settings=settings
        )
    except NotFound:
        return ReceiptVerification(
            valid=True, claims=claims, reason="The grant this receipt names is not on record."
        )
    return ReceiptVerification(valid=True, claims=claims, consent=consent)


@router.get("/grants/{grant_id}/status", response_model=ConsentStatus, tags=["receipts"])
@raises(NotFound)
def read_consent_status(grant_id: uuid.UUID, settings: SettingsDep, session: ReadSessionDep):
    """Whether this grant's consent stands now; every receipt names this URL. Needs no
    account, and says nothing about the grant's owner, asset or reasons."""
    return service.consent_status(session, grant_id=grant_id, settings=settings)
