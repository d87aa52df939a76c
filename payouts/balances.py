"""Balances: an account's cached balance, and the check that the ledger holds together (each
cached balance equals the sum of its account's legs; each entry has all its legs and balances
per currency). Run by `clearhouse ledger check`, in one snapshot.

A cached balance is its account's row's plus its balance slots' (a platform account's, on
PostgreSQL: payouts.models.LedgerBalanceSlot)."""

import uuid
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select

from payouts.accounts import AccountRef
from payouts.models import JournalEntry, JournalLeg, LedgerAccount, LedgerBalanceSlot


def balance_of(session: Session, account: AccountRef) -> int:
    """The account's cached balance on its normal side; 0 for an account never used."""
    owner = (
        LedgerAccount.owner_id.is_(None)
        if account.owner_id is None
        else LedgerAccount.owner_id == account.owner_id
    )
    balance = session.exec(
        select(LedgerAccount.balance_minor + func.coalesce(_slots_of(LedgerAccount.id), 0)).where(
            owner, LedgerAccount.kind == account.kind, LedgerAccount.currency == account.currency
        )
    ).one_or_none()
    return int(balance or 0)


def _slots_of(account_id):
    """The sum of an account's balance slots (NULL where it has none), as a scalar subquery."""
    return (
        select(func.sum(LedgerBalanceSlot.balance_minor))
        .where(LedgerBalanceSlot.account_id == account_id)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    account_id: uuid.UUID
    kind: str
    cached_minor: int
    from_legs_minor: int


@dataclass(frozen=True, slots=True)
class UnbalancedEntryFound:
    entry_id: uuid.UUID
    currency: str
    debits_minor: int
    credits_minor: int


@dataclass(frozen=True, slots=True)
class IncompleteEntry:
    entry_id: uuid.UUID
    leg_count: int
    legs_found: int


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    accounts_checked: int
    entries_checked: int
    mismatched_balances: list[BalanceMismatch] = field(default_factory=list)
    unbalanced_entries: list[UnbalancedEntryFound] = field(default_factory=list)
    incomplete_entries: list[IncompleteEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.mismatched_balances or self.unbalanced_entries or self.incomplete_entries)


def check_ledger(session: Session) -> LedgerCheck:
    """Compare every cached balance with its legs, every entry's debits with its credits, and
    every entry's leg count with its legs.

    Read it in one snapshot (``snapshot_session``): postings committing meanwhile would
    otherwise show as mismatches."""
    legs = (
        select(
            JournalLeg.account_id,
            func.sum(JournalLeg.debit_minor).label("debits"),
            func.sum(JournalLeg.credit_minor).label("credits"),
        )
        .group_by(JournalLeg.account_id)
        .subquery()
    )
    accounts = session.exec(
        select(
            LedgerAccount.id,
            LedgerAccount.kind,
            LedgerAccount.currency,
            LedgerAccount.owner_id,
            LedgerAccount.balance_minor + func.coalesce(_slots_of(LedgerAccount.id), 0),
            func.coalesce(legs.c.debits, 0),
            func.coalesce(legs.c.credits, 0),
        ).outerjoin(legs, legs.c.account_id == LedgerAccount.id)
    ).all()
    mismatched = []
    for account_id, kind, currency, owner_id, cached, debits, credits in accounts:
        summed = AccountRef(kind, currency, owner_id).movement(
            debit_minor=int(debits), credit_minor=int(credits)
        )
        if summed != cached:
            mismatched.append(BalanceMismatch(account_id, kind.value, int(cached), summed))
    unbalanced = [
        UnbalancedEntryFound(entry_id, currency, int(debits), int(credits))
        for entry_id, currency, debits, credits in session.exec(
            select(
                JournalLeg.entry_id,
                JournalLeg.currency,
                func.sum(JournalLeg.debit_minor),
                func.sum(JournalLeg.credit_minor),
            )
            .group_by(JournalLeg.entry_id, JournalLeg.currency)
            .having(func.sum(JournalLeg.debit_minor) != func.sum(JournalLeg.credit_minor))
        ).all()
    ]
    incomplete = [
        IncompleteEntry(entry_id, leg_count, found)
        for entry_id, leg_count, found in session.exec(
            select(JournalEntry.id, JournalEntry.leg_count, func.count(JournalLeg.entry_id))
            .outerjoin(JournalLeg, JournalLeg.entry_id == JournalEntry.id)
            .group_by(JournalEntry.id, JournalEntry.leg_count)
            .having(func.count(JournalLeg.entry_id) != JournalEntry.leg_count)
        ).all()
    ]
    return LedgerCheck(
        accounts_checked=len(accounts),
        entries_checked=session.exec(select(func.count()).select_from(JournalEntry)).one(),
        mismatched_balances=mismatched,
        unbalanced_entries=unbalanced,
        incomplete_entries=incomplete,
    )
