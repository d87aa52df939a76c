"""Journal entries: drafted, checked, posted once, reversed by new entries, never edited.

Posting happens in the caller's transaction (a release posts its usage in the release's own),
in a fixed order: every ledger account the entries name is made if new, then all are locked in
one statement, in id order; an entry that may be refused (one that lowers a wallet or a payable,
but a usage) is first applied to the locked balances and refused before anything is written if
it would take one below zero; then the entries, their legs and the balances they move are
written (payouts/storage.py), so a batch of entries costs the same few statements as one. (An
entry that cannot be refused, on PostgreSQL, is written first and its accounts locked, in id
order, just before its balances move: migration 0033.)

Idempotency: an entry's key comes from its business event (``release:<generation id>``,
``reversal:<the reversed entry's key>``, ``adjustment:<operator's key>``) and is unique. A key
posted before is not posted again: the first entry is returned (``replayed``), provided the
legs are the same; other legs under one key mean two events were given one key, a bug
(:class:`IdempotencyConflict`).
"""

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select
from sqlmodel import Session

from clearhouse.db import time_ordered_id
from clearhouse.errors import NotFound
from payouts.accounts import AccountRef, LockedAccount
from payouts.errors import IdempotencyConflict, InsufficientBalance, NotReversible, UnbalancedEntry
from payouts.models import AccountKind, EntryEvent, JournalEntry, JournalLeg, LedgerAccount
from payouts.storage import ledger_store

MAX_KEY_LENGTH = 200
MAX_MEMO_LENGTH = 500
MAX_LEG_MINOR = 2**63 - 1  # what the BIGINT column holds


@dataclass(frozen=True, slots=True)
class Leg:
    """A positive debit or a positive credit on one account, in its currency."""

    account: AccountRef
    debit_minor: int = 0
    credit_minor: int = 0

    def reversed(self) -> "Leg":
        return Leg(self.account, debit_minor=self.credit_minor, credit_minor=self.debit_minor)

    def _sort_key(self) -> tuple:
        account = self.account
        return (
            str(account.owner_id),
            account.kind,
            account.currency,
            self.debit_minor,
            self.credit_minor,
        )


def debit(account: AccountRef, amount_minor: int) -> Leg:
    return Leg(account, debit_minor=amount_minor)


def credit(account: AccountRef, amount_minor: int) -> Leg:
    return Leg(account, credit_minor=amount_minor)


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry before it is posted."""

    key: str
    event: EntryEvent
    memo: str
    legs: tuple[Leg, ...]
    generation_id: uuid.UUID | None = None
    clearance_id: uuid.UUID | None = None
    """A third-party generator's release (no generation) that a usage is for."""
    reverses_id: uuid.UUID | None = None
    overdraws_wallet: bool = False
    """Whether it may take a creator's wallet below zero: a usage (payouts.usage) or a Stripe
    refund or a dispute (payouts.purchase_events, payouts.dispute_events), whose money is gone
    already."""


@dataclass(frozen=True, slots=True)
class PostedEntry:
    id: uuid.UUID
    key: str
    event: str
    memo: str
    posted_at: datetime
    legs: tuple[Leg, ...]
    generation_id: uuid.UUID | None
    reverses_id: uuid.UUID | None
    replayed: bool
    """True when the key had been posted before: this is that first entry, nothing was written."""
    clearance_id: uuid.UUID | None = None


def check_balanced(draft: EntryDraft) -> None:
    """Raise :class:`UnbalancedEntry` unless every leg is one positive whole amount and the
    debits equal the credits in each currency."""
    if len(draft.legs) < 2:
        raise UnbalancedEntry(f"entry {draft.key!r}: an entry has at least two legs")
    # Plain dicts, no Counter, sorted or any per leg: a usage's four-leg entry took 4.8 us,
    # 1.0 now (timeit), out of ~60 us of client CPU an entry in batches of 100.
    debits: dict[str, int] = {}
    credits: dict[str, int] = {}
    for leg in draft.legs:
        debit_minor, credit_minor = leg.debit_minor, leg.credit_minor
        if (
            type(debit_minor) is not int
            or type(credit_minor) is not int
            or debit_minor < 0
            or credit_minor < 0
            or (debit_minor and credit_minor)
        ):
            raise UnbalancedEntry(
                f"entry {draft.key!r}: a leg carries whole amounts, one of them zero: {leg}"
            )
        if not 0 < debit_minor + credit_minor <= MAX_LEG_MINOR:
            raise UnbalancedEntry(f"entry {draft.key!r}: a leg's amount is out of range: {leg}")
        currency = leg.account.currency
        debits[currency] = debits.get(currency, 0) + debit_minor
        credits[currency] = credits.get(currency, 0) + credit_minor
    for currency, debited in debits.items():
        if debited != credits[currency]:
            raise UnbalancedEntry(
                f"entry {draft.key!r} does not balance in {currency}: debits "
                f"{debited}, credits {credits[currency]}"
            )


