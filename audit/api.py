"""Routes of the audit log: an asset's history and an organisation's for those who may see
them, the chain's verification and signed checkpoints of its head."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from audit import reading, service
from audit.schemas import (
    AuditCheckpoint,
    AuditEntryPublic,
    ChainReportPublic,
    CheckpointReportPublic,
    CheckpointVerifyRequest,
)
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import snapshot_session
from clearhouse.deps import (
    AdminAccount,
    CurrentAccount,
    EngineDep,
    KeysDep,
    ReadSessionDep,
    SettingsDep,
)
from clearhouse.errors import InvalidRequest, NotFound, raises
from clearhouse.pagination import Page, PageParams, page_params
from clearhouse.rate_limit import RateLimited, RateLimiterDep, RateLimiterUnavailable
from rights import members
from rights.authority import Action
from rights.dependencies import OwnedAssetIncludingDeleted

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/assets/{asset_id}/audit", response_model=Page[AuditEntryPublic])
@needs_scope(Scope.assets_read)
def read_asset_audit(
    asset: OwnedAssetIncludingDeleted,
    session: ReadSessionDep,
    paging: Annotated[PageParams, Depends(page_params)],
):
    """Every recorded event of an asset you may see (yours, your organisation's in any role,
    your principal's likeness as their agent), oldest first, each with its hash. A likeness's
    log also has its person's agents authorised and removed."""
    items, total = reading.list_entries(
        session, reading.asset_entries(asset), newest_first=False, params=paging
    )
    return _page(items, total, paging)


@router.get("/organisations/{organisation_id}/audit", response_model=Page[AuditEntryPublic])
@needs_scope(Scope.assets_read)
@raises(NotFound)
def read_organisation_audit(
    organisation_id: uuid.UUID,
    account: CurrentAccount,
    session: ReadSessionDep,
    paging: Annotated[PageParams, Depends(page_params)],
):
    """The organisation's log, oldest first, each entry with its hash: its own changes (made,
    members added, re-roled, removed, its payout account) and every event of the assets it
    holds, deleted ones included. Open to its members in every role, viewers too: a viewer
    reads each of its assets' logs already (`GET /v1/assets/{asset_id}/audit` asks only to see
    the asset) and its members' list, which is all this adds. Anyone else: 404, as for an
    organisation that does not exist. A key with `assets:read` reads it, as it reads those
    assets' logs."""
    organisation = members.organisation_for(
        session, account=account, organisation_id=organisation_id, action=Action.view
    )
    items, total = reading.list_entries(
        session,
        reading.organisation_entries(organisation.id),
        newest_first=False,
        params=paging,
    )
    return _page(items, total, paging)


def _page(items, total: int, paging: PageParams) -> Page:
    return Page(
        items=[service.public_entry(item) for item in items],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/audit/verify", response_model=ChainReportPublic)
def verify_audit_chain(_admin: AdminAccount, engine: EngineDep):
    """Walk the whole audit chain and report the first broken entry (admins only)."""
    with snapshot_session(engine) as session:
        return service.verify_chain(session)


@router.get("/audit/checkpoint", response_model=AuditCheckpoint)
@needs_scope(Scope.assets_read)
@raises(NotFound)
def audit_checkpoint(
    caller: CurrentAccount, session: ReadSessionDep, settings: SettingsDep, keys: KeysDep
):
    """Your latest audit entry, signed. Keep it: it proves later that the entry stands. A
    rewrite of the log before it changes the entry's hash, unless it leaves the chain broken,
    which the admins' verification finds."""
    signed = service.sign_checkpoint(session, owner=caller, settings=settings, keys=keys)
    return AuditCheckpoint(token=signed.token, hash=signed.hash)


@router.post("/audit/checkpoint/verify", response_model=CheckpointReportPublic)
@needs_scope(Scope.assets_read)
@raises(InvalidRequest, NotFound, RateLimited, RateLimiterUnavailable)
def verify_audit_checkpoint(
    body: CheckpointVerifyRequest,
    caller: CurrentAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    limiter: RateLimiterDep,
):
    """Check one of your kept checkpoints: our signature, and the log still holding the entry
    it names, unchanged. Only that entry is read; limited per account (429, Retry-After)."""
    limiter.limit_checkpoint_verify(account_id=caller.id)
    return service.check_checkpoint(
        session, owner=caller, token=body.token, settings=settings, keys=keys
    )
