"""The holder's payouts: their Stripe connected account's state, their payouts, and the button
that starts (or goes on with) onboarding at Stripe; and the two pages Stripe sends the holder
back to (payouts/onboarding.py: RETURN_PATH and REFRESH_PATH).

Onboarding is a POST with the form's CSRF token, through the API's own ``start_onboarding``:
another site cannot make an account for the holder. The refresh page (Stripe's link expired)
is a GET, so it only asks Stripe for a new link to an account already stored; a holder who has
none is shown the button. With Stripe off the page says so, and nothing is stored.
"""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from clearhouse.accounts.models import Account
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
from payouts.runs import holder_payouts
from payouts.stripe_gateway import stripe_client

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/payouts")
def payouts_page(
    request: Request, holder: PortalHolder, session: ReadSessionDep, settings: SettingsDep
):
    return _page(request, session, settings, holder, arrival=None)


@router.post("/payouts/onboarding", dependencies=[CsrfChecked])
def start_payout_onboarding(holder: PortalHolder, engine: EngineDep, settings: SettingsDep):
    """Make the holder's connected account the first time, and send the browser to Stripe's
    onboarding link (StripeOff, with Stripe off, is a page that says so)."""
    link = start_onboarding(engine, settings=settings, holder=holder)
    return RedirectResponse(link.url, status_code=303)


@router.get(RETURN_PATH)
def back_from_stripe(
    request: Request, holder: PortalHolder, session: ReadSessionDep, settings: SettingsDep
):
    """Where Stripe sends the holder after onboarding: the account's state as Stripe sees it
    now (finishing at Stripe does not mean Stripe has enabled payouts yet)."""
    return _page(request, session, settings, holder, arrival="returned")


@router.get(REFRESH_PATH)
def link_expired(
    request: Request,
    holder: PortalHolder,
    session: ReadSessionDep,
    engine: EngineDep,
    settings: SettingsDep,
):
    """Where Stripe sends the holder when the onboarding link has expired or was used: a new
    link to their stored account, at once; with no account (or Stripe off), the page."""
    if stripe_client(settings) is not None and connected_account_id(session, holder_id=holder.id):
        link = start_onboarding(engine, settings=settings, holder=holder)
        return RedirectResponse(link.url, status_code=303)
    return _page(request, session, settings, holder, arrival="expired")


def _page(
    request: Request, session: Session, settings: Settings, holder: Account, *, arrival: str | None
):
    """The payouts page; ``arrival`` says how the holder came (back from Stripe, or from an
    expired link), for the heading and the message above the account."""
    account_id = connected_account_id(session, holder_id=holder.id)
    state = unavailable = None
    if account_id is not None:
        try:
            state = connected_account_state(session, settings=settings, holder_id=holder.id)
        except StripeUnavailable as error:
            unavailable = error.detail
    return render(
        request,
        "payouts/payouts.html",
        account=holder,
        title="Back from Stripe" if arrival == "returned" else "Payouts",
        arrival=arrival,
        stripe_on=stripe_client(settings) is not None,
        account_id=account_id,
        state=state,
        unavailable=unavailable,
        payouts=holder_payouts(session, holder_id=holder.id),
    )