def post_entry(session: Session, draft: EntryDraft, *, now: datetime) -> PostedEntry:
    (posted,) = post_entries(session, [draft], now=now)
    return posted


def post_entries(
    session: Session, drafts: Sequence[EntryDraft], *, now: datetime
) -> list[PostedEntry]:
    """Post ``drafts`` in ``session``'s transaction (see the module); one result per draft,
    in order. Raises :class:`UnbalancedEntry`, ValueError (a key or memo too long, a key
    twice) or :class:`InsufficientBalance` before posting anything (the accounts named may
    have been made). :class:`IdempotencyConflict` is a bug: roll the transaction back."""
    for draft in drafts:
        check_balanced(draft)
        if not 0 < len(draft.key) <= MAX_KEY_LENGTH or len(draft.memo) > MAX_MEMO_LENGTH:
            raise ValueError(f"entry {draft.key!r}: a key or memo of a length out of range")
    if len({draft.key for draft in drafts}) != len(drafts):
        raise ValueError("one idempotency key twice in one batch")
    if not drafts:
        return []
    connection = session.connection()
    store = ledger_store(connection)
    refs = {leg.account for draft in drafts for leg in draft.legs}
    if any(_lowers(draft) for draft in drafts):
        # An entry that may be refused: the balances are read under the accounts' locks, and
        # the keys posted before looked up (no posting of them can be under way), so that
        # only the new entries are checked, before anything is written.
        accounts = store.lock(refs, now=now)
        earlier = recorded_entries(connection, [draft.key for draft in drafts])
        _apply([draft for draft in drafts if draft.key not in earlier], accounts)
        entries = _new_entries(drafts, skip=earlier, now=now)
        ids = {ref: account.id for ref, account in accounts.items()}
        inserted = store.write(entries, ids) if entries else set()
    else:
        # Nothing to check first (a usage; an entry that only raises what owners hold), and
        # the write skips a key posted before.
        earlier = {}
        entries = _new_entries(drafts, skip=earlier, now=now)
        inserted = store.lock_and_write(entries, refs, now=now)
    earlier.update(
        recorded_entries(connection, [entry.key for entry in entries if entry.key not in inserted])
    )
    for draft in drafts:
        if draft.key in earlier:
            _check_same_legs(draft, earlier[draft.key])
    posted = {entry.key: entry for entry in entries if entry.key in inserted}
    return [posted.get(draft.key) or earlier[draft.key] for draft in drafts]


def _new_entries(
    drafts: Sequence[EntryDraft], *, skip: Collection[str], now: datetime
) -> list[PostedEntry]:
    return [
        PostedEntry(
            id=time_ordered_id(),
            key=draft.key,
            event=draft.event,
            memo=draft.memo,
            posted_at=now,
            legs=draft.legs,
            generation_id=draft.generation_id,
            clearance_id=draft.clearance_id,
            reverses_id=draft.reverses_id,
            replayed=False,
        )
        for draft in drafts
        if draft.key not in skip
    ]


def reverse_entry(session: Session, *, key: str, memo: str, now: datetime) -> PostedEntry:
    """Post the reversal of the entry posted under ``key``: the same legs, each on the other
    side, linked to it. Reversing it again returns the first reversal. Raises
    :class:`NotFound` (no such entry) and :class:`NotReversible` (it is itself a reversal)."""
    original = recorded_entries(session.connection(), [key]).get(key)
    if original is None:
        raise NotFound(f"No journal entry was posted under {key!r}.")
    if original.event == EntryEvent.reversal:
        raise NotReversible(
            f"The entry {key!r} is a reversal; post the original event again instead."
        )
    return post_entry(
        session,
        EntryDraft(
            key=f"{EntryEvent.reversal.value}:{key}",
            event=EntryEvent.reversal,
            memo=memo,
            legs=tuple(leg.reversed() for leg in original.legs),
            generation_id=original.generation_id,
            clearance_id=original.clearance_id,
            reverses_id=original.id,
        ),
        now=now,
    )


