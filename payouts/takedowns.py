"""Takedowns in the ledger: each released generation taken down by a withdrawn consent has its
usage reversed, so the creator gets the charge back and the holder's next statement shows it.

A takedown can come after the holder was paid: their payable may no longer hold their share,
and a payable never goes below zero. The reversal takes back from each holder's payable what
it holds, up to their share, and the platform's revenue bears the rest (the part already paid
out), in the same entry, whose memo says how much. The holder is never asked to pay back,
the creator always gets the whole charge back, and the entry still balances. So a takedown's
reversal is never refused for want of a balance, and a second takedown of a generation posts
nothing: the first reversal stands.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from payouts.accounts import AccountRef, platform
from payouts.journal import (
    MAX_MEMO_LENGTH,
    EntryDraft,
    Leg,
    PostedEntry,
    credit,
    debit,
    post_entries,
    recorded_entries,
)
from payouts.models import AccountKind, EntryEvent
from payouts.storage import ledger_store
from payouts.usage import release_key


def reversal_key(generation_id: uuid.UUID) -> str:
    """The key of the reversal of a generation's usage: ``reversal:<the usage's key>``, as
    every reversal's (payouts/journal.py)."""
    return f"{EntryEvent.reversal.value}:{release_key(generation_id)}"


def reverse_takedowns(
    session: Session, *, generation_ids: Sequence[uuid.UUID], reason: str, now: datetime
) -> list[PostedEntry]:
    """Post, in ``session``'s transaction, the reversal of each taken-down generation's usage
    (see the module for the part already paid out). A generation whose usage posted nothing
    (a charge of zero) has none; one reversed before keeps its first reversal. The entries."""
    connection = session.connection()
    usages = recorded_entries(connection, [release_key(g) for g in generation_ids])
    earlier = recorded_entries(
        connection, [reversal_key(entry.generation_id) for entry in usages.values()]
    )
    pending = [
        entry for entry in usages.values() if reversal_key(entry.generation_id) not in earlier
    ]
    if not pending:
        return list(earlier.values())
    # The payables' balances as of now, under their locks: a payout cannot take them meanwhile.
    locked = ledger_store(connection).lock(
        {leg.account for entry in pending for leg in entry.legs}, now=now
    )
    held = {ref: account.balance_minor for ref, account in locked.items()}
    drafts = [_capped_reversal(entry, held, reason=reason) for entry in pending]
    return list(earlier.values()) + post_entries(session, drafts, now=now)


def _capped_reversal(usage: PostedEntry, held: dict[AccountRef, int], *, reason: str) -> EntryDraft:
    """The usage's legs on the other side, but no payable debited past what it holds
    (``held``, moved as each reversal is drafted): the platform's revenue is debited the
    rest."""
    debits: dict[AccountRef, int] = defaultdict(int)  # debit minus credit, per account
    borne = 0
    for leg in usage.legs:
        back = leg.credit_minor - leg.debit_minor
        if leg.account.kind == AccountKind.holder_payable:
            taken = min(back, max(held[leg.account], 0))
            held[leg.account] -= taken
            borne += back - taken
            back = taken
        debits[leg.account] += back
    currency = usage.legs[0].account.currency
    debits[platform(AccountKind.platform_revenue, currency)] += borne
    legs: list[Leg] = [
        debit(ref, amount) if amount > 0 else credit(ref, -amount)
        for ref, amount in debits.items()
        if amount
    ]
    memo = f"Reversal of the release of generation {usage.generation_id}: {reason}"
    if borne:
        memo += (
            f" ({borne} minor units of the holders' shares were already paid out: "
            "the platform bears them)"
        )
    return EntryDraft(
        key=reversal_key(usage.generation_id),
        event=EntryEvent.reversal,
        memo=memo[:MAX_MEMO_LENGTH],
        legs=tuple(legs),
        generation_id=usage.generation_id,
        reverses_id=usage.id,
    )
