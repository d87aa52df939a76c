"""Queries of clearance scoped by who asks: a requester finds only their own clearances."""

import uuid

from sqlmodel import Session, select

from clearhouse.errors import NotFound
from licensing.models import Clearance


def requesters_clearance(
    session: Session, *, requester_id: uuid.UUID, clearance_id: uuid.UUID
) -> Clearance:
    """The clearance, if ``requester_id`` asked for it; anyone else's is not found (404)."""
    clearance = session.exec(
        select(Clearance).where(
            Clearance.id == clearance_id, Clearance.requester_id == requester_id
        )
    ).first()
    if clearance is None:
        raise NotFound("No clearance with this id among yours.")
    return clearance
