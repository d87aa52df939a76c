"""The holder's payouts: their Stripe connected account's state, their payouts, and the button
that starts (or goes on with) onboarding at Stripe; and the two pages Stripe sends the holder
back to (payouts/onboarding.py: RETURN_PATH and REFRESH_PATH).

Onboarding is a POST with the form's CSRF token, through the API's own ``start_onboarding``:
another site cannot make an account for the holder. The refresh page (Stripe's link expired)
is a GET, so it only asks Stripe for a new link to an account already stored; a holder who has
none is shown the button. With Stripe off the page says so, and nothing is stored.

Each page takes ``?organisation_id=`` for an organisation the holder is a member of
(payouts/payees.py): any member sees its payouts, only its owners set up its account.
"""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from clearhouse.accounts.models import Account
from clearhouse.db import read_session
from clearhouse.deps import EngineDep, ReadSessionDep, SettingsDep
from clearhouse.portal.pages import PageRoute, render
from clearhouse.portal.sessions import CsrfChecked, PortalHolder
from clearhouse.settings import Settings
from payouts.errors import StripeUnavailable
from payouts.onboarding import (
    REFRESH_PATH,
    RETURN_PATH,
    connected_account_id,
    connected_account_state,
    start_onboarding,
)
from payouts.payees import OrganisationQuery, payee_for
from payouts.runs import holder_payouts
from payouts.stripe_gateway import stripe_client
from rights.authority import Action, may

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/payouts")
def payouts_page(
    request: Request,
    holder: PortalHolder,
    session: ReadSessionDep,
    settings: SettingsDep,
    organisation_id: OrganisationQuery = None,
):
    return _page(request, session, settings, holder, organisation_id, arrival=None)


@router.post("/payouts/onboarding", dependencies=[CsrfChecked])
def start_payout_onboarding(
    holder: PortalHolder,
    engine: EngineDep,
    settings: SettingsDep,
    organisation_id: OrganisationQuery = None,
):
    """Make the payee's connected account the first time, and send the browser to Stripe's
    onboarding link (StripeOff, with Stripe off, is a page that says so)."""
    with read_session(engine) as session:
        payee = payee_for(
            session, account=holder, organisation_id=organisation_id, action=Action.administer
        )
    link = start_onboarding(engine, settings=settings, holder=payee, by=holder)
    return RedirectResponse(link.url, status_code=303)


@router.get(RETURN_PATH)
def back_from_stripe(
    request: Request,
    holder: PortalHolder,
    session: ReadSessionDep,
    settings: SettingsDep,
    organisation_id: OrganisationQuery = None,
):
    """Where Stripe sends the holder after onboarding: the account's state as Stripe sees it
    now (finishing at Stripe does not mean Stripe has enabled payouts yet)."""
    return _page(request, session, settings, holder, organisation_id, arrival="returned")


@router.get(REFRESH_PATH)
def link_expired(
    request: Request,
    holder: PortalHolder,
    session: ReadSessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    organisation_id: OrganisationQuery = None,
):
    """Where Stripe sends the holder when the onboarding link has expired or was used: a new
    link to the payee's stored account, at once (for an organisation, if the holder is one of
    its owners); with no account (or Stripe off, or a member who may only look), the page."""
    payee = payee_for(session, account=holder, organisation_id=organisation_id, action=Action.view)
    if (
        stripe_client(settings) is not None
        and connected_account_id(session, holder_id=payee.id)
        and may(session, account_id=holder.id, action=Action.administer, owner_id=payee.id)
    ):
        link = start_onboarding(engine, settings=settings, holder=payee, by=holder)
        return RedirectResponse(link.url, status_code=303)
    return _page(request, session, settings, holder, organisation_id, arrival="expired")


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    holder: Account,
    organisation_id: uuid.UUID | None,
    *,
    arrival: str | None,
):
    """The payouts page of the holder or of their organisation; ``arrival`` says how the
    holder came (back from Stripe, or from an expired link), for the heading and the message
    above the account."""
    payee = payee_for(session, account=holder, organisation_id=organisation_id, action=Action.view)
    account_id = connected_account_id(session, holder_id=payee.id)
    state = unavailable = None
    if account_id is not None:
        try:
            state = connected_account_state(session, settings=settings, holder_id=payee.id)
        except StripeUnavailable as error:
            unavailable = error.detail
    return render(
        request,
        "payouts/payouts.html",
        account=holder,
        title="Back from Stripe" if arrival == "returned" else "Payouts",
        arrival=arrival,
        organisation=None if payee.id == holder.id else payee,
        sets_up=may(session, account_id=holder.id, action=Action.administer, owner_id=payee.id),
        stripe_on=stripe_client(settings) is not None,
        account_id=account_id,
        state=state,
        unavailable=unavailable,
        payouts=holder_payouts(session, holder_id=payee.id),
    )
