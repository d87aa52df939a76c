"""Ledger accounts: which one a leg names, which side raises its balance, and finding them
(made on first use) locked for the transaction that posts to them.

Each account's balance is kept on its normal side: credit for what the platform owes or has
earned (a creator's wallet, a holder's payable, the platform's revenue), debit for what it
holds or has spent (Stripe clearing, refunds, the allowance, adjustments). So a wallet's or
a payable's balance is what its owner has, in minor units.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from payouts.models import OWNED_KINDS, AccountKind, LedgerAccount


class Side(StrEnum):
    debit = "debit"
    credit = "credit"


NORMAL_SIDE: dict[AccountKind, Side] = {
    AccountKind.creator_wallet: Side.credit,
    AccountKind.holder_payable: Side.credit,
    AccountKind.platform_revenue: Side.credit,
    AccountKind.stripe_clearing: Side.debit,
    AccountKind.refunds: Side.debit,
    AccountKind.allowance: Side.debit,
    AccountKind.adjustments: Side.debit,
}


@dataclass(frozen=True, slots=True)
class AccountRef:
    """A ledger account by what it is: its kind, currency and (for owned kinds) owner."""

    kind: AccountKind
    currency: str
    owner_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.owner_id is not None) != (self.kind in OWNED_KINDS):
            raise ValueError(
                f"a {self.kind.value} account {'needs' if self.kind in OWNED_KINDS else 'has no'} "
                "owner"
            )
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"{self.currency!r} is not an ISO 4217 code in upper case")

    def movement(self, *, debit_minor: int, credit_minor: int) -> int:
        """How much a leg of these amounts raises this account's balance (or lowers it)."""
        if NORMAL_SIDE[self.kind] == Side.credit:
            return credit_minor - debit_minor
        return debit_minor - credit_minor


def wallet(creator_id: uuid.UUID, currency: str) -> AccountRef:
    return AccountRef(AccountKind.creator_wallet, currency, creator_id)


def payable(holder_id: uuid.UUID, currency: str) -> AccountRef:
    return AccountRef(AccountKind.holder_payable, currency, holder_id)


def platform(kind: AccountKind, currency: str) -> AccountRef:
    return AccountRef(kind, currency)


@dataclass(slots=True)
class LockedAccount:
    """An account row locked by this transaction, with its balance as this transaction
    moves it."""

    id: uuid.UUID
    balance_minor: int


_ACCOUNT = LedgerAccount.__table__
_COLUMNS = (_ACCOUNT.c.id, _ACCOUNT.c.owner_id, _ACCOUNT.c.kind, _ACCOUNT.c.currency)
_OWNED = (
    select(*_COLUMNS, _ACCOUNT.c.balance_minor)
    .where(
        tuple_(_ACCOUNT.c.owner_id, _ACCOUNT.c.kind, _ACCOUNT.c.currency).in_(
            bindparam("owned", expanding=True)
        )
    )
    .order_by(_ACCOUNT.c.id)
    .with_for_update()
)
_PLATFORM = (
    select(*_COLUMNS, _ACCOUNT.c.balance_minor)
    .where(
        _ACCOUNT.c.owner_id.is_(None),
        tuple_(_ACCOUNT.c.kind, _ACCOUNT.c.currency).in_(bindparam("platform", expanding=True)),
    )
    .order_by(_ACCOUNT.c.id)
    .with_for_update()
)
_SET_BALANCE = (
    update(_ACCOUNT)
    .where(_ACCOUNT.c.id == bindparam("account_id"))
    .values(balance_minor=bindparam("balance"))
)


def lock_accounts(
    connection: Connection, refs: Collection[AccountRef], *, now: datetime
) -> dict[AccountRef, LockedAccount]:
    """The accounts ``refs`` name, each made if it does not exist yet, locked for update.

    Rows are locked in the order of their ids (owned accounts, then the platform's), so two
    transactions posting to the same accounts wait for each other instead of deadlocking.
    On SQLite a write transaction holds the whole database, and FOR UPDATE is not needed.
    """
    found = _locked(connection, refs)
    missing = [ref for ref in refs if ref not in found]
    if missing:
        _create(connection, missing, now=now)
        found.update(_locked(connection, missing))
    return found


def _locked(
    connection: Connection, refs: Collection[AccountRef]
) -> dict[AccountRef, LockedAccount]:
    owned = [(ref.owner_id, ref.kind, ref.currency) for ref in refs if ref.owner_id]
    shared = [(ref.kind, ref.currency) for ref in refs if ref.owner_id is None]
    found = {}
    for query, keys in ((_OWNED, {"owned": owned}), (_PLATFORM, {"platform": shared})):
        if next(iter(keys.values())):
            for row in connection.execute(query, keys):
                ref = AccountRef(row.kind, row.currency, row.owner_id)
                found[ref] = LockedAccount(row.id, row.balance_minor)
    return found


def _create(connection: Connection, refs: Collection[AccountRef], *, now: datetime) -> None:
    """Insert the accounts; one that another transaction made meanwhile is left as it is."""
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


def store_balances(connection: Connection, accounts: Collection[LockedAccount]) -> None:
    """Write the balances this transaction moved (the rows are locked: no one else moved
    them meanwhile)."""
    connection.execute(
        _SET_BALANCE,
        [{"account_id": account.id, "balance": account.balance_minor} for account in accounts],
    )
