"""Routes for an asset's opt-in policy and its versions."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import HolderAccount, ReadSessionDep, SessionDep
from clearhouse.errors import InvalidRequest, NotFound, raises
from clearhouse.pagination import Page, PageParams, page_params
from policies import service
from policies.document import PolicyDocument
from policies.errors import MinorsLikenessProtected
from policies.schemas import PolicyVersionPublic
from rights.dependencies import ManagedAsset, OwnedAsset, OwnedAssetIncludingDeleted
from rights.matching.runtime import MatchingDep

router = APIRouter(prefix="/v1/assets/{asset_id}", tags=["policies"])


@router.post("/policies", status_code=status.HTTP_201_CREATED, response_model=PolicyVersionPublic)
@raises(InvalidRequest, MinorsLikenessProtected)
@needs_scope(Scope.assets_write)
def set_policy(
    asset: ManagedAsset,
    body: PolicyDocument,
    owner: HolderAccount,
    session: SessionDep,
    matching: MatchingDep,
):
    """Make `body` the asset's policy, as a new version. Existing grants keep their version.

    Open to whoever manages the asset: its owner, its organisation's owners and managers, the
    person's agent, a verified estate. Storing a version consents to nothing. Its
    `restrictions` are embedded now, for the clearances that read them."""
    matching.restrictions.prepare(body.restrictions)
    return PolicyVersionPublic.of(
        service.set_policy(session, asset=asset, actor=owner, document=body)
    )


@router.get("/policy", response_model=PolicyVersionPublic)
@needs_scope(Scope.assets_read)
def read_policy_in_force(asset: OwnedAsset, session: ReadSessionDep):
    """The version in force; version 0 (nobody may use it) if none was ever set."""
    current = service.current_policy(session, asset.id)
    return PolicyVersionPublic.of(current) if current else PolicyVersionPublic.default_for(asset.id)


@router.get("/policies", response_model=Page[PolicyVersionPublic])
@needs_scope(Scope.assets_read)
def list_policy_versions(
    asset: OwnedAssetIncludingDeleted,
    session: ReadSessionDep,
    paging: Annotated[PageParams, Depends(page_params)],
):
    """Every version, newest first."""
    rows, total = service.list_policy_versions(session, asset_id=asset.id, params=paging)
    return Page(
        items=[PolicyVersionPublic.of(row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/policies/{version}", response_model=PolicyVersionPublic)
@raises(NotFound)
@needs_scope(Scope.assets_read)
def read_policy_version(
    asset: OwnedAssetIncludingDeleted,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],  # a 32-bit signed integer, as stored
    session: ReadSessionDep,
):
    return PolicyVersionPublic.of(
        service.policy_version(session, asset_id=asset.id, version=version)
    )
