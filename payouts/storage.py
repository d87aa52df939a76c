"""Where postings are written: the statements behind ``payouts.journal.post_entries``.

Two stores with one contract. :class:`PostgresStore` sends its statements to psycopg itself,
each a fixed text taking arrays and JSON, so one entry or a hundred cost the same: the
accounts locked in id order, then the entries written (``ON CONFLICT DO NOTHING`` on the key,
which waits for a concurrent posting of the same key to end, then skips it) with their legs and
the balances they move; for entries no balance can refuse, both in one statement. The
platform's accounts, which every posting of a kind moves (its revenue every usage) and which no
posting is refused for, are not locked: each connection moves them by a balance slot of its own
(payouts.models.LedgerBalanceSlot), so postings from several connections commit side by side
instead of queueing on one row. Why not SQLAlchemy Core here: one indexed SELECT in a loop took
73-203 us through Core against 28-69 us through psycopg, in four runs by hand on this busy
2-core machine. :class:`CoreStore` is SQLAlchemy Core (``executemany``) for SQLite, whose write
transactions run one at a time, so it looks up the keys posted before, then inserts.
"""

import itertools
import json
import os
import uuid
import weakref
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import Connection, bindparam, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from clearhouse.db import take_pending_begin
from payouts.accounts import AccountRef, LockedAccount
from payouts.models import AccountKind, JournalEntry, JournalLeg, LedgerAccount

_ACCOUNT = LedgerAccount.__table__
_ENTRY = JournalEntry.__table__
_LEG = JournalLeg.__table__


class NewEntry(Protocol):
    id: uuid.UUID
    key: str
    event: str
    memo: str
    posted_at: datetime
    generation_id: uuid.UUID | None
    clearance_id: uuid.UUID | None
    reverses_id: uuid.UUID | None
    legs: Sequence  # of payouts.journal.Leg


class LedgerStore(Protocol):
    def lock(
        self, refs: Collection[AccountRef], *, now: datetime
    ) -> dict[AccountRef, LockedAccount]:
        """The accounts ``refs`` name, each made if it does not exist yet, with their
        balances: the owners' locked for update in the order of their ids (two transactions
        posting to the same accounts wait for each other instead of deadlocking); on
        PostgreSQL the platform's read, not locked (see :class:`PostgresStore`)."""

    def write(self, entries: Sequence[NewEntry], ids: dict[AccountRef, uuid.UUID]) -> set[str]:
        """Insert the entries whose keys were not posted before, their legs, and move their
        accounts' balances by them (the accounts are locked); the keys inserted."""

    def lock_and_write(
        self, entries: Sequence[NewEntry], refs: Collection[AccountRef], *, now: datetime
    ) -> set[str]:
        """``lock`` then ``write``, for entries that no balance can refuse."""


def ledger_store(connection: Connection) -> LedgerStore:
    if connection.dialect.name == "postgresql":
        return PostgresStore(connection)
    return CoreStore(connection)


class _LegRow(NamedTuple):
    entry_id: uuid.UUID
    position: int
    entry_leg_count: int
    account_id: uuid.UUID
    currency: str
    debit_minor: int
    credit_minor: int
    movement: int  # how much it moves its account's balance (not a column)


def _leg_rows(entries: Sequence[NewEntry], ids: dict[AccountRef, uuid.UUID]) -> list[_LegRow]:
    return [
        _LegRow(
            entry.id,
            position,
            len(entry.legs),
            ids[leg.account],
            leg.account.currency,
            leg.debit_minor,
            leg.credit_minor,
            leg.account.movement(debit_minor=leg.debit_minor, credit_minor=leg.credit_minor),
        )
        for entry in entries
        for position, leg in enumerate(entry.legs)
    ]


