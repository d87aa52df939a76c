"""Whether an asset's uses earn, are held or go back: its claim and its disputes together.

- **returned**: its claim was rejected, or staff upheld a dispute about it: a use's share goes
  back to the creator at once, and what was held for it goes back too;
- **held**: its claim is not verified yet (a character or style with no or pending evidence),
  or a dispute about it waits for its holder's answer or for staff: no money reaches it;
- **earns**: otherwise (a likeness counts as verified: rights/claims/standing.py).

A decision that changes one of these (a claim's, a dispute's) settles the asset's held shares
with :func:`settle_held_shares` in its own transaction, after locking the asset's row for
update: two decisions about one asset (a claim verified while a dispute is dismissed) run one
after the other, so the later one sees the earlier and held money is never left behind.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, select

from payouts.held import release_held_shares, return_held_shares
from payouts.journal import PostedEntry
from rights.claims.standing import ClaimStanding, claim_standings
from rights.disputes.standing import DisputeBearing, dispute_bearings
from rights.models import Asset, AssetKind


class Earning(StrEnum):
    earns = "earns"
    held = "held"
    returned = "returned"


def earnings(
    session: Session, *, assets: Iterable[tuple[uuid.UUID, AssetKind]], lock: bool = False
) -> dict[uuid.UUID, Earning]:
    """Each asset's :class:`Earning` (see the module), its claim and disputes read under a
    shared lock when ``lock`` (the release)."""
    kinds = dict(assets)
    claims = claim_standings(session, assets=kinds.items(), lock=lock)
    disputes = dispute_bearings(session, asset_ids=kinds.keys(), lock=lock)
    found = {}
    for asset_id in kinds:
        claim, dispute = claims[asset_id], disputes.get(asset_id)
        if claim == ClaimStanding.rejected or dispute == DisputeBearing.upheld:
            found[asset_id] = Earning.returned
        elif claim != ClaimStanding.verified or dispute == DisputeBearing.undecided:
            found[asset_id] = Earning.held
        else:
            found[asset_id] = Earning.earns
    return found


def lock_asset(session: Session, asset_id: uuid.UUID) -> Asset:
    """The asset's row, locked for update: the first step of a decision that settles its
    held shares (see the module)."""
    return session.exec(select(Asset).where(Asset.id == asset_id).with_for_update()).one()


def settle_held_shares(
    session: Session, *, asset: Asset, reason: str, now: datetime
) -> list[PostedEntry]:
    """Pay the asset's held shares in when it now earns, give them back to their creators
    when its shares now go back, leave them held otherwise (``reason``: the decision, for
    the entries' memos)."""
    earning = earnings(session, assets=[(asset.id, asset.kind)])[asset.id]
    if earning == Earning.earns:
        return release_held_shares(session, asset_id=asset.id, reason=reason, now=now)
    if earning == Earning.returned:
        return return_held_shares(session, asset_id=asset.id, reason=reason, now=now)
    return []
