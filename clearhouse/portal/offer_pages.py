"""Licence offers in the portal: a holder offers a licence for an output their asset blocked
(from the uses page); a creator reads the offers made to them and accepts or declines each.
The same service functions as ``POST /v1/uses/{id}/licence-offer`` and
``POST /v1/licence-offers/{id}/accept|decline``, scoped by the account inside."""

import uuid

from fastapi import APIRouter, Request

from clearhouse.db import utcnow
from clearhouse.deps import EngineDep, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.portal.listing import Page, page_params, pager
from clearhouse.portal.pages import NOTICES, PageRoute, render, see_other
from clearhouse.portal.sessions import (
    CsrfChecked,
    PortalAccount,
    PortalVerified,
    PortalVerifiedHolder,
)
from licensing.offers import reading, service
from licensing.offers.api import SigningIdentityDep

router = APIRouter(route_class=PageRoute, include_in_schema=False)

NOTICES.update(
    {
        "licence-offered": "Your licence offer was sent: the creator may accept it until it "
        "expires, and you are told of their answer.",
        "offer-accepted": "You accepted the licence. The output is released once every asset "
        "that blocked it is licensed, and charged like any release.",
        "offer-declined": "You declined the licence. The output stays blocked.",
    }
)


@router.get("/offers")
def offers_page(request: Request, account: PortalAccount, session: ReadSessionDep, page: Page = 1):
    offers, total = reading.offers_to(
        session, requester_id=account.id, now=utcnow(), params=page_params(page)
    )
    return render(
        request,
        "offers/list.html",
        account=account,
        title="Licence offers",
        offers=offers,
        pager=pager(request, page=page, total=total),
    )


@router.post("/uses/{use_id}/licence-offer", dependencies=[CsrfChecked])
def offer_licence(
    use_id: uuid.UUID, account: PortalVerifiedHolder, session: SessionDep, settings: SettingsDep
):
    service.offer_licence(session, actor=account, use_id=use_id, settings=settings, now=utcnow())
    return see_other("/uses?state=blocked", notice="licence-offered")


@router.post("/offers/{offer_id}/accept", dependencies=[CsrfChecked])
def accept(
    offer_id: uuid.UUID,
    account: PortalVerified,
    engine: EngineDep,
    settings: SettingsDep,
    signing_identity: SigningIdentityDep,
):
    service.accept_offer(
        engine,
        requester=account,
        offer_id=offer_id,
        settings=settings,
        signing_identity=signing_identity,
        now=utcnow(),
    )
    return see_other("/offers", notice="offer-accepted")


@router.post("/offers/{offer_id}/decline", dependencies=[CsrfChecked])
def decline(offer_id: uuid.UUID, account: PortalAccount, session: SessionDep):
    service.decline_offer(session, requester=account, offer_id=offer_id, now=utcnow())
    return see_other("/offers", notice="offer-declined")