def _check_same_legs(draft: EntryDraft, earlier: PostedEntry) -> None:
    if draft.event != earlier.event or sorted(draft.legs, key=Leg._sort_key) != sorted(
        earlier.legs, key=Leg._sort_key
    ):
        raise IdempotencyConflict(
            f"the key {draft.key!r} was posted before with other legs: {earlier.legs}"
        )


def _may_overdraw(draft: EntryDraft, account: AccountRef) -> bool:
    """Only the platform's accounts, and a creator's wallet by a usage, a refund or a dispute,
    may go below zero."""
    return account.owner_id is None or (
        draft.overdraws_wallet and account.kind == AccountKind.creator_wallet
    )


def _lowers(draft: EntryDraft) -> bool:
    """Whether ``draft`` lowers an account that may not go below zero (so it may be refused)."""
    return any(
        leg.account.movement(debit_minor=leg.debit_minor, credit_minor=leg.credit_minor) < 0
        and not _may_overdraw(draft, leg.account)
        for leg in draft.legs
    )


def _apply(drafts: Iterable[EntryDraft], accounts: dict[AccountRef, LockedAccount]) -> None:
    """Move the locked balances by each entry in turn. Raises :class:`InsufficientBalance`
    when an entry takes an account that may not go below zero there (or further below)."""
    for draft in drafts:
        before = {leg.account: accounts[leg.account].balance_minor for leg in draft.legs}
        for leg in draft.legs:
            accounts[leg.account].balance_minor += leg.account.movement(
                debit_minor=leg.debit_minor, credit_minor=leg.credit_minor
            )
        for ref, balance in before.items():
            after = accounts[ref].balance_minor
            if after < 0 and after < balance and not _may_overdraw(draft, ref):
                raise InsufficientBalance(
                    f"The {ref.kind.value.replace('_', ' ')} in {ref.currency} holds {balance} "
                    f"minor units; {draft.memo} would take it to {after}. Nothing was posted."
                )


_ENTRY = JournalEntry.__table__
_LEG = JournalLeg.__table__
_ACCOUNT = LedgerAccount.__table__
_ENTRIES_BY_KEY = select(_ENTRY).where(
    _ENTRY.c.idempotency_key.in_(bindparam("keys", expanding=True))
)
_LEGS_OF = (
    select(
        _LEG.c.entry_id,
        _LEG.c.debit_minor,
        _LEG.c.credit_minor,
        _ACCOUNT.c.kind,
        _ACCOUNT.c.currency,
        _ACCOUNT.c.owner_id,
    )
    .join(_ACCOUNT, _ACCOUNT.c.id == _LEG.c.account_id)
    .where(_LEG.c.entry_id.in_(bindparam("entries", expanding=True)))
    .order_by(_LEG.c.entry_id, _LEG.c.position)
)


_ENTRY_POSTED = select(_ENTRY.c.id).where(_ENTRY.c.idempotency_key == bindparam("key")).limit(1)


def entry_posted(connection: Connection, key: str) -> bool:
    """Whether an entry was posted under ``key``: one indexed read, no legs (every paid
    clearance asks it of this month's allowance)."""
    return connection.execute(_ENTRY_POSTED, {"key": key}).first() is not None


def recorded_entries(connection: Connection, keys: Sequence[str]) -> dict[str, PostedEntry]:
    """The entries posted under ``keys``, with their legs, by key."""
    if not keys:
        return {}
    rows = connection.execute(_ENTRIES_BY_KEY, {"keys": list(keys)}).all()
    if not rows:
        return {}
    legs: dict[uuid.UUID, list[Leg]] = {row.id: [] for row in rows}
    for leg in connection.execute(_LEGS_OF, {"entries": list(legs)}):
        legs[leg.entry_id].append(
            Leg(
                AccountRef(leg.kind, leg.currency, leg.owner_id),
                debit_minor=leg.debit_minor,
                credit_minor=leg.credit_minor,
            )
        )
    return {
        row.idempotency_key: PostedEntry(
            id=row.id,
            key=row.idempotency_key,
            event=row.event,
            memo=row.memo,
            posted_at=row.posted_at,
            legs=tuple(legs[row.id]),
            generation_id=row.generation_id,
            clearance_id=row.clearance_id,
            reverses_id=row.reverses_id,
            replayed=True,
        )
        for row in rows
    }
