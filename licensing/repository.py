"""Queries of clearance scoped by who asks: a requester finds only their own clearances."""

import uuid

from sqlmodel import Session

from clearhouse.errors import NotFound
from clearhouse.ownership import owned
from licensing.models import Clearance


def requesters_clearance(
    session: Session, *, requester_id: uuid.UUID, clearance_id: uuid.UUID
) -> Clearance:
    """The clearance, if ``requester_id`` asked for it; anyone else's is not found (404)."""
    return owned(
        session,
        Clearance,
        clearance_id,
        owner_column=Clearance.requester_id,
        owner_id=requester_id,
        not_found=NotFound("No clearance with this id among yours."),
    )
