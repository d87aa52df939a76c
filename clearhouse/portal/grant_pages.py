"""The holder's grants across their assets, taking consent back (one grant, every grant of an
asset, or everything), and the signed receipts that prove it, shown and downloadable.

Revocations go through the rights service exactly as ``POST /v1/grants/{id}/revoke`` and
``POST /v1/assets/{id}/revoke`` do, and withdrawing everything through
:func:`clearhouse.accounts.lifecycle.withdraw_all_consent`; each commits before the page
answers, so the consent is withdrawn, and clips licensed under it taken down, by the time
the holder reads the receipt. Like the API, these are open to the owner whatever their role
is now: consent can always be withdrawn.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from clearhouse.accounts.lifecycle import withdraw_all_consent
from clearhouse.accounts.models import Account
from clearhouse.db import commit_now
from clearhouse.deps import KeysDep, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import InvalidRequest
from clearhouse.keys import KeyRing
from clearhouse.pagination import PageParams
from clearhouse.portal.listing import Page, choice, identifier, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, render, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalAccount
from clearhouse.settings import Settings
from clearhouse.signing import TokenRejected
from generator.takedown import taken_down_under
from rights import repository, service
from rights.authority import Action
from rights.models import ConsentReceipt, GrantStatus, ReceiptEvent
from rights.receipts import verify_receipt
from rights.repository import get_owned_asset, list_owned_assets

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "grant-revoked": "Consent withdrawn. From now on no new clearance and no release uses "
        "this grant. Keep this receipt: it proves when you withdrew it.",
        "grants-revoked": "Consent withdrawn. From now on no new clearance and no release uses "
        "these grants. Keep the receipts: they prove when you withdrew them.",
        "nothing-to-revoke": "There was no active grant to withdraw; nothing changed.",
    }
)

Reason = Annotated[str, Form(max_length=500)]

#: Receipts one page shows: a withdrawal of more grants shows them in the grants' list instead,
#: each row linking its receipt (their ids would not fit in an address).
MAX_RECEIPTS_SHOWN = 50


@router.get("/grants")
def grants_page(
    request: Request,
    account: PortalAccount,
    session: ReadSessionDep,
    asset: str = "",
    status: str = "",
    page: Page = 1,
):
    asset_id = identifier(asset, name="asset")
    if asset_id is not None:
        get_owned_asset(session, account_id=account.id, asset_id=asset_id, include_deleted=True)
    rows, total = repository.owned_grants(
        session,
        owner_id=account.id,
        asset_id=asset_id,
        status=choice(status, GrantStatus, name="state"),
        params=page_params(page),
    )
    receipts = repository.owned_receipts_of(
        session, owner_id=account.id, grant_ids=[grant.id for grant, _, _ in rows]
    )
    by_grant: dict[uuid.UUID, dict[str, ConsentReceipt]] = {}
    for receipt in receipts:
        by_grant.setdefault(receipt.grant_id, {})[receipt.event.value] = receipt
    assets, _ = list_owned_assets(
        session, owner_id=account.id, kind=None, params=PageParams(limit=100, offset=0)
    )
    active = repository.assets_with_active_grants(session, owner_id=account.id)
    return render(
        request,
        "grants/list.html",
        account=account,
        title="Your grants",
        grants=[
            (service.grant_public(grant, policy), asset_row, by_grant.get(grant.id, {}))
            for grant, policy, asset_row in rows
        ],
        assets=assets,
        withdrawable=[item for item in assets if item.id in active],
        filters={"asset": asset, "status": status},
        pager=pager(request, page=page, total=total),
    )


@router.post("/grants/revoke-all", dependencies=[CsrfChecked])
def revoke_everything(
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    reason: Reason = "",
):
    changes = withdraw_all_consent(
        session,
        owner=account,
        actor=account,
        reason=reason.strip() or "withdrawn by the holder",
        settings=settings,
        keys=keys,
    )
    return _after_revoking(session, changes)


@router.post("/grants/{grant_id}/revoke", dependencies=[CsrfChecked])
def revoke_one(
    grant_id: uuid.UUID,
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    reason: Reason = "",
):
    change = service.revoke_grant(
        session,
        owner=account,
        grant_id=grant_id,
        reason=reason.strip() or None,
        settings=settings,
        keys=keys,
    )
    return _after_revoking(session, [change])


@router.post("/assets/{asset_id}/revoke", dependencies=[CsrfChecked])
def revoke_asset(
    asset_id: uuid.UUID,
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    reason: Reason = "",
):
    asset = get_owned_asset(
        session, account_id=account.id, asset_id=asset_id, action=Action.withdraw
    )
    changes = service.revoke_asset_grants(
        session,
        actor=account,
        asset=asset,
        reason=reason.strip() or None,
        settings=settings,
        keys=keys,
    )
    return _after_revoking(session, changes)


def _after_revoking(session: Session, changes: list[service.ConsentChange]):
    """Commit now (the withdrawal holds from this moment), then show the receipts."""
    commit_now(session)
    if not changes:
        return see_other("/grants", notice="nothing-to-revoke")
    if len(changes) == 1:
        return see_other(f"/receipts/{changes[0].receipt.id}", notice="grant-revoked")
    if len(changes) > MAX_RECEIPTS_SHOWN:
        return see_other("/grants?status=revoked", notice="grants-revoked")
    ids = "&".join(f"receipt={change.receipt.id}" for change in changes)
    return see_other(f"/receipts?{ids}", notice="grants-revoked")


@dataclass(frozen=True)
class ReceiptView:
    """A receipt as the holder reads it: what it says, whether it verifies, what it did."""

    receipt: ConsentReceipt
    claims: dict[str, Any]
    signature_valid: bool
    uses: list[str]
    taken_down: int


def _receipt_view(
    session: Session,
    *,
    account: Account,
    receipt_id: uuid.UUID,
    settings: Settings,
    keys: KeyRing,
) -> ReceiptView:
    receipt = repository.get_owned_receipt(session, account_id=account.id, receipt_id=receipt_id)
    try:
        claims, valid = verify_receipt(receipt.token, settings=settings, keys=keys), True
    except TokenRejected:  # e.g. signed with a key since retired
        claims, valid = {}, False
    purposes = [
        purpose for service_ in claims.get("services", []) for purpose in service_["purposes"]
    ]
    return ReceiptView(
        receipt=receipt,
        claims=claims,
        signature_valid=valid,
        uses=[category for purpose in purposes for category in purpose["purposeCategory"]],
        taken_down=taken_down_under(session, grant_id=receipt.grant_id)
        if receipt.event == ReceiptEvent.consent_withdrawn
        else 0,
    )


@router.get("/receipts")
def receipts_page(
    request: Request,
    account: PortalAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    receipt: Annotated[list[uuid.UUID], Query()] = [],  # noqa: B006 (FastAPI copies it)
):
    if len(receipt) > MAX_RECEIPTS_SHOWN:
        raise InvalidRequest(f"Ask for at most {MAX_RECEIPTS_SHOWN} receipts at once.")
    views = [
        _receipt_view(session, account=account, receipt_id=receipt_id, settings=settings, keys=keys)
        for receipt_id in receipt
    ]
    return render(
        request,
        "grants/receipts.html",
        account=account,
        title="Your receipts",
        views=views,
        taken_down=sum(view.taken_down for view in views),
    )


@router.get("/receipts/{receipt_id}")
def receipt_page(
    request: Request,
    receipt_id: uuid.UUID,
    account: PortalAccount,
    session: ReadSessionDep,
    settings: SettingsDep,
    keys: KeysDep,
):
    view = _receipt_view(
        session, account=account, receipt_id=receipt_id, settings=settings, keys=keys
    )
    return render(
        request,
        "grants/receipts.html",
        account=account,
        title="Consent receipt",
        views=[view],
        taken_down=view.taken_down,
    )


@router.get("/receipts/{receipt_id}/download")
def download_receipt(receipt_id: uuid.UUID, account: PortalAccount, session: ReadSessionDep):
    """The receipt as issued: the compact ES256 JWS, which ``POST /v1/receipts/verify`` (or
    anyone with our published keys) checks."""
    receipt = repository.get_owned_receipt(session, account_id=account.id, receipt_id=receipt_id)
    return Response(
        receipt.token,
        media_type="application/jose",
        headers={
            "Content-Disposition": f'attachment; filename="clearhouse-receipt-{receipt.id}.jws"',
            "Cache-Control": "no-store",
        },
    )
