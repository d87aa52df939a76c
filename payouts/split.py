"""The revenue split of one use: who gets what of a released generation's charge.

The charge is the quote's total (licensing/quote.py): compute plus each licensed asset's fee,
which its licence records (``Licence.price_minor``). Each holder earns their share of the fee
of each of their assets, at the revenue share of the policy version the licence relied on
(``PolicyVersion.revenue_share_bps``: the terms the holder consented under, not whatever
their account's share is later). The platform gets the rest: compute, and each fee less the
holder's share.

Rounding, exactly in integer minor units: a holder's share of one licence is
``price_minor * revenue_share_bps // 10_000``, rounded down; a holder's shares of several
licences in one generation are added up after rounding each. The platform gets the total
less every holder's share, so it takes each remainder (under one minor unit per licence), the
parts always add up to the charge, and no holder is ever paid more than their share.

A licence of an asset whose claim is not verified earns the same share, but held
(``held_assets``): it goes to the holder's held account, not their payable (payouts/held.py).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

FULL_SHARE_BPS = 10_000


@dataclass(frozen=True, slots=True)
class LicensedUse:
    """One licence of a released generation: its asset's holder, fee and share."""

    holder_id: uuid.UUID
    price_minor: int
    revenue_share_bps: int
    asset_id: uuid.UUID | None = None
    held: bool = False
    """Its asset's claim is not verified: the share is held (the asset id is then needed)."""

    def __post_init__(self) -> None:
        if self.held and self.asset_id is None:
            raise ValueError("a held share names its asset")


@dataclass(frozen=True, slots=True)
class Usage:
    """A release's charge, and the licences it pays for. The release is our generator's (a
    generation) or a third-party generator's (a clearance, with no generation): one of the
    two."""

    generation_id: uuid.UUID | None
    creator_id: uuid.UUID
    total_minor: int
    currency: str
    licences: tuple[LicensedUse, ...]
    clearance_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.generation_id is None) == (self.clearance_id is None):
            raise ValueError("a usage is a generation's or a third-party clearance's, not both")


@dataclass(frozen=True, slots=True)
class UsageSplit:
    holders: dict[uuid.UUID, int]
    """Each holder's earnings, in minor units (holders whose share rounds to zero left out)."""
    platform_minor: int
    held_assets: dict[tuple[uuid.UUID, uuid.UUID], int] = field(default_factory=dict)
    """Each (holder, asset)'s held share, for unverified assets (zeros left out)."""

    def held_by_holder(self) -> dict[uuid.UUID, int]:
        totals: dict[uuid.UUID, int] = defaultdict(int)
        for (holder_id, _), amount in self.held_assets.items():
            totals[holder_id] += amount
        return dict(totals)


def holder_share(price_minor: int, revenue_share_bps: int) -> int:
    """A holder's share of one licence fee, rounded down to a whole minor unit."""
    return price_minor * revenue_share_bps // FULL_SHARE_BPS


def split_usage(usage: Usage) -> UsageSplit:
    """Who gets what of ``usage.total_minor`` (see the module). Raises ValueError for a
    usage that cannot be a released generation's (fees over the total, a share out of
    range, a negative amount)."""
    if usage.total_minor < 0:
        raise ValueError(f"a charge of {usage.total_minor} is negative")
    holders: dict[uuid.UUID, int] = defaultdict(int)
    held: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for licence in usage.licences:
        if licence.price_minor < 0 or not 0 <= licence.revenue_share_bps <= FULL_SHARE_BPS:
            raise ValueError(f"a licence fee or share out of range: {licence}")
        share = holder_share(licence.price_minor, licence.revenue_share_bps)
        if share and licence.held:
            held[(licence.holder_id, licence.asset_id)] += share
        elif share:
            holders[licence.holder_id] += share
    fees = sum(licence.price_minor for licence in usage.licences)
    if fees > usage.total_minor:
        raise ValueError(f"licence fees of {fees} exceed the charge of {usage.total_minor}")
    return UsageSplit(
        holders=dict(holders),
        platform_minor=usage.total_minor - sum(holders.values()) - sum(held.values()),
        held_assets=dict(held),
    )
