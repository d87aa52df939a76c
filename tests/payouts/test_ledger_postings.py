"""Posting to the ledger: each business event recorded once, reversals, overdrafts refused
before anything is written, and PostgreSQL's concurrent postings (threads released by a
barrier) neither deadlocking nor losing a movement, nor queueing on the platform's revenue."""

import threading
import time
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
from sqlalchemy import func, select, text
from sqlmodel import Session

from clearhouse.db import utcnow
from payouts.accounts import payable, platform, wallet
from payouts.adjustments import adjust_wallet
from payouts.balances import balance_of
from payouts.errors import IdempotencyConflict, InsufficientBalance, NotReversible
from payouts.journal import EntryDraft, credit, debit, post_entry, reverse_entry
from payouts.models import AccountKind, EntryEvent, LedgerBalanceSlot
from payouts.takedowns import reverse_takedowns
from payouts.usage import post_usages, release_key

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


def test_entries_are_keyed_in_the_order_they_were_posted(ledger_engine, posted):
    """An entry's id is a UUID of version 7 (its posting's millisecond first), so that the
    journal's indexes on it grow at their end (clearhouse.db.time_ordered_id)."""
    creator, holder = posted["creator"], posted["holder"]
    later = [usage(ledger_engine, creator_id=creator, licences=[(holder, 100, 8_000)])]
    time.sleep(0.002)
    with write_transaction(ledger_engine) as session:
        (entry,) = post_usages(session, later, now=utcnow())
    assert (posted["entry"].id.version, entry.id.version) == (7, 7)
    assert posted["entry"].id < entry.id


def test_a_usage_may_take_a_wallet_below_zero_and_an_adjustment_may_not(ledger_engine, posted):
    creator = posted["creator"]
    with Session(ledger_engine) as session:
        assert balance_of(session, wallet(creator, "USD")) == -1_040
    with pytest.raises(InsufficientBalance), write_transaction(ledger_engine) as session:
        adjust_usd(session, creator, -1, key="take-one", reason="taking back")
    with write_transaction(ledger_engine) as session:
        adjust_usd(session, creator, 2_000, key="goodwill", reason="goodwill")
    with Session(ledger_engine) as session:
        assert balance_of(session, wallet(creator, "USD")) == 960
        assert balance_of(session, platform(AccountKind.adjustments, "USD")) == 2_000


def test_an_adjustment_past_any_price_is_refused_and_the_ledger_stays_summable(
    ledger_engine, posted
):
    # One of 2**63 - 1 was posted, and the next one of 5 made the ledger check's sums
    # overflow (SQLite: "integer overflow").
    creator = posted["creator"]
    for amount in (2**63 - 1, -(10**12) - 1):
        with pytest.raises(ValueError, match="ten billion"), write_transaction(ledger_engine) as s:
            adjust_usd(s, creator, amount, key=f"typo-{amount}", reason="a typo")
    with write_transaction(ledger_engine) as session:
        adjust_usd(session, creator, 10**12, key="largest", reason="the largest")
    assert ledger_report(ledger_engine).ok


def _paid_out(holder, amount: int) -> EntryDraft:
    """A stand-in for a payout: ``amount`` of the holder's payable moved to Stripe clearing."""
    return EntryDraft(
        key=f"payout:{uuid.uuid4()}",
        event=EntryEvent.adjustment,
        memo="paid out",
        legs=(
            debit(payable(holder, "USD"), amount),
            credit(platform(AccountKind.stripe_clearing, "USD"), amount),
        ),
    )


def test_a_posting_that_would_overdraw_a_payable_posts_nothing_and_the_transaction_goes_on(
    ledger_engine, posted
):
    holder = posted["holder"]
    with write_transaction(ledger_engine) as session:
        post_entry(session, _paid_out(holder, 500), now=utcnow())
        with pytest.raises(InsufficientBalance, match="holds 300 minor units"):
            post_entry(session, _paid_out(holder, 301), now=utcnow())
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
    with Session(ledger_engine) as session:
        assert balance_of(session, payable(holder, "USD")) == 300
    assert ledger_report(ledger_engine).ok


def test_a_reversal_after_a_payout_has_the_platform_bear_the_paid_part(ledger_engine, posted):
    holder, creator = posted["holder"], posted["creator"]
    generation_id = posted["usage"].generation_id
    with write_transaction(ledger_engine) as session:
        post_entry(session, _paid_out(holder, 500), now=utcnow())
        (reversal,) = reverse_takedowns(
            session, generation_ids=[generation_id], reason="takedown", now=utcnow()
        )
    assert not reversal.replayed and reversal.reverses_id == posted["entry"].id
    assert "500 minor units" in reversal.memo and "already paid out" in reversal.memo
    with Session(ledger_engine) as session:
        # The creator gets the whole 1,040 back; the holder gives back the 300 they still hold
        # of their 800 and keeps the 500 paid; the revenue gives back its 240 and bears the 500.
        assert balance_of(session, wallet(creator, "USD")) == 0
        assert balance_of(session, payable(holder, "USD")) == 0
        assert balance_of(session, platform(AccountKind.platform_revenue, "USD")) == -500
    assert count_entries(ledger_engine) == 3
    assert ledger_report(ledger_engine).ok


def test_a_reversal_is_posted_once_and_is_not_reversed_itself(ledger_engine, posted):
    generation_id = posted["usage"].generation_id
    with write_transaction(ledger_engine) as session:
        (first,) = reverse_takedowns(
            session, generation_ids=[generation_id], reason="takedown", now=utcnow()
        )
        (again,) = reverse_takedowns(
            session, generation_ids=[generation_id], reason="again", now=utcnow()
        )
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
    assert ledger_report(ledger_engine).ok


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
    assert ledger_report(ledger_engine).ok
    everything = [one for batches in work for batch in batches for one in batch]
    with Session(ledger_engine) as session:
        spent = sum(balance_of(session, wallet(creator, "USD")) for creator in creators)
    assert spent == -sum(one.total_minor for one in everything)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.postgres
def test_a_posting_does_not_wait_for_another_uncommitted_one_to_the_platform_revenue(
    ledger_engine,
):
    creators, holders = people(ledger_engine, creators=2, holders=2)
    first, second = (
        usage(ledger_engine, creator_id=creators[n], licences=[(holders[n], 500, 7_000)])
        for n in range(2)
    )
    with write_transaction(ledger_engine) as session:  # makes the accounts
        post_usages(
            session,
            [usage(ledger_engine, creator_id=creators[0], licences=[(holders[1], 10, 8_000)])],
            now=utcnow(),
        )
    with write_transaction(ledger_engine) as holding:
        post_usages(holding, [first], now=utcnow())
        # The first posting has not committed: a second one on another connection, of other
        # owners, moves the platform's revenue too, and must not wait for the first's lock.
        with write_transaction(ledger_engine) as other:
            other.execute(text("SET LOCAL lock_timeout = '500ms'"))
            post_usages(other, [second], now=utcnow())
    assert ledger_report(ledger_engine).ok
    with Session(ledger_engine) as session:
        revenue = balance_of(session, platform(AccountKind.platform_revenue, "USD"))
        slots = session.exec(select(func.count()).select_from(LedgerBalanceSlot)).one()[0]
    assert revenue == (40 + 2) + (40 + 150) * 2  # compute and the platform's share of each fee
    assert slots >= 2


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
