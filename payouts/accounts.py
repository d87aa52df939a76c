"""Ledger accounts: which one a leg names, and which side of a leg raises its balance.

Each account's balance is kept on its normal side: credit for what the platform owes or has
earned (a creator's wallet, a holder's payable, the platform's revenue, credits held while a
dispute is open), debit for what it
holds or has spent (Stripe clearing, refunds, the allowance, adjustments). So a wallet's or
a payable's balance is what its owner has, in minor units.
"""

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from payouts.models import OWNED_KINDS, AccountKind


class Side(StrEnum):
    debit = "debit"
    credit = "credit"


NORMAL_SIDE: dict[AccountKind, Side] = {
    AccountKind.creator_wallet: Side.credit,
    AccountKind.holder_payable: Side.credit,
    AccountKind.held_share: Side.credit,
    AccountKind.platform_revenue: Side.credit,
    AccountKind.disputes: Side.credit,
    AccountKind.stripe_clearing: Side.debit,
    AccountKind.refunds: Side.debit,
    AccountKind.allowance: Side.debit,
    AccountKind.adjustments: Side.debit,
}


@dataclass(frozen=True, slots=True)
class AccountRef:
    """A ledger account by what it is: its kind, currency and (for owned kinds) owner.

    Its hash is worked out once: a posting looks each account up in several dicts and sets,
    and the kind's (an enum) and the owner's (a UUID) hashes run in Python each time: the
    most called functions in a cProfile of batches of 100 usages."""

    kind: AccountKind
    currency: str
    owner_id: uuid.UUID | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owned = self.kind in OWNED_KINDS
        if (self.owner_id is not None) != owned:
            raise ValueError(f"a {self.kind.value} account {'needs' if owned else 'has no'} owner")
        currency = self.currency
        if len(currency) != 3 or not (
            currency.isascii() and currency.isalpha() and currency.isupper()
        ):
            raise ValueError(f"{self.currency!r} is not an ISO 4217 code in upper case")
        object.__setattr__(self, "_hash", hash((self.kind, self.currency, self.owner_id)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple:
        # Made anew when unpickled: a hash is only good in the process that worked it out.
        return (AccountRef, (self.kind, self.currency, self.owner_id))

    def movement(self, *, debit_minor: int, credit_minor: int) -> int:
        """How much a leg of these amounts raises this account's balance (or lowers it)."""
        if NORMAL_SIDE[self.kind] == Side.credit:
            return credit_minor - debit_minor
        return debit_minor - credit_minor


def wallet(creator_id: uuid.UUID, currency: str) -> AccountRef:
    return AccountRef(AccountKind.creator_wallet, currency, creator_id)


def payable(holder_id: uuid.UUID, currency: str) -> AccountRef:
    return AccountRef(AccountKind.holder_payable, currency, holder_id)


def held(holder_id: uuid.UUID, currency: str) -> AccountRef:
    return AccountRef(AccountKind.held_share, currency, holder_id)


def platform(kind: AccountKind, currency: str) -> AccountRef:
    return AccountRef(kind, currency)


@dataclass(slots=True)
class LockedAccount:
    """An account row locked by this transaction, with its balance as this transaction
    moves it."""

    id: uuid.UUID
    balance_minor: int
