"""Reading licence offers: one for its creator or for whoever may see its asset, the
creator's and the owners' lists, each with its state now (an offer past its expiry reads as
expired). The offers' changes are licensing/offers/service.py's."""

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session, col, select

from clearhouse.accounts.models import Account
from clearhouse.errors import NotFound
from clearhouse.pagination import PageParams, paginate
from generator.models import GenerationJob, JobState
from licensing.models import Clearance
from licensing.offers.models import LicenceOffer
from licensing.offers.schemas import LicenceOfferPublic, OfferState
from rights.authority import Action, assets_in_reach, may
from rights.models import Asset

NOT_YOURS = "No output blocked by an asset you manage has this id."
NO_OFFER = "No licence offer with this id is yours."
_SIGNING_TRIES = 3


def _selected():
    return (
        select(LicenceOffer, Asset, Clearance.prompt, Account.display_name, GenerationJob.state)
        .join(Asset, Asset.id == LicenceOffer.asset_id)
        .join(Clearance, Clearance.id == LicenceOffer.clearance_id)
        .join(Account, Account.id == LicenceOffer.requester_id)
        .outerjoin(GenerationJob, GenerationJob.id == LicenceOffer.generation_id)
    )


def offer_public(session: Session, *, offer_id: uuid.UUID, now: datetime) -> LicenceOfferPublic:
    return _public(*session.exec(_selected().where(LicenceOffer.id == offer_id)).one(), now=now)


def read_offer(
    session: Session, *, account_id: uuid.UUID, offer_id: uuid.UUID, now: datetime
) -> LicenceOfferPublic:
    """An offer to ``account_id``, or one they may see the asset of; else not found."""
    row = session.exec(_selected().where(LicenceOffer.id == offer_id)).first()
    if row is None or (
        row[0].requester_id != account_id
        and not may(
            session,
            account_id=account_id,
            action=Action.view,
            owner_id=row[1].owner_id,
            asset=row[1],
        )
    ):
        raise NotFound(NO_OFFER)
    return _public(*row, now=now)


def offers_to(
    session: Session, *, requester_id: uuid.UUID, now: datetime, params: PageParams
) -> tuple[list[LicenceOfferPublic], int]:
    """The offers made to a creator, newest first."""
    query = _selected().where(LicenceOffer.requester_id == requester_id)
    rows, total = paginate(session, _newest_first(query), params)
    return [_public(*row, now=now) for row in rows], total


def offers_made(
    session: Session,
    *,
    account_id: uuid.UUID,
    now: datetime,
    params: PageParams,
    use_ids: Collection[uuid.UUID] | None = None,
) -> tuple[list[LicenceOfferPublic], int]:
    """The offers made for the assets ``account_id`` may see, newest first; of the blocked
    uses ``use_ids`` only, when given."""
    query = _selected().where(assets_in_reach(session, account_id=account_id, action=Action.view))
    if use_ids is not None:
        query = query.where(col(LicenceOffer.cleared_asset_id).in_(list(use_ids)))
    rows, total = paginate(session, _newest_first(query), params)
    return [_public(*row, now=now) for row in rows], total


def _newest_first(query):
    return query.order_by(col(LicenceOffer.created_at).desc(), col(LicenceOffer.id))


def _public(
    offer: LicenceOffer,
    asset: Asset,
    prompt: str,
    requester_name: str,
    generation_state: JobState | None,
    *,
    now: datetime,
) -> LicenceOfferPublic:
    state = OfferState(offer.status.value)
    if state == OfferState.pending and (offer.expires_at <= now or offer.lapsed_at is not None):
        state = OfferState.expired
    return LicenceOfferPublic(
        id=offer.id,
        use_id=offer.cleared_asset_id,
        clearance_id=offer.clearance_id,
        generation_id=offer.generation_id,
        generation_state=generation_state.value if generation_state else None,
        asset_id=asset.id,
        asset_handle=asset.handle,
        asset_kind=asset.kind.value,
        asset_name=asset.name,
        requester_name=requester_name,
        prompt=prompt,
        state=state,
        price_minor=offer.price_minor,
        currency=offer.currency,
        lines=offer.lines,
        created_at=offer.created_at,
        expires_at=offer.expires_at,
        decided_at=offer.decided_at,
    )
