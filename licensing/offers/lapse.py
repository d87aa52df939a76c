"""Offers that lapse: a pending offer past its expiry is recorded as lapsed once
(``licence_offer.lapsed`` in its asset's audit log) and its owner and its creator are told
(``offer.lapsed``), by the deadline sweep each round of the notice worker runs
(clearhouse/deadlines.py).

Exactly once, however many workers sweep at the same moment: each offer is lapsed in a
transaction of its own by a conditional update (pending, not yet lapsed), so a second sweep's
update of the same offer waits for the first to commit, then matches nothing and tells no one.
An acceptance that locked the offer first wins the same way: the offer is no longer pending.
"""

import uuid
from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import col, select

from clearhouse.db import read_session, write_session
from licensing.offers.models import LicenceOffer, OfferStatus
from licensing.offers.service import audit_offer, offer_facts
from notifications.kinds import NoticeKind
from notifications.service import NoticeDraft, notify_all
from rights.models import Asset

#: The most offers one sweep lapses; the rest wait for the next round.
LAPSES_PER_SWEEP = 200


def lapse_offers(engine: Engine, *, now: datetime) -> list[uuid.UUID]:
    """Record every pending offer past its expiry as lapsed and tell its two parties; the ids
    of the offers this sweep lapsed (not those another sweep took first)."""
    with read_session(engine) as session:
        due = session.exec(
            select(LicenceOffer.id)
            .where(
                LicenceOffer.status == OfferStatus.pending,
                col(LicenceOffer.lapsed_at).is_(None),
                LicenceOffer.expires_at <= now,
            )
            .order_by(LicenceOffer.expires_at, LicenceOffer.id)
            .limit(LAPSES_PER_SWEEP)
        ).all()
    return [offer_id for offer_id in due if _lapse(engine, offer_id=offer_id, now=now)]


def _lapse(engine: Engine, *, offer_id: uuid.UUID, now: datetime) -> bool:
    with write_session(engine) as session:
        taken = session.execute(
            update(LicenceOffer)
            .where(
                LicenceOffer.id == offer_id,
                LicenceOffer.status == OfferStatus.pending,
                col(LicenceOffer.lapsed_at).is_(None),
            )
            .values(lapsed_at=now)
        ).rowcount
        if not taken:
            return False  # answered, or lapsed by another sweep, since it was read
        offer = session.get(LicenceOffer, offer_id)
        audit_offer(session, "licence_offer.lapsed", offer=offer, actor_id=None)
        facts = {
            **offer_facts(offer),
            "handle": session.get(Asset, offer.asset_id).handle,
            "expired_at": offer.expires_at.isoformat(),
        }
        notify_all(
            session,
            [
                NoticeDraft(
                    offer.owner_id, NoticeKind.offer_lapsed, [offer.asset_id, offer.id], facts
                ),
                NoticeDraft(
                    offer.requester_id,
                    NoticeKind.offer_lapsed,
                    [offer.id, offer.clearance_id],
                    facts,
                ),
            ],
            now=now,
        )
    return True
