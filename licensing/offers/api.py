"""Routes of licence offers: an owner offers a licence for an output their asset blocked; its
creator reads, accepts or declines it."""

import threading
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from clearhouse.accounts.dependencies import VerifiedAccount, VerifiedHolderAccount
from clearhouse.accounts.scopes import Scope, needs_scope
from clearhouse.db import utcnow
from clearhouse.deps import (
    CurrentAccount,
    EngineDep,
    HolderAccount,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from clearhouse.errors import NotFound, raises
from clearhouse.pagination import Page, Paging
from generator.signing_identity import SigningIdentity, configured_signing_identity
from licensing.errors import QuoteRefused
from licensing.offers import reading, service
from licensing.offers.errors import NotOfferable, OfferClosed, OfferUnusable
from licensing.offers.schemas import LicenceOfferPublic
from payouts.errors import InsufficientCredits
from rights.errors import AssetNotActive, ConsentIsTheHolders

router = APIRouter(prefix="/v1", tags=["licence offers"])

# The platform's own identity is made on first use: one request of this process makes it.
_making_identity = threading.Lock()


async def get_signing_identity(request: Request) -> Callable[[], SigningIdentity]:
    """The platform's signing identity, loaded on first use: the generation worker's, or
    the settings' when this process runs none."""
    worker = request.app.state.generation_worker
    if worker is not None:
        return worker.runtime.signing_identity
    settings = request.app.state.settings

    def identity() -> SigningIdentity:
        with _making_identity:
            return configured_signing_identity(settings)

    return identity


SigningIdentityDep = Annotated[Callable[[], SigningIdentity], Depends(get_signing_identity)]


@router.post(
    "/uses/{use_id}/licence-offer",
    response_model=LicenceOfferPublic,
    status_code=status.HTTP_201_CREATED,
)
@raises(NotFound, ConsentIsTheHolders, AssetNotActive, NotOfferable, QuoteRefused)
@needs_scope(Scope.assets_write)
def offer_licence(
    use_id: uuid.UUID, actor: VerifiedHolderAccount, session: SessionDep, settings: SettingsDep
):
    """Instead of a takedown: offer the creator of an output your asset blocked (a use of it
    found in the output, from your usage) a licence for that output, at your current
    policy's price for it, under your consent to that policy. It expires after
    `CLEARHOUSE_LICENCE_OFFER_HOURS`. Only for uses blocked by an asset you may consent for."""
    return service.offer_licence(
        session, actor=actor, use_id=use_id, settings=settings, now=utcnow()
    )


@router.get("/licence-offers", response_model=Page[LicenceOfferPublic])
@needs_scope(Scope.clearance)
def list_offers(requester: CurrentAccount, session: ReadSessionDep, paging: Paging):
    """Licences offered to you for your blocked outputs, newest first."""
    items, total = reading.offers_to(
        session, requester_id=requester.id, now=utcnow(), params=paging
    )
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/licence-offers/made", response_model=Page[LicenceOfferPublic])
@needs_scope(Scope.assets_read)
def list_offers_made(owner: HolderAccount, session: ReadSessionDep, paging: Paging):
    """Licences offered for outputs that your assets blocked, newest first."""
    items, total = reading.offers_made(session, account_id=owner.id, now=utcnow(), params=paging)
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/licence-offers/{offer_id}", response_model=LicenceOfferPublic)
@raises(NotFound)
@needs_scope(Scope.clearance)
def read_offer(offer_id: uuid.UUID, account: CurrentAccount, session: ReadSessionDep):
    """An offer made to you, or for an asset of yours."""
    return reading.read_offer(session, account_id=account.id, offer_id=offer_id, now=utcnow())


@router.post("/licence-offers/{offer_id}/accept", response_model=LicenceOfferPublic)
@raises(NotFound, OfferClosed, OfferUnusable, AssetNotActive, InsufficientCredits)
@needs_scope(Scope.clearance)
def accept_offer(
    offer_id: uuid.UUID,
    requester: VerifiedAccount,
    engine: EngineDep,
    settings: SettingsDep,
    signing_identity: SigningIdentityDep,
):
    """Accept the licence: your credits are checked as at clearance (402). Our generator's
    output is released with its provenance and charged like any release once every asset
    that blocked it is licensed; a third-party generator's next output check passes for the
    asset. Accepting again changes nothing. A consent withdrawn since the offer: 409."""
    return service.accept_offer(
        engine,
        requester=requester,
        offer_id=offer_id,
        settings=settings,
        signing_identity=signing_identity,
        now=utcnow(),
    )


@router.post("/licence-offers/{offer_id}/decline", response_model=LicenceOfferPublic)
@raises(NotFound, OfferClosed)
@needs_scope(Scope.clearance)
def decline_offer(offer_id: uuid.UUID, requester: CurrentAccount, session: SessionDep):
    """Decline the licence: the output stays blocked, and the owner is told."""
    return service.decline_offer(session, requester=requester, offer_id=offer_id, now=utcnow())
