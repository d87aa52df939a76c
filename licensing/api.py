"""Routes of clearance: clear a generation request, read it back, owners' approvals and the
usage of an asset."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from clearhouse.accounts.dependencies import VerifiedAccount
from clearhouse.accounts.errors import EmailNotVerified
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import read_session, utcnow, write_session
from clearhouse.deps import (
    CurrentAccount,
    EngineDep,
    HolderAccount,
    KeysDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, PageParams, page_params
from licensing import approvals, presentation, usage
from licensing.clearance import clear
from licensing.errors import ApprovalClosed, QuoteRefused, RequestNotDigestible
from licensing.models import ApprovalStatus
from licensing.requests import clearance_request
from licensing.schemas import ApprovalPublic, AssetUse, ClearanceCreate, ClearancePublic
from licensing.touches import text_touches
from policies.decisions import AssetOutcome
from rights.dependencies import OwnedAssetIncludingDeleted
from rights.matching.runtime import MatchingDep

router = APIRouter(prefix="/v1")
Paging = Annotated[PageParams, Depends(page_params)]


@router.post(
    "/clearances",
    status_code=status.HTTP_201_CREATED,
    response_model=ClearancePublic,
    tags=["clearances"],
)
@raises(QuoteRefused, RequestNotDigestible, EmailNotVerified)
@needs_scope(Scope.clearance)
def create_clearance(
    body: ClearanceCreate,
    requester: VerifiedAccount,
    engine: EngineDep,
    settings: SettingsDep,
    keys: KeysDep,
    matching: MatchingDep,
):
    """Clear a generation request before any model runs: every registered asset its prompt
    touches, decided under the owners' current policies, priced in the open, and (when every
    asset allows) signed in a clearance token bound to this exact request.

    The request shows the content categories declared in `content` and those the content
    check finds in the prompt (`content` in the answer says which, and why); an asset whose
    policy excludes one of them is denied.

    Every outcome is recorded, and each owner sees it among their asset's usage. A request
    that waits for an owner's approval can be sent again, unchanged, once they approve."""
    request = clearance_request(body)
    with read_session(engine) as session:
        checked = matching.check_text(session, request.prompt)
    with write_session(engine) as session:
        result = clear(
            session,
            requester=requester,
            request=request,
            touches=text_touches(request.prompt, checked.matches),
            content_found=checked.content,
            now=utcnow(),
            settings=settings,
            keys=keys,
        )
    return presentation.clearance_for_requester(result)


@router.get("/clearances/{clearance_id}", response_model=ClearancePublic, tags=["clearances"])
@raises(NotFound)
@needs_scope(Scope.clearance)
def read_clearance(clearance_id: uuid.UUID, requester: CurrentAccount, session: ReadSessionDep):
    """One of your clearances, with the owners' answers so far (its token is not shown
    again)."""
    return presentation.stored_clearance_for_requester(
        session, clearance_id=clearance_id, requester_id=requester.id
    )


@router.get("/assets/{asset_id}/usage", response_model=Page[AssetUse], tags=["assets"])
@needs_scope(Scope.assets_read)
def read_asset_usage(
    asset: OwnedAssetIncludingDeleted,
    session: ReadSessionDep,
    paging: Paging,
    outcome: Annotated[AssetOutcome | None, Query(description="Only this outcome.")] = None,
):
    """Every request that touched your asset, newest first: allowed, denied or waiting for
    you, who asked, for what use, and the fee."""
    items, total = usage.asset_usage(session, asset_id=asset.id, outcome=outcome, params=paging)
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/approvals", response_model=Page[ApprovalPublic], tags=["approvals"])
@needs_scope(Scope.assets_read)
def list_approvals(
    owner: HolderAccount,
    session: ReadSessionDep,
    paging: Paging,
    status_: Annotated[
        ApprovalStatus | None, Query(alias="status", description="Only this state.")
    ] = ApprovalStatus.pending,
):
    """Requests for your assets that wait for your answer (or, with `status`, were answered)."""
    items, total = approvals.list_for_owner(
        session, owner_id=owner.id, status=status_, now=utcnow(), params=paging
    )
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalPublic, tags=["approvals"])
@raises(NotFound, ApprovalClosed)
@needs_scope(Scope.assets_write)
def approve(
    approval_id: uuid.UUID, owner: HolderAccount, session: SessionDep, settings: SettingsDep
):
    """Say yes to this one request: the requester may send it again, unchanged, and it is
    cleared for your asset until the approval expires (`CLEARHOUSE_APPROVAL_HOURS`)."""
    return approvals.answer(
        session, owner=owner, approval_id=approval_id, approve=True, settings=settings
    )


@router.post("/approvals/{approval_id}/decline", response_model=ApprovalPublic, tags=["approvals"])
@raises(NotFound, ApprovalClosed)
@needs_scope(Scope.assets_write)
def decline(
    approval_id: uuid.UUID, owner: HolderAccount, session: SessionDep, settings: SettingsDep
):
    """Say no to this request."""
    return approvals.answer(
        session, owner=owner, approval_id=approval_id, approve=False, settings=settings
    )
