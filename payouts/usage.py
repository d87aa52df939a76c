"""Usage to ledger: a released generation's charge posted (its reversal on a takedown is
payouts/takedowns.py).

The release (generator/release.py) records the charge and the licences and posts them here in
the same transaction, so a release that does not commit leaves no entry, and an entry never
exists without its release. The entry debits the creator's wallet by the charge and credits
each holder's payable by their share and the platform's revenue by the rest
(payouts/split.py).

A usage may take a creator's wallet below zero: the generation was cleared, run and released,
and refusing its charge now would release it for nothing. Checking that a creator has the
credits belongs at clearance, before anything runs (the 402, payouts/credits.py). Besides a
usage only a Stripe refund may (payouts/purchase_events.py); any other debit of a wallet is
refused past zero.
"""

import uuid
from datetime import datetime

from sqlmodel import Session, select

from licensing.models import Charge, Licence
from payouts.accounts import payable, platform, wallet
from payouts.journal import (
    EntryDraft,
    PostedEntry,
    credit,
    debit,
    post_entries,
    post_entry,
)
from payouts.models import AccountKind, EntryEvent
from payouts.split import LicensedUse, Usage, split_usage
from policies.models import PolicyVersion
from rights.models import Asset


def release_key(generation_id: uuid.UUID) -> str:
    """The idempotency key of a generation's usage."""
    return f"release:{generation_id}"


def usage_entry(usage: Usage) -> EntryDraft | None:
    """The entry of ``usage``; None for a charge of zero, which moves no money."""
    split = split_usage(usage)
    if usage.total_minor == 0:
        return None
    currency = usage.currency
    legs = [debit(wallet(usage.creator_id, currency), usage.total_minor)]
    legs.extend(
        credit(payable(holder_id, currency), amount)
        for holder_id, amount in sorted(split.holders.items())
    )
    if split.platform_minor:
        legs.append(credit(platform(AccountKind.platform_revenue, currency), split.platform_minor))
    return EntryDraft(
        key=release_key(usage.generation_id),
        event=EntryEvent.usage,
        memo=f"Release of generation {usage.generation_id}",
        legs=tuple(legs),
        generation_id=usage.generation_id,
        overdraws_wallet=True,
    )


def post_usages(session: Session, usages: list[Usage], *, now: datetime) -> list[PostedEntry]:
    """Post each usage's entry (a usage of zero posts none) in ``session``'s transaction."""
    drafts = [draft for usage in usages if (draft := usage_entry(usage)) is not None]
    return post_entries(session, drafts, now=now)


def recorded_usage(session: Session, *, generation_id: uuid.UUID) -> Usage:
    """The usage a release recorded: its charge, and each licence with its asset's holder and
    the revenue share of the policy version it relied on."""
    charge = session.exec(select(Charge).where(Charge.generation_id == generation_id)).one()
    licences = session.exec(
        select(
            Licence.price_minor, Licence.currency, Asset.owner_id, PolicyVersion.revenue_share_bps
        )
        .join(Asset, Asset.id == Licence.asset_id)
        .join(PolicyVersion, PolicyVersion.id == Licence.policy_version_id)
        .where(Licence.generation_id == generation_id)
    ).all()
    if any(currency != charge.currency for _, currency, _, _ in licences):
        raise ValueError(f"generation {generation_id}: a licence priced in another currency")
    return Usage(
        generation_id=generation_id,
        creator_id=charge.payer_id,
        total_minor=charge.amount_minor,
        currency=charge.currency,
        licences=tuple(
            LicensedUse(holder_id=owner_id, price_minor=price, revenue_share_bps=share)
            for price, _, owner_id, share in licences
        ),
    )


def post_release(
    session: Session, *, generation_id: uuid.UUID, now: datetime
) -> PostedEntry | None:
    """Post the usage of the generation released in ``session``'s transaction (its charge
    and licences are read back, unflushed ones included)."""
    draft = usage_entry(recorded_usage(session, generation_id=generation_id))
    return None if draft is None else post_entry(session, draft, now=now)
