"""Operators' adjustments of a creator's wallet: a goodwill credit, or taking back credits
given by mistake (never past zero). Each is an entry against the platform's adjustments
account, under a key the operator chooses, so running the same adjustment twice posts it
once."""

import uuid
from datetime import datetime

from sqlmodel import Session

from payouts.accounts import platform, wallet
from payouts.journal import MAX_MEMO_LENGTH, EntryDraft, PostedEntry, credit, debit, post_entry
from payouts.models import AccountKind, EntryEvent
from policies.document import MAX_MINOR_UNITS


def adjustment_key(operator_key: str) -> str:
    return f"{EntryEvent.adjustment.value}:{operator_key}"


def adjust_wallet(
    session: Session,
    *,
    creator_id: uuid.UUID,
    amount_minor: int,
    currency: str,
    operator_key: str,
    reason: str,
    now: datetime,
) -> PostedEntry:
    """Credit the creator's wallet by ``amount_minor`` (or debit it, when negative) against
    the platform's adjustments account. Raises InsufficientBalance for a debit past zero and
    ValueError for an amount of zero or past any price (`MAX_MINOR_UNITS`)."""
    if amount_minor == 0:
        raise ValueError("an adjustment of zero moves nothing")
    if abs(amount_minor) > MAX_MINOR_UNITS:
        raise ValueError(
            f"an adjustment of more than {MAX_MINOR_UNITS} minor units (ten billion in any "
            "currency) is a typo; the ledger's sums must stay within its integers"
        )
    creator, adjustments = wallet(creator_id, currency), platform(AccountKind.adjustments, currency)
    amount = abs(amount_minor)
    legs = (
        (debit(adjustments, amount), credit(creator, amount))
        if amount_minor > 0
        else (debit(creator, amount), credit(adjustments, amount))
    )
    return post_entry(
        session,
        EntryDraft(
            key=adjustment_key(operator_key),
            event=EntryEvent.adjustment,
            memo=f"Adjustment: {reason}"[:MAX_MEMO_LENGTH],
            legs=legs,
        ),
        now=now,
    )
