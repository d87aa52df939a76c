"""Where an asset stands with its disputes, for the release (earned, held or given back).

The release reads the disputes under a shared row lock (``FOR SHARE`` on PostgreSQL; SQLite
runs one write transaction at a time) and a decision locks its dispute for update, so an
upholding that committed first is seen by the release (the share goes back to the creator),
and one that comes later waits for the release to commit and then finds its held share.
"""

import uuid
from collections.abc import Collection
from enum import StrEnum

from sqlmodel import Session, col, select

from rights.disputes.models import UNDECIDED, Dispute, DisputeStatus


class DisputeBearing(StrEnum):
    undecided = "undecided"  # a dispute waits for its holder's answer or for staff
    upheld = "upheld"  # staff upheld a dispute: the asset neither licenses nor earns


def dispute_bearings(
    session: Session, *, asset_ids: Collection[uuid.UUID], lock: bool = False
) -> dict[uuid.UUID, DisputeBearing]:
    """The assets among ``asset_ids`` that a dispute bears on (an upheld one first), read
    under a shared lock when ``lock``; an asset with none or only dismissed ones is left out."""
    if not asset_ids:
        return {}
    query = select(Dispute.asset_id, Dispute.status).where(
        col(Dispute.asset_id).in_(list(asset_ids)),
        col(Dispute.status).in_((*UNDECIDED, DisputeStatus.upheld)),
    )
    if lock:
        query = query.with_for_update(read=True)
    bearings: dict[uuid.UUID, DisputeBearing] = {}
    for asset_id, status in session.exec(query).all():
        if status == DisputeStatus.upheld:
            bearings[asset_id] = DisputeBearing.upheld
        else:
            bearings.setdefault(asset_id, DisputeBearing.undecided)
    return bearings
