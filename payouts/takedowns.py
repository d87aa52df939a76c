"""Takedowns in the ledger: each released generation taken down by a withdrawn consent has its
usage reversed, so the creator gets the charge back and the holder's next statement shows it.

A takedown can come after the holder was paid: their payable may no longer hold their share,
and a payable never goes below zero. The reversal takes back from each holder's payable what
it holds, up to their share, and the platform's revenue bears the rest (the part already paid
out), in the same entry, whose memo says how much. The holder is never asked to pay back,
the creator always gets the whole charge back, and the entry still balances. So a takedown's
reversal is never refused for want of a balance, and a second takedown of a generation posts
nothing: the first reversal stands.

A reversal that cannot be posted when its clip is taken down (the takedown commits all the
same, generator/takedown.py) is recorded as a ``pending_takedown_reversal`` in the takedown's
transaction, and retried by every payout run and by ``clearhouse payouts retry-reversals``:
each in its own transaction, which posts the reversal and removes the row together (a retry
that fails keeps the row, counting the attempt). It is never posted twice: the row is locked
while it is retried, and the reversal's idempotency key posts it once whatever happens.

A use's held shares (payouts/held.py) are settled by the reversal, share by share: one still
held is taken from the held account (and marked returned); one paid in since (its claim
verified) is taken from the payable like any earning; one returned already (its claim
rejected) is not given back to the creator a second time.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from clearhouse.db import read_session, write_session
from payouts.accounts import AccountRef, payable, platform, wallet
from payouts.accounts import held as held_account
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
from payouts.models import (
    AccountKind,
    EntryEvent,
    HeldShare,
    HeldShareState,
    JournalEntry,
    PendingTakedownReversal,
)
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
    shares = _held_shares(session, generation_ids=[entry.generation_id for entry in pending])
    # The payables' balances as of now, under their locks: a payout cannot take them meanwhile.
    locked = ledger_store(connection).lock(
        {leg.account for entry in pending for leg in entry.legs}
        | {payable(share.holder_id, share.currency) for share in shares},
        now=now,
    )
    held = {ref: account.balance_minor for ref, account in locked.items()}
    drafted = [(entry, _capped_reversal(entry, held, shares, reason=reason)) for entry in pending]
    drafts = [draft for _, draft in drafted if draft is not None]
    for share in shares:
        if share.state == HeldShareState.held:
            share.state = HeldShareState.returned
            share.settled_at, share.settled_key = now, reversal_key(share.generation_id)
            session.add(share)
    posted = post_entries(session, drafts, now=now)
    session.flush()
    return list(earlier.values()) + posted


log = logging.getLogger(__name__)


def reversed_generations(
    session: Session, *, generation_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of the taken-down generations have their usage's reversal posted: their creator
    has the charge back."""
    keys = [reversal_key(generation_id) for generation_id in generation_ids]
    return set(
        session.exec(
            select(JournalEntry.generation_id).where(col(JournalEntry.idempotency_key).in_(keys))
        ).all()
    )


def record_pending_reversals(
    session: Session, *, generation_ids: Sequence[uuid.UUID], reason: str, now: datetime
) -> None:
    """Record, in ``session``'s transaction, reversals to retry later (their posting failed)."""
    for generation_id in generation_ids:
        if session.get(PendingTakedownReversal, generation_id) is None:
            session.add(
                PendingTakedownReversal(
                    generation_id=generation_id,
                    reason=reason[:400],
                    recorded_at=now,
                    updated_at=now,
                )
            )
    session.flush()


@dataclass(slots=True)
class RetriedReversals:
    posted: list[uuid.UUID] = field(default_factory=list)
    """Generations whose reversal is posted now (or was already: then nothing more was)."""
    failed: list[uuid.UUID] = field(default_factory=list)
    """Generations whose reversal failed again: kept for the next retry."""


def retry_takedown_reversals(engine: Engine, *, now: datetime) -> RetriedReversals:
    """Post every pending takedown reversal, each in its own transaction (see the module)."""
    with read_session(engine) as session:
        pending = session.exec(
            select(PendingTakedownReversal.generation_id).order_by(
                PendingTakedownReversal.recorded_at
            )
        ).all()
    retried = RetriedReversals()
    for generation_id in pending:
        try:
            with write_session(engine) as session:
                row = session.get(PendingTakedownReversal, generation_id, with_for_update=True)
                if row is None:  # another retry posted it meanwhile
                    continue
                reverse_takedowns(
                    session, generation_ids=[generation_id], reason=row.reason, now=now
                )
                session.delete(row)
            retried.posted.append(generation_id)
        except Exception as failed:
            log.exception(
                "the reversal of the taken-down generation %s failed again", generation_id
            )
            with write_session(engine) as session:
                row = session.get(PendingTakedownReversal, generation_id, with_for_update=True)
                if row is not None:
                    row.attempts += 1
                    row.last_error = f"{type(failed).__name__}: {failed}"[:500]
                    row.updated_at = now
            retried.failed.append(generation_id)
    return retried


def _held_shares(session: Session, *, generation_ids: Sequence[uuid.UUID]) -> list[HeldShare]:
    return list(
        session.exec(
            select(HeldShare)
            .where(col(HeldShare.generation_id).in_(list(generation_ids)))
            .order_by(HeldShare.generation_id, HeldShare.asset_id)
            .with_for_update()
        ).all()
    )


def _capped_reversal(
    usage: PostedEntry,
    held: dict[AccountRef, int],
    shares: Sequence[HeldShare],
    *,
    reason: str,
) -> EntryDraft | None:
    """The usage's legs on the other side, but no payable debited past what it holds
    (``held``, moved as each reversal is drafted): the platform's revenue is debited the
    rest. Its held shares as the module says; None when nothing is left to move."""
    debits: dict[AccountRef, int] = defaultdict(int)  # debit minus credit, per account
    borne = 0
    for leg in usage.legs:
        back = leg.credit_minor - leg.debit_minor
        if leg.account.kind == AccountKind.held_share:
            continue  # settled share by share below
        if leg.account.kind == AccountKind.holder_payable:
            taken = min(back, max(held[leg.account], 0))
            held[leg.account] -= taken
            borne += back - taken
            back = taken
        debits[leg.account] += back
    for share in shares:
        if share.generation_id != usage.generation_id:
            continue
        if share.state == HeldShareState.held:
            debits[held_account(share.holder_id, share.currency)] += share.amount_minor
        elif share.state == HeldShareState.paid:
            ref = payable(share.holder_id, share.currency)
            taken = min(share.amount_minor, max(held[ref], 0))
            held[ref] -= taken
            borne += share.amount_minor - taken
            debits[ref] += taken
        else:  # returned to the creator already: not given back twice
            debits[wallet(share.creator_id, share.currency)] += share.amount_minor
    currency = usage.legs[0].account.currency
    debits[platform(AccountKind.platform_revenue, currency)] += borne
    legs: list[Leg] = [
        debit(ref, amount) if amount > 0 else credit(ref, -amount)
        for ref, amount in debits.items()
        if amount
    ]
    if not legs:
        return None
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