def _create_accounts(
    connection: Connection, refs: Collection[AccountRef], *, now: datetime
) -> None:
    """Insert the accounts, in the order of what they are (the same in every transaction);
    one that another transaction made meanwhile is left as it is."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    rows = [
        {
            "id": uuid.uuid4(),
            "owner_id": ref.owner_id,
            "kind": ref.kind,
            "currency": ref.currency,
            "balance_minor": 0,
            "created_at": now,
        }
        for ref in sorted(refs, key=lambda ref: (str(ref.owner_id), ref.kind, ref.currency))
    ]
    connection.execute(dialect.insert(_ACCOUNT).on_conflict_do_nothing(), rows)


BALANCE_SLOTS = 16
"""How many balance slots a platform account's balance spreads over on PostgreSQL: more than
the connections of one process that post at once, as a rule."""

# Each pooled connection takes the next slot when it first posts; processes start apart.
_slot_turns = itertools.count(os.getpid())

# Ledger account ids (as text) by what the accounts are, per pool: per database, shared by the
# pool's connections (see :class:`PostgresStore`).
_KNOWN_IDS: "weakref.WeakKeyDictionary[object, dict[AccountRef, str]]" = weakref.WeakKeyDictionary()


class PostgresStore:
    """Accounts that do not exist yet are made first, in one fixed order (a new row is locked
    by the transaction that inserts it, and two transactions making the same accounts wait for
    each other in that order); then the owners' accounts are locked in one statement, in id
    order. An earlier version locked the accounts it found, then made the others: two first
    postings for the same new accounts deadlocked (tests/payouts/test_ledger_database.py). The
    ids seen are remembered for the engine's pool, shared by its connections (accounts are
    never deleted; an id found gone, as when a test empties the tables or the transaction that
    made it rolled back, is looked up again). Remembered per connection, as they were first,
    each of 8 connections looked up most accounts once more: an extra round trip in about half
    the postings of bench/ledger.py.

    The platform's accounts are read, not locked, and moved by the connection's balance slot:
    the slot's row is locked by the write, after every owner's account (each posting takes one
    slot of each platform account it moves, in id order), so the order that keeps postings from
    deadlocking holds. No posting is refused for a platform account's balance (it may go below
    zero, payouts.journal), so none needs it exact under a lock."""

    _FIND = """
        SELECT a.id, a.owner_id, a.kind, a.currency FROM ledger_account a
        JOIN unnest(%(owners)s::uuid[], %(owned_kinds)s::text[], %(owned_currencies)s::text[])
            AS r(owner_id, kind, currency)
            ON a.owner_id = r.owner_id AND a.kind = r.kind AND a.currency = r.currency
        UNION ALL
        SELECT a.id, a.owner_id, a.kind, a.currency FROM ledger_account a
        JOIN unnest(%(platform_kinds)s::text[], %(platform_currencies)s::text[])
            AS r(kind, currency)
            ON a.owner_id IS NULL AND a.kind = r.kind AND a.currency = r.currency
    """
    # The owners' accounts locked in id order. All or none: the count runs before any row is
    # locked, so an id found gone (then looked up again) leaves no lock taken out of order.
    # FOR NO KEY UPDATE, as a balance's UPDATE takes: other postings' legs' foreign-key checks
    # (FOR KEY SHARE) go past it (migration 0033).
    _LOCKED = """
        locked AS MATERIALIZED (
            SELECT id, balance_minor FROM ledger_account
            WHERE id = ANY(%(owned)s::uuid[])
                AND (SELECT count(*) FROM ledger_account WHERE id = ANY(%(ids)s::uuid[]))
                    = cardinality(%(ids)s::uuid[])
            ORDER BY id FOR NO KEY UPDATE
        )
    """
    # ... with the platform's read, their slots' part of the balance added. (The statements
    # are joined from the class's constant texts; every value goes as a parameter.)
    _LOCK = "".join(
        (
            "WITH",
            _LOCKED,
            """
            SELECT id::text, balance_minor FROM locked
            UNION ALL
            SELECT a.id::text, a.balance_minor + coalesce(
                (SELECT sum(s.balance_minor) FROM ledger_balance_slot s
                 WHERE s.account_id = a.id),
                0)::int8
            FROM ledger_account a WHERE a.id = ANY(%(platform)s::uuid[])
            """,
        )
    )
    # The entries whose keys are new, their legs, and the balances they move (the owners'
    # accounts' rows, the platform's accounts' slots): the function of migration 0034, which
    # counts the accounts first (all there, or it writes nothing), inserts the entries and
    # their legs, then locks the owners' accounts in id order (again, after ``_LOCK``: a lock
    # held is taken at no cost) and moves the balances. One row: how many of the accounts it
    # found, and the keys it inserted. It sets the plan settings ``_PLAN_ONCE`` sets on
    # itself, for its own statements only.
    _WRITE = """SELECT accounts_found, inserted_keys FROM ledger_write_entries(
        %(entries)s::json, %(leg_entry_ids)s::uuid[], %(leg_positions)s::int2[],
        %(leg_counts)s::int2[], %(leg_account_ids)s::uuid[], %(leg_currencies)s::text[],
        %(leg_debits)s::int8[], %(leg_credits)s::int8[], %(leg_movements)s::int8[],
        %(ids)s::uuid[], %(owned)s::uuid[], %(platform)s::uuid[], %(slot)s::int2,
        %(posted_at)s)"""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.driver = connection.connection.driver_connection
        # Each id as text, as the statements take it (str(UUID) in every posting cost more
        # than the lookup).
        self.known: dict[AccountRef, str] = _KNOWN_IDS.setdefault(connection.engine.pool, {})
        self.slot: int = connection.connection.info.setdefault(
            "ledger_balance_slot", next(_slot_turns) % BALANCE_SLOTS
        )

    # Planned once per connection. psycopg prepares a statement run five times, but the
    # server's plan cache went on planning these anew for every posting (a custom plan: its
    # estimates from the arrays' lengths beat the generic plan's), a third of a posting's
    # server CPU; left to choose, the generic plan read the accounts' table whole where it
    # was small. A generic plan, from the indexes, for the store's statements only: the
    # caller's transaction plans the rest as before. The write function sets both on itself
    # (migration 0033), for batches too (batches of 100 took 121-122 us of server CPU an
    # entry with it against 131-143 planned as they came, two runs of bench/ledger.py);
    # these are for the lock and the lookups, which keep the planner's choice for many
    # accounts. (One statement each way: a statement cost a posting 12 us of client CPU. A
    # value of NULL sets a setting to its default, as ``SET LOCAL ... TO DEFAULT`` does.)
    _PLAN_ONCE_UP_TO = 32
    """Accounts a posting names, at most, to be planned once (a usage names 2 to 6)."""
    _PLAN_ONCE = """SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
        set_config('enable_seqscan', 'off', true)"""
    _PLAN_AS_BEFORE = """SELECT set_config('plan_cache_mode', NULL, true),
        set_config('enable_seqscan', NULL, true)"""

    def _plans_once(self, accounts: int) -> bool:
        return accounts <= self._PLAN_ONCE_UP_TO

    @contextmanager
    def _pipeline(self, *, accounts: int) -> Iterator[None]:
        """The statements sent in it go in one round trip, after the transaction's BEGIN if
        the engine has left it to the first statement (clearhouse.db.take_pending_begin),
        planned once per connection (``_PLAN_ONCE``) where they name few ``accounts``, the
        settings put back after them."""
        plan_once = self._plans_once(accounts)
        with self.driver.pipeline():
            if take_pending_begin(self.connection):
                self.driver.execute("BEGIN")
            if plan_once:
                self.driver.execute(self._PLAN_ONCE)
            yield
            if plan_once:
                self.driver.execute(self._PLAN_AS_BEFORE)

    def lock(
        self, refs: Collection[AccountRef], *, now: datetime
    ) -> dict[AccountRef, LockedAccount]:
        ids = self._ids(refs, now=now)
        with self._pipeline(accounts=len(ids)):
            locked = self.driver.execute(self._LOCK, _lock_parameters(ids))
        rows = dict(locked.fetchall())
        if len(rows) != len(ids):
            self._forget(refs)
            return self.lock(refs, now=now)
        return {
            ref: LockedAccount(uuid.UUID(account_id), rows[account_id])
            for ref, account_id in ids.items()
        }

    def lock_and_write(
        self, entries: Sequence[NewEntry], refs: Collection[AccountRef], *, now: datetime
    ) -> set[str]:
        """One statement (``_WRITE``). Where an account id remembered is gone, it locks
        nothing and writes nothing: the ids are looked up again."""
        ids = self._ids(refs, now=now)
        found, keys = self._written(self._write_parameters(entries, ids, _lock_parameters(ids)))
        if found != len(ids):
            self._forget(refs)
            return self.lock_and_write(entries, refs, now=now)
        return set(keys)

    def _written(self, parameters: dict) -> tuple[int, list[str]]:
        """``_WRITE`` run: the accounts found and the keys inserted. Alone, not in a pipeline
        with the transaction's BEGIN where that is still to be sent: a round trip more, but
        psycopg's pipeline cost more client CPU than the round trip (one posting a
        transaction on one connection, four alternated runs of 1,500: 163-195 us of client
        CPU a posting against 214-224, the server's the same)."""
        if take_pending_begin(self.connection):
            self.driver.execute("BEGIN")
        return self.driver.execute(self._WRITE, parameters).fetchone()

    def _forget(self, refs: Collection[AccountRef]) -> None:
        """An id remembered is gone (a test emptied the tables): look every one up again."""
        for ref in refs:
            self.known.pop(ref, None)

    def _ids(self, refs: Collection[AccountRef], *, now: datetime) -> dict[AccountRef, str]:
        known = self.known
        ids = {ref: known.get(ref) for ref in refs}
        unknown = [ref for ref, account_id in ids.items() if account_id is None]
        if unknown:
            found = self._find(unknown)
            missing = [ref for ref in unknown if ref not in found]
            if missing:
                _create_accounts(self.connection, missing, now=now)
                found.update(self._find(missing))
            for ref, account_id in found.items():
                known[ref] = ids[ref] = str(account_id)
        return ids  # type: ignore[return-value]  # every one found or made

    def _find(self, refs: Collection[AccountRef]) -> dict[AccountRef, uuid.UUID]:
        owned = [ref for ref in refs if ref.owner_id is not None]
        shared = [ref for ref in refs if ref.owner_id is None]
        parameters = {
            "owners": [ref.owner_id for ref in owned],
            "owned_kinds": [ref.kind.value for ref in owned],
            "owned_currencies": [ref.currency for ref in owned],
            "platform_kinds": [ref.kind.value for ref in shared],
            "platform_currencies": [ref.currency for ref in shared],
        }
        with self._pipeline(accounts=len(refs)):
            rows = self.driver.execute(self._FIND, parameters)
        return {
            AccountRef(AccountKind(kind), currency, owner_id): account_id
            for account_id, owner_id, kind, currency in rows.fetchall()
        }

    def write(self, entries: Sequence[NewEntry], ids: dict[AccountRef, uuid.UUID]) -> set[str]:
        text = {ref: str(account_id) for ref, account_id in ids.items()}
        _found, keys = self._written(self._write_parameters(entries, text, _lock_parameters(text)))
        return set(keys)

    def _write_parameters(
        self, entries: Sequence[NewEntry], ids: dict[AccountRef, str], lock: dict[str, str]
    ) -> dict:
        # The entries as JSON of plain strings and numbers (a key or memo is any text), the
        # legs as an array literal a column (uuids, currency codes and integers: nothing to
        # quote), built in one pass: psycopg adapts a list element by element in Python, which
        # cost more than the statement's own work for one entry.
        rows = []
        legs = []
        for entry in entries:
            entry_id = str(entry.id)
            count = len(entry.legs)
            rows.append(
                {
                    "id": entry_id,
                    "idempotency_key": entry.key,
                    "event": entry.event,
                    "memo": entry.memo,
                    "generation_id": entry.generation_id and str(entry.generation_id),
                    "clearance_id": entry.clearance_id and str(entry.clearance_id),
                    "reverses_id": entry.reverses_id and str(entry.reverses_id),
                    "leg_count": count,
                }
            )
            for position, leg in enumerate(entry.legs):
                account = leg.account
                debit_minor, credit_minor = leg.debit_minor, leg.credit_minor
                movement = account.movement(debit_minor=debit_minor, credit_minor=credit_minor)
                legs.append(
                    (
                        entry_id,
                        str(position),
                        str(count),
                        ids[account],
                        account.currency,
                        str(debit_minor),
                        str(credit_minor),
                        str(movement),
                    )
                )
        return {
            **lock,
            "slot": self.slot,
            "posted_at": entries[0].posted_at,
            "entries": json.dumps(rows),
            **dict(zip(_LEG_COLUMNS, map(_array, zip(*legs, strict=True)), strict=True)),
        }


