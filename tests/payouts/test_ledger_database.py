"""What refuses bad money, where: the code before it writes (both databases), the database's
CHECKs and keys (both), the deferred balance check at commit and the TRUNCATE trigger
(PostgreSQL), the append-only triggers (both), and `clearhouse ledger check` for what got
past them."""

import json
import os
import subprocess
import sys
import threading
import uuid

import pytest
from ledgering import count_entries, people, usage, write_transaction
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlmodel import Session

from clearhouse.db import snapshot_session, utcnow
from payouts.accounts import payable, platform, wallet
from payouts.adjustments import adjust_wallet
from payouts.balances import balance_of, check_ledger
from payouts.errors import IdempotencyConflict, InsufficientBalance, NotReversible, UnbalancedEntry
from payouts.journal import EntryDraft, Leg, credit, debit, post_entry, reverse_entry
from payouts.models import AccountKind, EntryEvent, JournalEntry, JournalLeg, LedgerAccount
from payouts.usage import post_usages, release_key, reverse_release

only_postgresql = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
only_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def posted(ledger_engine: Engine) -> dict:
    """One released generation posted: a creator, a holder with 80% of a 1,000 fee."""
    (creator,), (holder,) = people(ledger_engine, creators=1, holders=1)
    made = usage(ledger_engine, creator_id=creator, licences=[(holder, 1_000, 8_000)])
    with write_transaction(ledger_engine) as session:
        (entry,) = post_usages(session, [made], now=utcnow())
    with Session(ledger_engine) as session:
        accounts = {
            kind: session.execute(
                select(LedgerAccount.id).where(
                    LedgerAccount.kind == kind,
                    (
                        LedgerAccount.owner_id.is_(None)
                        if owner is None
                        else LedgerAccount.owner_id == owner
                    ),
                    LedgerAccount.currency == "USD",
                )
            ).scalar_one()
            for kind, owner in (
                (AccountKind.creator_wallet, creator),
                (AccountKind.holder_payable, holder),
                (AccountKind.platform_revenue, None),
            )
        }
    return {
        "creator": creator,
        "holder": holder,
        "usage": made,
        "entry": entry,
        "accounts": accounts,
    }


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


def _check(engine: Engine):
    with snapshot_session(engine) as session:
        return check_ledger(session)


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
    assert _check(ledger_engine).ok


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
    assert _check(ledger_engine).ok


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
    check = _check(ledger_engine)
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


# Idempotency, reversals, overdrafts.


def test_the_same_event_posted_twice_is_recorded_once(ledger_engine, posted):
    with write_transaction(ledger_engine) as session:
        (again,) = post_usages(session, [posted["usage"]], now=utcnow())
    assert again.replayed and again.id == posted["entry"].id
    assert count_entries(ledger_engine) == 1
    with Session(ledger_engine) as session:
        assert balance_of(session, payable(posted["holder"], "USD")) == 800

    other = EntryDraft(
        key=release_key(posted["usage"].generation_id),
        event=EntryEvent.usage,
        memo="another event under the same key",
        legs=(
            debit(wallet(posted["creator"], "USD"), 5),
            credit(platform(AccountKind.platform_revenue, "USD"), 5),
        ),
    )
    with pytest.raises(IdempotencyConflict), write_transaction(ledger_engine) as session:
        post_entry(session, other, now=utcnow())
    assert count_entries(ledger_engine) == 1


def test_a_usage_may_take_a_wallet_below_zero_and_an_adjustment_may_not(ledger_engine, posted):
    creator = posted["creator"]
    with Session(ledger_engine) as session:
        assert balance_of(session, wallet(creator, "USD")) == -1_040
    with pytest.raises(InsufficientBalance), write_transaction(ledger_engine) as session:
        adjust_wallet(
            session,
            creator_id=creator,
            amount_minor=-1,
            currency="USD",
            operator_key="take-one",
            reason="taking back",
            now=utcnow(),
        )
    with write_transaction(ledger_engine) as session:
        adjust_wallet(
            session,
            creator_id=creator,
            amount_minor=2_000,
            currency="USD",
            operator_key="goodwill",
            reason="goodwill",
            now=utcnow(),
        )
    with Session(ledger_engine) as session:
        assert balance_of(session, wallet(creator, "USD")) == 960
        assert balance_of(session, platform(AccountKind.adjustments, "USD")) == 2_000


