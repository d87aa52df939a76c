"""Usage to ledger: a release's charge posted (the reversal of our generator's on a takedown
is payouts/takedowns.py).

A release records the charge and the licences and posts them here in the same transaction, so
a release that does not commit leaves no entry, and an entry never exists without its
release. Our generator's release (generator/release.py) posts under
``release:<generation id>``; a third-party generator's, its clearance's first output check
that allowed release (licensing/third_party_release.py), under
``release:clearance:<clearance id>``: each is posted once.

The entry debits the creator's wallet by the charge and credits each holder's payable by
their share and the platform's revenue by the rest (payouts/split.py). The share of an asset
that does not earn yet (its claim not verified, or a dispute about it undecided:
payouts/earning.py) is credited to its holder's held account instead (payouts/held.py); that
of an asset whose claim was rejected, or a dispute about it upheld, goes back to the creator
at once, in the same transaction.

A usage may take a creator's wallet below zero: the generation was cleared, run and released,
and refusing its charge now would release it for nothing. Checking that a creator has the
credits belongs at clearance, before anything runs (the 402, payouts/credits.py). Besides a
usage only a Stripe refund may (payouts/purchase_events.py); any other debit of a wallet is
refused past zero.
"""

import uuid
from datetime import datetime

from sqlalchemy import and_
from sqlmodel import Session, col, select

from licensing.models import Charge, Licence
from payouts.accounts import held, payable, platform, wallet
from payouts.earning import Earning, earnings
from payouts.held import hold_shares, return_held_shares
from payouts.journal import EntryDraft, PostedEntry, credit, debit, post_entries
from payouts.models import AccountKind, EntryEvent
from payouts.split import LicensedUse, Usage, UsageSplit, split_usage
from policies.models import PolicyVersion
from rights.models import Asset


def release_key(generation_id: uuid.UUID) -> str:
    """The idempotency key of a generation's usage."""
    return f"release:{generation_id}"


def third_party_release_key(clearance_id: uuid.UUID) -> str:
    """The idempotency key of a third-party generator's usage of a clearance."""
    return f"release:clearance:{clearance_id}"


def _key_and_memo(usage: Usage) -> tuple[str, str]:
    if usage.generation_id is not None:
        return release_key(usage.generation_id), f"Release of generation {usage.generation_id}"
    return (
        third_party_release_key(usage.clearance_id),
        f"Release by a third-party generator of clearance {usage.clearance_id}",
    )


def usage_entry(usage: Usage) -> EntryDraft | None:
    """The entry of ``usage``; None for a charge of zero, which moves no money."""
    return _entry_of(usage, split_usage(usage))


def _entry_of(usage: Usage, split: UsageSplit) -> EntryDraft | None:
    if usage.total_minor == 0:
        return None
    currency = usage.currency
    legs = [debit(wallet(usage.creator_id, currency), usage.total_minor)]
    legs.extend(
        credit(payable(holder_id, currency), amount)
        for holder_id, amount in sorted(split.holders.items())
    )
    legs.extend(
        credit(held(holder_id, currency), amount)
        for holder_id, amount in sorted(split.held_by_holder().items())
    )
    if split.platform_minor:
        legs.append(credit(platform(AccountKind.platform_revenue, currency), split.platform_minor))
    key, memo = _key_and_memo(usage)
    return EntryDraft(
        key=key,
        event=EntryEvent.usage,
        memo=memo,
        legs=tuple(legs),
        generation_id=usage.generation_id,
        clearance_id=usage.clearance_id,
        overdraws_wallet=True,
    )


def post_usages(session: Session, usages: list[Usage], *, now: datetime) -> list[PostedEntry]:
    """Post each usage's entry (a usage of zero posts none) in ``session``'s transaction."""
    drafted = []
    for usage in usages:
        split = split_usage(usage)  # once: the entry and the held shares are both made from it
        if (draft := _entry_of(usage, split)) is not None:
            drafted.append((usage, split, draft))
    posted = post_entries(session, [draft for *_, draft in drafted], now=now)
    hold_shares(
        session,
        [
            (usage, split)
            for (usage, split, _), entry in zip(drafted, posted, strict=True)
            if not entry.replayed
        ],
        now=now,
    )
    return posted


