"""The free monthly allowance: credits given to each creator once per UTC month.

It is posted lazily, at the creator's first clearance in a month that costs something (reading
one's credits is a read and posts nothing), under the key ``allowance:<account id>:<YYYY-MM>``:
the same month never posts twice, whichever request comes first. It debits the platform's
``allowance`` account and credits the creator's wallet.

Unused allowance carries over: once posted, the credits are in the wallet like bought ones,
and a wallet is one balance with no record of which credits were spent first, so there is
nothing to expire them by. A creator who does not come back in a month is given nothing that
month. ``CLEARHOUSE_FREE_MONTHLY_CREDITS_MINOR=0`` turns it off.
"""

import uuid
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlmodel import Session

from clearhouse.db import after_commit
from clearhouse.settings import Settings
from payouts.accounts import platform, wallet
from payouts.journal import EntryDraft, PostedEntry, credit, debit, entry_posted, post_entry
from payouts.models import AccountKind, EntryEvent

_seen_posted: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()
"""The allowance keys each database was seen to hold by a transaction that then committed."""
_SEEN_POSTED_AT_MOST = 100_000  # creators this month, for one process; forgotten past that


def _remember(seen: set[str], key: str) -> None:
    if len(seen) >= _SEEN_POSTED_AT_MOST:
        seen.clear()
    seen.add(key)


def allowance_month(now: datetime) -> str:
    """The UTC month ``now`` falls in, as ``YYYY-MM``."""
    return now.strftime("%Y-%m")


def allowance_key(creator_id: uuid.UUID, now: datetime) -> str:
    return f"{EntryEvent.allowance.value}:{creator_id}:{allowance_month(now)}"


def grant_monthly_allowance(
    session: Session, *, creator_id: uuid.UUID, settings: Settings, now: datetime
) -> PostedEntry | None:
    """Post this month's allowance to the creator's wallet unless it was posted before (or the
    allowance is off); the entry when one was posted now."""
    amount = settings.free_monthly_credits_minor
    if amount == 0:
        return None
    key = allowance_key(creator_id, now)
    connection = session.connection()
    # Once seen posted, an entry stays posted (the journal is never rewritten): this process
    # remembers it and reads it no more. Otherwise looked up first: once a month it posts,
    # every other time this one indexed read is all.
    seen = _seen_posted.setdefault(connection.engine, set())
    if key in seen:
        return None
    if entry_posted(connection, key):
        # Remembered once committed: the entry read may be this very transaction's own.
        after_commit(session, lambda: _remember(seen, key))
        return None
    currency = settings.free_monthly_credits_currency
    posted = post_entry(
        session,
        EntryDraft(
            key=key,
            event=EntryEvent.allowance,
            memo=f"Free credits for {allowance_month(now)}",
            legs=(
                debit(platform(AccountKind.allowance, currency), amount),
                credit(wallet(creator_id, currency), amount),
            ),
        ),
        now=now,
    )
    return None if posted.replayed else posted
