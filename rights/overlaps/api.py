"""Routes of overlap cases: owners read theirs, moderators list and decide them all."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.deps import (
    CurrentAccount,
    KeysDep,
    ModeratorAccount,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, Paging
from rights.errors import CaseAlreadyDecided, PartyToCase
from rights.overlaps import service
from rights.overlaps.models import OverlapStatus
from rights.overlaps.presentation import case_public
from rights.overlaps.schemas import OverlapCasePublic, OverlapDecision

router = APIRouter(prefix="/v1", tags=["overlaps"])


@router.get("/overlaps", response_model=Page[OverlapCasePublic])
@needs_scope(Scope.assets_read)
def list_cases(
    viewer: CurrentAccount,
    session: ReadSessionDep,
    paging: Paging,
    status: Annotated[OverlapStatus | None, Query(description="Only in this status.")] = None,
    asset_id: Annotated[uuid.UUID | None, Query(description="Only about this asset.")] = None,
):
    """Moderators: every case. Owners: the cases about their assets, with their own side and
    the other asset's public handle only."""
    rows, total = service.visible_cases(
        session, viewer=viewer, status=status, asset_id=asset_id, params=paging
    )
    assets, entries = service.case_parties(session, rows)
    return Page(
        items=[case_public(c, viewer=viewer, assets=assets, entries=entries) for c in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/overlaps/{case_id}", response_model=OverlapCasePublic)
@raises(NotFound)
@needs_scope(Scope.assets_read)
def read_case(case_id: uuid.UUID, viewer: CurrentAccount, session: ReadSessionDep):
    case = service.visible_case(session, viewer=viewer, case_id=case_id)
    assets, entries = service.case_parties(session, [case])
    return case_public(case, viewer=viewer, assets=assets, entries=entries)


@router.post("/overlaps/{case_id}/decide", response_model=OverlapCasePublic)
@raises(NotFound, CaseAlreadyDecided, PartyToCase)
def decide_case(
    case_id: uuid.UUID,
    body: OverlapDecision,
    moderator: ModeratorAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    """Keep the existing owner (the claimant's asset stays inactive) or uphold the claimant
    (their asset becomes active; the existing asset becomes inactive and its grants are
    revoked, taking down released clips, or the protected entry is retired). Audited."""
    case = service.decide_case(
        session,
        moderator=moderator,
        case_id=case_id,
        uphold_claimant=body.decision == "uphold_claimant",
        note=body.note,
        settings=settings,
        keys=keys,
    )
    assets, entries = service.case_parties(session, [case])
    return case_public(case, viewer=moderator, assets=assets, entries=entries)