def recorded_usage(
    session: Session, *, generation_id: uuid.UUID | None, clearance_id: uuid.UUID | None = None
) -> tuple[Usage, dict[uuid.UUID, Earning]]:
    """The usage a release recorded (our generator's ``generation_id``, or a third-party
    generator's ``clearance_id``): its charge, and each licence with its asset's holder, the
    revenue share of the policy version it relied on and whether its share is held; with each
    licensed asset's earning (its claim and disputes read under a shared lock: see
    rights/claims/standing.py and rights/disputes/standing.py)."""
    if generation_id is not None:
        charged = Charge.generation_id == generation_id
        licensed = Licence.generation_id == generation_id
    else:
        charged = and_(Charge.clearance_id == clearance_id, col(Charge.generation_id).is_(None))
        licensed = and_(Licence.clearance_id == clearance_id, col(Licence.generation_id).is_(None))
    charge = session.exec(select(Charge).where(charged)).one()
    licences = session.exec(
        select(
            Licence.price_minor,
            Licence.currency,
            Asset.owner_id,
            PolicyVersion.revenue_share_bps,
            Asset.id,
            Asset.kind,
        )
        .join(Asset, Asset.id == Licence.asset_id)
        .join(PolicyVersion, PolicyVersion.id == Licence.policy_version_id)
        .where(licensed)
    ).all()
    if any(currency != charge.currency for _, currency, *_ in licences):
        raise ValueError(f"release {charge.id}: a licence priced in another currency")
    standings = earnings(
        session, assets=[(asset_id, kind) for *_, asset_id, kind in licences], lock=True
    )
    usage = Usage(
        generation_id=generation_id,
        clearance_id=clearance_id if generation_id is None else None,
        creator_id=charge.payer_id,
        total_minor=charge.amount_minor,
        currency=charge.currency,
        licences=tuple(
            LicensedUse(
                holder_id=owner_id,
                price_minor=price,
                revenue_share_bps=share,
                asset_id=asset_id,
                held=standings[asset_id] != Earning.earns,
            )
            for price, _, owner_id, share, asset_id, _ in licences
        ),
    )
    return usage, standings


def post_release(
    session: Session, *, generation_id: uuid.UUID, now: datetime
) -> PostedEntry | None:
    """Post the usage of the generation released in ``session``'s transaction (its charge
    and licences are read back, unflushed ones included)."""
    usage, standings = recorded_usage(session, generation_id=generation_id)
    return post_claimed_usage(session, usage, standings=standings, now=now)


def post_third_party_release(
    session: Session, *, clearance_id: uuid.UUID, now: datetime
) -> PostedEntry | None:
    """Post the usage of the clearance a third-party generator released in ``session``'s
    transaction (its charge and licences are read back, unflushed ones included)."""
    usage, standings = recorded_usage(session, generation_id=None, clearance_id=clearance_id)
    return post_claimed_usage(session, usage, standings=standings, now=now)


def post_claimed_usage(
    session: Session,
    usage: Usage,
    *,
    standings: dict[uuid.UUID, Earning],
    now: datetime,
) -> PostedEntry | None:
    """Post ``usage`` (its licences held as ``standings`` say); the share of an asset whose
    shares go back goes back to the creator at once, in the same transaction."""
    if usage_entry(usage) is None:
        return None
    (posted,) = post_usages(session, [usage], now=now)
    for asset_id, standing in sorted(standings.items()):
        if standing == Earning.returned:
            return_held_shares(
                session,
                asset_id=asset_id,
                reason="its holder's claim was rejected, or a dispute about it upheld",
                now=now,
                generation_ids=[usage.generation_id] if usage.generation_id else [],
                clearance_ids=[usage.clearance_id] if usage.clearance_id else [],
            )
    return posted