_LEG_COLUMNS = (
    "leg_entry_ids",
    "leg_positions",
    "leg_counts",
    "leg_account_ids",
    "leg_currencies",
    "leg_debits",
    "leg_credits",
    "leg_movements",
)
"""The write's parameters for the legs, one array a column, in the order of a leg's tuple."""


def _lock_parameters(ids: dict[AccountRef, str]) -> dict[str, str]:
    """The accounts' ids, the owners' (locked) and the platform's (moved by slot) as arrays."""
    owned = [account_id for ref, account_id in ids.items() if ref.owner_id is not None]
    platform = [account_id for ref, account_id in ids.items() if ref.owner_id is None]
    return {"ids": _array(ids.values()), "owned": _array(owned), "platform": _array(platform)}


def _array(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of ``values``, each a text with nothing to quote (a uuid, a
    currency code, an integer)."""
    return "{" + ",".join(values) + "}"


class CoreStore:
    _ACCOUNTS = select(
        _ACCOUNT.c.id,
        _ACCOUNT.c.owner_id,
        _ACCOUNT.c.kind,
        _ACCOUNT.c.currency,
        _ACCOUNT.c.balance_minor,
    )
    _OWNED = _ACCOUNTS.where(
        tuple_(_ACCOUNT.c.owner_id, _ACCOUNT.c.kind, _ACCOUNT.c.currency).in_(
            bindparam("owned", expanding=True)
        )
    )
    _PLATFORM = _ACCOUNTS.where(
        _ACCOUNT.c.owner_id.is_(None),
        tuple_(_ACCOUNT.c.kind, _ACCOUNT.c.currency).in_(bindparam("platform", expanding=True)),
    )
    _POSTED_KEYS = select(_ENTRY.c.idempotency_key).where(
        _ENTRY.c.idempotency_key.in_(bindparam("keys", expanding=True))
    )
    _MOVE_BALANCE = (
        update(_ACCOUNT)
        .where(_ACCOUNT.c.id == bindparam("account_id"))
        .values(balance_minor=_ACCOUNT.c.balance_minor + bindparam("movement"))
    )

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def lock(
        self, refs: Collection[AccountRef], *, now: datetime
    ) -> dict[AccountRef, LockedAccount]:
        # The write transaction holds the whole database: nothing to lock row by row, and
        # accounts are made in it.
        found = self._locked(refs)
        missing = [ref for ref in refs if ref not in found]
        if missing:
            _create_accounts(self.connection, missing, now=now)
            found.update(self._locked(missing))
        return found

    def _locked(self, refs: Collection[AccountRef]) -> dict[AccountRef, LockedAccount]:
        owned = [(ref.owner_id, ref.kind, ref.currency) for ref in refs if ref.owner_id]
        shared = [(ref.kind, ref.currency) for ref in refs if ref.owner_id is None]
        found = {}
        for query, keys in (
            (self._OWNED, {"owned": owned}),
            (self._PLATFORM, {"platform": shared}),
        ):
            if next(iter(keys.values())):
                for row in self.connection.execute(query, keys):
                    ref = AccountRef(row.kind, row.currency, row.owner_id)
                    found[ref] = LockedAccount(row.id, row.balance_minor)
        return found

    def lock_and_write(
        self, entries: Sequence[NewEntry], refs: Collection[AccountRef], *, now: datetime
    ) -> set[str]:
        accounts = self.lock(refs, now=now)
        return self.write(entries, {ref: account.id for ref, account in accounts.items()})

    def write(self, entries: Sequence[NewEntry], ids: dict[AccountRef, uuid.UUID]) -> set[str]:
        posted = set(
            self.connection.execute(
                self._POSTED_KEYS, {"keys": [entry.key for entry in entries]}
            ).scalars()
        )
        new = [entry for entry in entries if entry.key not in posted]
        if not new:
            return set()
        self.connection.execute(
            insert(_ENTRY),
            [
                {
                    "id": entry.id,
                    "idempotency_key": entry.key,
                    "event": entry.event,
                    "memo": entry.memo,
                    "generation_id": entry.generation_id,
                    "clearance_id": entry.clearance_id,
                    "reverses_id": entry.reverses_id,
                    "leg_count": len(entry.legs),
                    "posted_at": entry.posted_at,
                }
                for entry in new
            ],
        )
        legs = _leg_rows(new, ids)
        self.connection.execute(
            insert(_LEG),
            [dict(zip(_LegRow._fields[:-1], leg[:-1], strict=True)) for leg in legs],
        )
        moved: dict[uuid.UUID, int] = {}
        for leg in legs:
            moved[leg.account_id] = moved.get(leg.account_id, 0) + leg.movement
        self.connection.execute(
            self._MOVE_BALANCE,
            [
                {"account_id": account_id, "movement": amount}
                for account_id, amount in moved.items()
            ],
        )
        return {entry.key for entry in new}
