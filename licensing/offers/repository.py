"""What the output check asks of licence offers: which found assets an accepted offer covers."""

import uuid
from collections.abc import Collection

from sqlmodel import Session, col, select

from licensing.offers.models import LicenceOffer, OfferStatus
from rights.models import ConsentGrant, GrantStatus


def offered_assets(
    session: Session, *, clearance_id: uuid.UUID, found: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """The ``found`` assets licensed for the clearance's output by an accepted offer whose
    consent still stands: a third-party generator's next output check passes for them."""
    return set(
        session.exec(
            select(LicenceOffer.asset_id)
            .join(ConsentGrant, ConsentGrant.id == LicenceOffer.grant_id)
            .where(
                LicenceOffer.clearance_id == clearance_id,
                LicenceOffer.status == OfferStatus.accepted,
                ConsentGrant.status == GrantStatus.active,
                col(LicenceOffer.asset_id).in_(list(found)),
            )
        ).all()
    )
