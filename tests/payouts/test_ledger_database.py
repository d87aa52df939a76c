"""What refuses bad money, where: the code before it writes (both databases), the database's
CHECKs and keys (both), the deferred balance check at commit and the TRUNCATE trigger
(PostgreSQL), the append-only triggers (both), and `clearhouse ledger check` for what got
past them."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from ledgering import (
    adjust_usd,
    count_entries,
    ledger_report,
    people,
    usage,
    write_transaction,
)
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlmodel import Session

from clearhouse.db import utcnow
from payouts.accounts import payable, platform, wallet
from payouts.balances import balance_of
from payouts.errors import UnbalancedEntry
from payouts.journal import EntryDraft, Leg, credit, debit, post_entry
from payouts.models import (
    AccountKind,
    EntryEvent,
    JournalEntry,
    JournalLeg,
    LedgerAccount,
    LedgerBalanceSlot,
)
from payouts.usage import post_usages

only_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _entry_row(key: str, *, legs: int = 2) -> dict:
    return {
        "id": uuid.uuid4(),
        "idempotency_key": key,
        "event": "adjustment",
        "memo": "inserted past payouts.journal",
        "leg_count": legs,
        "posted_at": utcnow(),
    }


def _leg_row(
    entry_id, position, account_id, *, legs=2, debit_minor=0, credit_minor=0, currency="USD"
):
    return {
        "entry_id": entry_id,
        "position": position,
        "entry_leg_count": legs,
        "account_id": account_id,
        "currency": currency,
        "debit_minor": debit_minor,
        "credit_minor": credit_minor,
    }


# The code: checked before anything is written, on every database.

UNBALANCED = {
    "credits short": (
        debit(payable(uuid.UUID(int=1), "USD"), 100),
        credit(platform(AccountKind.refunds, "USD"), 99),
    ),
    "one leg": (debit(platform(AccountKind.refunds, "USD"), 100),),
    "both sides": (
        Leg(platform(AccountKind.refunds, "USD"), debit_minor=5, credit_minor=5),
        Leg(platform(AccountKind.adjustments, "USD"), debit_minor=5, credit_minor=5),
    ),
    "negative": (
        debit(platform(AccountKind.refunds, "USD"), -5),
        credit(platform(AccountKind.adjustments, "USD"), -5),
    ),
    "zero": (
        debit(platform(AccountKind.refunds, "USD"), 0),
        credit(platform(AccountKind.adjustments, "USD"), 0),
    ),
    "not an integer": (
        debit(platform(AccountKind.refunds, "USD"), 1.5),
        credit(platform(AccountKind.adjustments, "USD"), 1.5),
    ),
    "balanced across currencies only": (
        debit(platform(AccountKind.refunds, "USD"), 100),
        credit(platform(AccountKind.adjustments, "EUR"), 100),
    ),
}


@pytest.mark.parametrize("legs", UNBALANCED.values(), ids=UNBALANCED.keys())
def test_the_code_refuses_an_unbalanced_entry_before_writing(ledger_engine, legs):
    draft = EntryDraft(key="adjustment:bad", event=EntryEvent.adjustment, memo="bad", legs=legs)
    with pytest.raises(UnbalancedEntry), write_transaction(ledger_engine) as session:
        post_entry(session, draft, now=utcnow())
    assert count_entries(ledger_engine) == 0
    with Session(ledger_engine) as session:
        assert session.exec(select(func.count()).select_from(LedgerAccount)).one()[0] == 0


@pytest.mark.parametrize(
    "currency", ["usd", "US", "USDT", "U,S", "ÜSD", "U S", "\uff35\uff33\uff24"]
)
def test_an_account_in_anything_but_three_latin_capitals_is_refused(currency):
    # On PostgreSQL a posting's legs travel as array literals (payouts/storage.py): a comma or
    # a space in a currency would split one leg's value in two.
    with pytest.raises(ValueError, match="ISO 4217"):
        wallet(uuid.uuid4(), currency)


# The database: CHECKs and keys on every database.


@pytest.mark.parametrize(
    ("leg", "refused_by"),
    [
        ({"debit_minor": 5, "credit_minor": 5}, "one_side_positive"),
        ({"debit_minor": -5}, "one_side_positive"),
        ({"credit_minor": -5}, "one_side_positive"),
        ({}, "one_side_positive"),
        ({"debit_minor": 5, "currency": "EUR"}, "FOREIGN KEY|fk_journal_leg_account_id"),
    ],
    ids=["both sides", "negative debit", "negative credit", "zero", "other currency"],
)
def test_the_database_refuses_a_malformed_leg_as_it_is_inserted(
    ledger_engine, posted, leg, refused_by
):
    wallet_id = posted["accounts"][AccountKind.creator_wallet]
    with ledger_engine.connect() as connection:
        row = _entry_row("adjustment:malformed")
        connection.execute(insert(JournalEntry.__table__), row)
        with pytest.raises(IntegrityError, match=refused_by):
            connection.execute(
                insert(JournalLeg.__table__), _leg_row(row["id"], 0, wallet_id, **leg)
            )
        connection.rollback()


def test_the_database_makes_one_platform_account_per_kind_and_currency(ledger_engine, posted):
    for row in (
        {"owner_id": None, "kind": AccountKind.platform_revenue},  # there is one already
        {"owner_id": None, "kind": AccountKind.creator_wallet},  # a wallet is someone's
        {"owner_id": posted["holder"], "kind": AccountKind.refunds},  # refunds are the platform's
    ):
        with pytest.raises(IntegrityError), ledger_engine.begin() as connection:
            connection.execute(
                insert(LedgerAccount.__table__),
                {
                    "id": uuid.uuid4(),
                    "currency": "USD",
                    "balance_minor": 0,
                    "created_at": utcnow(),
                    **row,
                },
            )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_leg SET credit_minor = credit_minor + 1",
        "DELETE FROM journal_leg",
        "UPDATE journal_entry SET memo = 'rewritten'",
        "DELETE FROM journal_entry",
    ],
)
def test_entries_and_legs_cannot_be_changed_or_deleted(ledger_engine, posted, statement):
    with pytest.raises(DatabaseError, match="append-only"), ledger_engine.begin() as connection:
        connection.execute(text(statement))
    assert count_entries(ledger_engine) == 1
    assert ledger_report(ledger_engine).ok


# PostgreSQL: the deferred balance check at commit, and TRUNCATE.


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_postgresql_refuses_an_unbalanced_entry_at_commit(ledger_engine, posted):
    accounts = posted["accounts"]
    connection = ledger_engine.connect()
    row = _entry_row("adjustment:unbalanced")
    connection.execute(insert(JournalEntry.__table__), row)
    connection.execute(
        text(
            "INSERT INTO journal_leg (entry_id, position, entry_leg_count, account_id, currency, "
            "debit_minor, credit_minor) VALUES (:entry, 0, 2, :wallet, 'USD', 100, 0), "
            "(:entry, 1, 2, :payable, 'USD', 0, 99)"
        ),
        {
            "entry": row["id"],
            "wallet": accounts[AccountKind.creator_wallet],
            "payable": accounts[AccountKind.holder_payable],
        },
    )  # accepted for now: the check is deferred to the commit
    with pytest.raises(IntegrityError, match="does not balance in USD: debits 100, credits 99"):
        connection.commit()
    connection.close()
    assert count_entries(ledger_engine) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_postgresql_refuses_an_entry_without_all_its_legs_at_commit(ledger_engine, posted):
    with pytest.raises(IntegrityError, match="has 1 legs of its 2"), ledger_engine.begin() as c:
        row = _entry_row("adjustment:half")
        c.execute(insert(JournalEntry.__table__), row)
        c.execute(
            insert(JournalLeg.__table__),
            _leg_row(row["id"], 0, posted["accounts"][AccountKind.creator_wallet], debit_minor=1),
        )
    assert count_entries(ledger_engine) == 1


@pytest.mark.parametrize(
    ("position", "legs", "refused_by"),
    [
        (3, 3, "position_in_entry"),
        (0, 3, "UNIQUE|pk_journal_leg"),
        (3, 4, "FOREIGN KEY|fk_journal_leg_entry_id"),
    ],
    ids=["past its leg count", "a position taken", "another leg count"],
)
def test_no_leg_can_be_added_to_an_entry_posted_before(
    ledger_engine, posted, position, legs, refused_by
):
    revenue = posted["accounts"][AccountKind.platform_revenue]
    assert len(posted["entry"].legs) == 3
    with ledger_engine.connect() as connection:
        with pytest.raises(IntegrityError, match=refused_by):
            connection.execute(
                insert(JournalLeg.__table__),
                _leg_row(posted["entry"].id, position, revenue, legs=legs, credit_minor=1),
            )
        connection.rollback()
    assert ledger_report(ledger_engine).ok


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_a_posting_that_opens_its_transaction_is_undone_with_it(ledger_engine, posted):
    """The engine leaves a write's BEGIN to its first statement (clearhouse/db.py); where that
    is the ledger's own pipeline, the BEGIN goes in it: what the posting wrote stays in the
    transaction and is undone with it, by either path (a usage: lock and write together; an
    adjustment that lowers a wallet: the lock, the check, then the write)."""
    creator, holder = posted["creator"], posted["holder"]
    with write_transaction(ledger_engine) as session:
        adjust_usd(session, creator, 5_000, key="float", reason="credits to spend")
    entries = count_entries(ledger_engine)
    balances = _balances(ledger_engine, creator, holder)
    later = usage(ledger_engine, creator_id=creator, licences=[(holder, 500, 8_000)])
    postings = {
        "usage": lambda session: post_usages(session, [later], now=utcnow()),
        "adjustment": lambda session: adjust_usd(
            session, creator, -100, key="taken back", reason="taken back"
        ),
    }
    for name, post in postings.items():
        with pytest.raises(RuntimeError), write_transaction(ledger_engine) as session:
            driver = session.connection().connection.driver_connection
            assert driver.pgconn.transaction_status == TransactionStatus.IDLE, name
            post(session)
            assert driver.pgconn.transaction_status == TransactionStatus.INTRANS, name
            raise RuntimeError("the release failed after posting")
        assert count_entries(ledger_engine) == entries, name
        assert _balances(ledger_engine, creator, holder) == balances, name


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_a_posting_to_accounts_remembered_but_gone_makes_them_again(ledger_engine, posted):
    """PostgreSQL's store remembers account ids per engine (payouts/storage.py); where they
    are gone (the ledger emptied under it, as the tests do between tests), its write finds
    them missing, locks and writes nothing, and the posting makes them again."""
    creator, holder = posted["creator"], posted["holder"]
    with ledger_engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            text("TRUNCATE journal_leg, journal_entry, ledger_balance_slot, ledger_account")
        )
    later = usage(ledger_engine, creator_id=creator, licences=[(holder, 500, 8_000)])
    with write_transaction(ledger_engine) as session:
        (entry,) = post_usages(session, [later], now=utcnow())
    assert not entry.replayed
    assert count_entries(ledger_engine) == 1
    assert ledger_report(ledger_engine).ok
    with Session(ledger_engine) as session:
        assert balance_of(session, payable(holder, "USD")) == 400


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_a_posting_puts_the_plan_settings_back_for_the_rest_of_its_transaction(
    ledger_engine, posted
):
    """The ledger plans its own statements once (payouts/storage.py); whatever the caller's
    transaction runs after a posting is planned as before, by either path (a usage's one
    statement puts the settings back itself; an adjustment that lowers a wallet has a
    statement after its lock and after its write for that)."""
    creator, holder = posted["creator"], posted["holder"]
    with write_transaction(ledger_engine) as session:
        adjust_usd(session, creator, 5_000, key="float", reason="credits to spend")
    settings = "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')"
    uses = [
        usage(ledger_engine, creator_id=creator, licences=[(holder, 500, 8_000)]) for _ in range(7)
    ]
    postings = {
        "usage": lambda session, n: post_usages(session, [uses[n]], now=utcnow()),
        "adjustment": lambda session, n: adjust_usd(
            session, creator, -1, key=f"taken back {n}", reason="taken back"
        ),
    }
    for name, post in postings.items():
        for n in range(7):  # past psycopg's preparing a statement run five times
            with write_transaction(ledger_engine) as session:
                post(session, n)
                after = tuple(session.connection().exec_driver_sql(settings).one())
                assert after == ("auto", "on"), (name, n)


def _balances(engine: Engine, creator: uuid.UUID, holder: uuid.UUID) -> tuple[int, ...]:
    refs = (
        wallet(creator, "USD"),
        payable(holder, "USD"),
        platform(AccountKind.platform_revenue, "USD"),
        platform(AccountKind.adjustments, "USD"),
    )
    with Session(engine) as session:
        return tuple(balance_of(session, ref) for ref in refs)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
@pytest.mark.parametrize("table", ["journal_leg", "journal_entry"])
def test_postgresql_refuses_to_truncate_the_journal(ledger_engine, posted, table):
    with pytest.raises(DatabaseError, match="append-only"), ledger_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {table} CASCADE"))
    assert count_entries(ledger_engine) == 1


# SQLite has no deferred triggers: what the code's check does not stop, the ledger check finds.


@only_sqlite
def test_on_sqlite_the_ledger_check_finds_an_entry_inserted_unbalanced_and_incomplete(
    ledger_engine, posted
):
    with ledger_engine.begin() as connection:
        row = _entry_row("adjustment:unbalanced")
        connection.execute(insert(JournalEntry.__table__), row)
        connection.execute(
            insert(JournalLeg.__table__),
            _leg_row(row["id"], 0, posted["accounts"][AccountKind.creator_wallet], debit_minor=100),
        )
    check = ledger_report(ledger_engine)
    assert not check.ok
    ((unbalanced),) = check.unbalanced_entries
    assert (unbalanced.entry_id, unbalanced.debits_minor, unbalanced.credits_minor) == (
        row["id"],
        100,
        0,
    )
    ((incomplete),) = check.incomplete_entries
    assert (incomplete.entry_id, incomplete.leg_count, incomplete.legs_found) == (row["id"], 2, 1)


def _ledger_cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clearhouse", "ledger", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CLEARHOUSE_DATABASE_URL": database_url},
    )


def test_ledger_check_reports_a_cached_balance_that_is_not_its_legs(
    ledger_engine, posted, database_url
):
    ok = _ledger_cli(database_url, "check")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True

    payable_id = posted["accounts"][AccountKind.holder_payable]
    with ledger_engine.begin() as connection:
        connection.execute(
            update(LedgerAccount.__table__)
            .where(LedgerAccount.__table__.c.id == payable_id)
            .values(balance_minor=1_000_000)
        )
    broken = _ledger_cli(database_url, "check")
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False
    assert report["mismatched_balances"] == [
        {
            "account_id": str(payable_id),
            "kind": "holder_payable",
            "cached_minor": 1_000_000,
            "from_legs_minor": 800,
        }
    ]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_ledger_check_counts_the_platform_revenue_slots_and_reports_one_that_is_off(
    ledger_engine, posted
):
    revenue_id = posted["accounts"][AccountKind.platform_revenue]
    assert ledger_report(ledger_engine).ok
    with Session(ledger_engine) as session:
        assert balance_of(session, platform(AccountKind.platform_revenue, "USD")) == 240
    slots = LedgerBalanceSlot.__table__
    with ledger_engine.begin() as connection:
        connection.execute(
            update(slots)
            .where(slots.c.account_id == revenue_id)
            .values(balance_minor=slots.c.balance_minor + 5)
        )
    (mismatch,) = ledger_report(ledger_engine).mismatched_balances
    assert (mismatch.account_id, mismatch.cached_minor, mismatch.from_legs_minor) == (
        revenue_id,
        245,
        240,
    )


def test_ledger_adjust_credits_a_wallet_once_per_key_and_never_takes_it_below_zero(
    ledger_engine, database_url
):
    (creator,), _ = people(ledger_engine, creators=1, holders=0)
    email = f"{creator.hex}@ledger.example"
    credit_once = ("adjust", "--email", email, "--amount-minor", "500", "--reason", "goodwill")
    first = _ledger_cli(database_url, *credit_once, "--key", "ticket-1")
    again = _ledger_cli(database_url, *credit_once, "--key", "ticket-1")
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert json.loads(first.stdout)["replayed"] is False
    assert json.loads(again.stdout) == {**json.loads(first.stdout), "replayed": True}
    assert json.loads(again.stdout)["wallet_minor"] == 500

    too_much = _ledger_cli(
        database_url,
        "adjust",
        "--email",
        email,
        "--amount-minor",
        "-501",
        "--reason",
        "x",
        "--key",
        "ticket-2",
    )
    assert too_much.returncode == 1
    assert "holds 500 minor units" in too_much.stderr
    with Session(ledger_engine) as session:
        assert balance_of(session, wallet(creator, "USD")) == 500