def test_a_reversal_that_would_overdraw_a_payable_posts_nothing_and_the_transaction_goes_on(
    ledger_engine, posted
):
    holder = posted["holder"]
    paid_out = EntryDraft(
        key="payout:test",
        event=EntryEvent.adjustment,
        memo="paid out",
        legs=(
            debit(payable(holder, "USD"), 500),
            credit(platform(AccountKind.stripe_clearing, "USD"), 500),
        ),
    )
    generation_id = posted["usage"].generation_id
    with write_transaction(ledger_engine) as session:
        post_entry(session, paid_out, now=utcnow())
        with pytest.raises(InsufficientBalance, match="holds 300 minor units"):
            reverse_release(session, generation_id=generation_id, reason="takedown", now=utcnow())
        adjust_wallet(
            session,
            creator_id=posted["creator"],
            amount_minor=1,
            currency="USD",
            operator_key="after",
            reason="after the refusal",
            now=utcnow(),
        )
    assert count_entries(ledger_engine) == 3
    assert _check(ledger_engine).ok


def test_a_reversal_is_posted_once_and_is_not_reversed_itself(ledger_engine, posted):
    generation_id = posted["usage"].generation_id
    with write_transaction(ledger_engine) as session:
        first = reverse_release(
            session, generation_id=generation_id, reason="takedown", now=utcnow()
        )
        again = reverse_release(session, generation_id=generation_id, reason="again", now=utcnow())
    assert first.key == f"reversal:{release_key(generation_id)}"
    assert first.reverses_id == posted["entry"].id and not first.replayed
    assert again.replayed and again.id == first.id
    with pytest.raises(NotReversible), write_transaction(ledger_engine) as session:
        reverse_entry(session, key=first.key, memo="undo the undo", now=utcnow())
    with Session(ledger_engine) as session:
        for account in (
            wallet(posted["creator"], "USD"),
            payable(posted["holder"], "USD"),
            platform(AccountKind.platform_revenue, "USD"),
        ):
            assert balance_of(session, account) == 0
    assert count_entries(ledger_engine) == 2


# Concurrency on PostgreSQL: threads released together by a barrier.


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_concurrent_postings_of_one_event_record_it_once(ledger_engine):
    (creator,), (holder,) = people(ledger_engine, creators=1, holders=1)
    made = usage(ledger_engine, creator_id=creator, licences=[(holder, 300, 7_000)])
    threads, start, results = 6, threading.Barrier(6), []

    def post() -> None:
        start.wait()
        with write_transaction(ledger_engine) as session:
            results.append(post_usages(session, [made], now=utcnow())[0])

    _run_threads(post, threads)
    assert len({entry.id for entry in results}) == 1
    assert sorted(entry.replayed for entry in results) == [False] + [True] * (threads - 1)
    assert count_entries(ledger_engine) == 1
    assert _check(ledger_engine).ok


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_concurrent_postings_to_shared_accounts_neither_deadlock_nor_lose_a_movement(ledger_engine):
    creators, holders = people(ledger_engine, creators=3, holders=3)
    threads, transactions, per_transaction = 6, 4, 3
    # Each transaction posts three usages, each of one creator and one holder: the threads
    # come to the same accounts in different orders.
    work = [
        [
            [
                usage(
                    ledger_engine,
                    creator_id=creators[(n + k + i) % 3],
                    licences=[(holders[(n * (i + 1) + k) % 3], 100 + i, 8_000)],
                )
                for i in range(per_transaction)
            ]
            for k in range(transactions)
        ]
        for n in range(threads)
    ]
    start = threading.Barrier(threads)

    def post(batches) -> None:
        start.wait()
        for batch in batches:
            with write_transaction(ledger_engine) as session:
                post_usages(session, batch, now=utcnow())

    _run_threads(post, threads, args=work)
    assert count_entries(ledger_engine) == threads * transactions * per_transaction
    assert _check(ledger_engine).ok
    everything = [one for batches in work for batch in batches for one in batch]
    with Session(ledger_engine) as session:
        spent = sum(balance_of(session, wallet(creator, "USD")) for creator in creators)
    assert spent == -sum(one.total_minor for one in everything)


def _run_threads(target, count: int, args=None) -> None:
    errors = []

    def run(*arguments) -> None:
        try:
            target(*arguments)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=() if args is None else (args[n],)) for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
