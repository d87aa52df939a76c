"""Every use of the holder's assets, the poster frames of released clips, and the holder's
answers to requests that wait for them.

The list is :func:`licensing.usage.owner_usage`, the query behind the API's usage route,
scoped by the owner inside; approving and declining (and approving after all a request the
holder declined, while their no stands) go through :func:`licensing.approvals.answer`, as
``POST /v1/approvals/{id}/approve|decline`` does. An
output a holder's asset blocked shows the licence offered for it, or the form that offers one
(clearhouse/portal/offer_pages.py).
"""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from clearhouse.db import utcnow
from clearhouse.deps import ReadSessionDep, SessionDep, SettingsDep
from clearhouse.pagination import PageParams
from clearhouse.portal.listing import Page, choice, identifier, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, render, see_other
from clearhouse.portal.sessions import CsrfChecked, PortalHolder, PortalVerifiedHolder
from generator.posters import owners_released_generation, poster_path
from licensing import approvals
from licensing.models import ApprovalStatus
from licensing.offers import reading as offers
from licensing.schemas import UseState
from licensing.usage import owner_usage
from policies.decisions import AssetOutcome
from rights.repository import get_owned_asset, list_owned_assets

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "use-approved": "You approved the request. The requester may send it again, unchanged, "
        "and it is cleared for your asset until the approval expires.",
        "use-declined": "You declined the request. Your asset will not be used for it, and the "
        "requester's further requests for it are refused without asking you, until your no "
        "lapses or you consent to a new policy version.",
    }
)

#: The state filter's choices, in the order a holder looks for them.
STATE_LABELS = {
    UseState.pending: "Waiting for you",
    UseState.released: "Released",
    UseState.taken_down: "Taken down",
    UseState.blocked: "Blocked",
    UseState.cancelled: "Cancelled",
    UseState.declined: "Declined by you",
    UseState.approved: "Approved by you",
    UseState.expired: "Expired unanswered",
    UseState.repeated: "Asked again",
    UseState.generating: "Generating",
    UseState.cleared: "Cleared",
    UseState.failed: "Failed",
}

#: What each state means, in a sentence beside the badge.
STATE_MEANINGS = {
    UseState.pending: "Waits for your answer.",
    UseState.released: "Generated, licensed under your consent and delivered.",
    UseState.taken_down: "Released, then taken down: a consent it used was withdrawn.",
    UseState.blocked: "Refused: a policy (yours, or another asset's in the same request) did "
    "not allow it, you had said no to its requester, or its output showed something not "
    "covered.",
    UseState.cancelled: "Stopped before release: a consent it relied on was withdrawn.",
    UseState.declined: "You said no: their further requests for this asset are refused "
    "without asking you.",
    UseState.approved: "You said yes; the requester may send it again.",
    UseState.expired: "Nobody answered in time, which counts as no.",
    UseState.repeated: "Sent again while the same request waited for you: your answer to "
    "that one covers this too.",
    UseState.generating: "Cleared; the video is being made.",
    UseState.cleared: "Cleared under your policy (generated elsewhere or not yet).",
    UseState.failed: "Cleared, but the generator could not make it. Nothing was charged.",
}

#: What a decline means once it lapsed (its meaning above holds while it stands).
LAPSED_DECLINE_MEANING = (
    "You said no. Your no has lapsed: their requests for this asset are asked of you again."
)

OUTCOME_LABELS = {
    AssetOutcome.allow: "Allowed",
    AssetOutcome.needs_approval: "Needed your approval",
    AssetOutcome.deny: "Denied",
}


@router.get("/uses")
def uses_page(
    request: Request,
    account: PortalHolder,
    session: ReadSessionDep,
    asset: str = "",
    state: str = "",
    outcome: str = "",
    page: Page = 1,
):
    asset_id = identifier(asset, name="asset")
    if asset_id is not None:  # another holder's asset is a 404 page, as in the API
        get_owned_asset(session, account_id=account.id, asset_id=asset_id, include_deleted=True)
    chosen_state = choice(state, UseState, name="state")
    chosen_outcome = choice(outcome, AssetOutcome, name="outcome")
    now = utcnow()
    uses, total = owner_usage(
        session,
        owner_id=account.id,
        asset_id=asset_id,
        outcome=chosen_outcome,
        state=chosen_state,
        taken_down=None,
        now=now,
        params=page_params(page),
    )
    made, _ = offers.offers_made(
        session,
        account_id=account.id,
        now=utcnow(),
        params=PageParams(limit=100, offset=0),
        use_ids=[use.use_id for use in uses],
    )
    assets, _ = list_owned_assets(
        session, owner_id=account.id, kind=None, params=PageParams(limit=100, offset=0)
    )
    return render(
        request,
        "uses/list.html",
        account=account,
        title="Uses of your assets",
        uses=uses,
        assets=assets,
        filters={"asset": asset, "state": state, "outcome": outcome},
        pager=pager(request, page=page, total=total),
        state_labels=STATE_LABELS,
        state_meanings=STATE_MEANINGS,
        lapsed_decline_meaning=LAPSED_DECLINE_MEANING,
        outcome_labels=OUTCOME_LABELS,
        # Newest first: each use's latest offer.
        offers={offer.use_id: offer for offer in reversed(made)},
        # The declines that still stand, which the holder may turn into a yes after all (once
        # one lapses the requester may simply ask again: licensing/approvals.py).
        standing_declines={
            use.approval_id
            for use in uses
            if use.approval == ApprovalStatus.declined and use.approval_expires_at > now
        },
    )


@router.get("/uses/generations/{generation_id}/poster.jpg")
def poster(
    generation_id: uuid.UUID, account: PortalHolder, session: ReadSessionDep, settings: SettingsDep
):
    """The first frame of a released clip that used one of the holder's assets."""
    job = owners_released_generation(session, owner_id=account.id, generation_id=generation_id)
    response = FileResponse(poster_path(settings, job), media_type="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@router.post("/approvals/{approval_id}/approve", dependencies=[CsrfChecked])
def approve(
    approval_id: uuid.UUID,
    account: PortalVerifiedHolder,
    session: SessionDep,
    settings: SettingsDep,
):
    approvals.answer(
        session, owner=account, approval_id=approval_id, approve=True, settings=settings
    )
    return see_other("/uses?state=approved", notice="use-approved")


@router.post("/approvals/{approval_id}/decline", dependencies=[CsrfChecked])
def decline(
    approval_id: uuid.UUID, account: PortalHolder, session: SessionDep, settings: SettingsDep
):
    approvals.answer(
        session, owner=account, approval_id=approval_id, approve=False, settings=settings
    )
    return see_other("/uses?state=declined", notice="use-declined")
