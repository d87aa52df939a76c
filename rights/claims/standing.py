"""Where an asset's claim stands, for the release (held or earned) and the clearance answer.

A likeness counts as verified: its enrolment's liveness check showed the person themself,
and one face, one owner (likeness/conflicts.py) keeps anyone else from enrolling it. A
character or style is verified only when staff verified its claim; with no claim it is
``unclaimed``, which earns no more than ``pending``.

The release reads the standings under a shared row lock (``FOR SHARE`` on PostgreSQL;
SQLite runs one write transaction at a time) and a decision locks its claim for update, so a
verification that committed first is seen by the release (the share is earned), and one that
comes later waits for the release to commit and then finds its held share.
"""

import uuid
from collections.abc import Iterable
from enum import StrEnum

from sqlmodel import Session, col, select

from rights.claims.models import AssetClaim, ClaimStatus
from rights.models import AssetKind


class ClaimStanding(StrEnum):
    verified = "verified"
    pending = "pending"
    rejected = "rejected"
    unclaimed = "unclaimed"  # a character or style with no evidence yet


def claim_standings(
    session: Session, *, assets: Iterable[tuple[uuid.UUID, AssetKind]], lock: bool = False
) -> dict[uuid.UUID, ClaimStanding]:
    """Each asset's standing (see the module), its claim read under a shared lock when
    ``lock``."""
    kinds = dict(assets)
    claimed = [asset_id for asset_id, kind in kinds.items() if kind != AssetKind.likeness]
    statuses: dict[uuid.UUID, ClaimStatus] = {}
    if claimed:
        query = select(AssetClaim.asset_id, AssetClaim.status).where(
            col(AssetClaim.asset_id).in_(claimed)
        )
        if lock:
            query = query.with_for_update(read=True)
        statuses = dict(session.exec(query).all())
    return {asset_id: standing(kind, statuses.get(asset_id)) for asset_id, kind in kinds.items()}


def standing(kind: AssetKind, status: ClaimStatus | None) -> ClaimStanding:
    """An asset's standing from its kind and its claim's status (None: no claim)."""
    if kind == AssetKind.likeness:
        return ClaimStanding.verified
    return ClaimStanding.unclaimed if status is None else ClaimStanding(status.value)
