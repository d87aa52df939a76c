"""Posting to the ledger in tests: creators, holders and released generations made straight in
the database (bench/ledger_rows.py), usages built from them, and what the ledger holds."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bench.ledger_rows import insert_accounts, insert_generations
from clearhouse.accounts.models import Role
from clearhouse.db import snapshot_session, utcnow, writer
from payouts.accounts import AccountRef
from payouts.adjustments import adjust_wallet
from payouts.balances import balance_of, check_ledger
from payouts.models import AccountKind, EntryEvent, JournalEntry, JournalLeg, LedgerAccount
from payouts.split import LicensedUse, Usage

# Marks a test that runs on PostgreSQL only (its database's own enforcement).
only_postgresql = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


def people(engine: Engine, *, creators: int, holders: int) -> tuple[list, list]:
    with engine.begin() as connection:
        return (
            insert_accounts(connection, creators, role=Role.creator),
            insert_accounts(connection, holders, role=Role.holder),
        )


def released_generation(engine: Engine, creator_id: uuid.UUID) -> uuid.UUID:
    with engine.begin() as connection:
        ((generation_id, _),) = insert_generations(connection, creator_ids=[creator_id], count=1)
    return generation_id


def usage(
    engine: Engine,
    *,
    creator_id: uuid.UUID,
    licences: list[tuple[uuid.UUID, int, int]],
    compute_minor: int = 40,
    currency: str = "USD",
) -> Usage:
    """A usage of a new released generation: ``licences`` are (holder, fee, share in bps)."""
    return Usage(
        generation_id=released_generation(engine, creator_id),
        creator_id=creator_id,
        total_minor=compute_minor + sum(price for _, price, _ in licences),
        currency=currency,
        licences=tuple(LicensedUse(holder, price, share) for holder, price, share in licences),
    )


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Session]:
    """A write transaction: committed at the end of the block, rolled back if it raises."""
    with Session(writer(engine), expire_on_commit=False) as session, session.begin():
        yield session


def count_entries(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(JournalEntry)).one()[0]


def earned_and_spent(session: Session) -> dict[str, tuple[int, int]]:
    """Per currency: what the holders' payables hold, and what the creators' wallets gave to
    usages (less what reversals gave back)."""
    earned = dict(
        session.execute(
            select(LedgerAccount.currency, func.sum(LedgerAccount.balance_minor))
            .where(LedgerAccount.kind == AccountKind.holder_payable)
            .group_by(LedgerAccount.currency)
        ).all()
    )
    reversed_entry = JournalEntry.__table__.alias("reversed_entry")
    spent = dict(
        session.execute(
            select(
                JournalLeg.currency,
                func.sum(JournalLeg.debit_minor - JournalLeg.credit_minor),
            )
            .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
            .join(JournalEntry, JournalEntry.id == JournalLeg.entry_id)
            .outerjoin(reversed_entry, reversed_entry.c.id == JournalEntry.reverses_id)
            .where(
                LedgerAccount.kind == AccountKind.creator_wallet,
                func.coalesce(reversed_entry.c.event, JournalEntry.event) == EntryEvent.usage,
            )
            .group_by(JournalLeg.currency)
        ).all()
    )
    return {
        currency: (int(earned.get(currency) or 0), int(spent.get(currency) or 0))
        for currency in earned.keys() | spent.keys()
    }


def ledger_report(engine: Engine):
    """``clearhouse ledger check``'s report, read from one snapshot."""
    with snapshot_session(engine) as session:
        return check_ledger(session)


def adjust_usd(session: Session, creator: uuid.UUID, amount_minor: int, *, key: str, reason: str):
    """An operator's adjustment of a creator's USD wallet."""
    return adjust_wallet(
        session,
        creator_id=creator,
        amount_minor=amount_minor,
        currency="USD",
        operator_key=key,
        reason=reason,
        now=utcnow(),
    )


def check_owned_balances(session: Session, model: dict[AccountRef, int]) -> None:
    """Every entry balances and every cached balance is its legs (check_ledger); each owned
    account in ``model`` (a test run's own) holds what the model says. The platform's accounts
    are every run's: check_ledger compares them with their legs."""
    check = check_ledger(session)
    assert check.ok, check
    for account, expected in model.items():
        if account.owner_id is not None:
            assert balance_of(session, account) == expected, account
