"""Payout runs against the Connect fake, driven by the official stripe client (both
databases): who is paid, exactly once; what a failure, a refusal and Stripe being off do."""

import threading
from datetime import timedelta

import pytest
from ledgering import write_transaction
from paying import (
    MINIMUM,
    clearing,
    holders_who_earned,
    onboard,
    onboarded_holder,
    payable_of,
    payouts,
    stripe_on,
)
from sqlalchemy import Engine
from sqlmodel import Session

from clearhouse.db import utcnow
from clearhouse.settings import Settings
from payouts.balances import check_ledger
from payouts.errors import PayoutPeriodNotEnded
from payouts.payout_models import PayoutState
from payouts.runs import (
    mark_failed,
    return_payout,
    run_payouts,
    transfer_group,
    transfer_idempotency_key,
)
from payouts.statements import Period

PERIOD, LATER = "2026-09", "2026-10"  # months that have ended: a run is for one


def unreachable(method: str, path: str) -> None:
    """The fake's hook: no transfer request gets through (the connection is reset)."""
    if path == "/v1/transfers":
        raise ConnectionResetError("the network is down")


def ledger_ok(engine: Engine) -> None:
    with Session(engine) as session:
        report = check_ledger(session)
    assert report.ok, report


def test_a_month_is_run_once_it_has_ended_and_not_before(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    settings = stripe_on(settings, fake)
    holder, _ = onboarded_holder(ledger_engine, settings, 5_000)
    this_month = Period.containing(utcnow())
    next_month = Period.containing(this_month.ends_at)

    for period in (this_month, next_month, Period(2999, 1), Period(9999, 12)):
        with pytest.raises(PayoutPeriodNotEnded, match=f"{period} has not ended") as refused:
            run_payouts(ledger_engine, settings=settings, period=str(period))
        assert f"latest month that can be run now is {this_month.previous()}" in str(refused.value)
    just_before_its_end = this_month.ends_at - timedelta(microseconds=1)
    with pytest.raises(PayoutPeriodNotEnded):
        run_payouts(
            ledger_engine,
            settings=settings,
            period=str(this_month),
            now=lambda: just_before_its_end,
        )
    assert payouts(ledger_engine) == [] and not fake.transfers
    assert payable_of(ledger_engine, holder) == 5_000

    # From the first instant of the next month (UTC), the month has ended.
    ended = run_payouts(
        ledger_engine, settings=settings, period=str(this_month), now=lambda: this_month.ends_at
    )
    assert len(ended.paid) == 1 and payable_of(ledger_engine, holder) == 0


def test_a_run_pays_each_holder_at_or_over_the_minimum_exactly_once(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    settings = stripe_on(settings, fake)
    over, under, exactly, not_onboarded = holders_who_earned(
        ledger_engine, [1_600, MINIMUM - 1, MINIMUM, 5_000]
    )
    accounts = onboard(ledger_engine, settings, [over, under, exactly])

    report = run_payouts(ledger_engine, settings=settings, period=PERIOD)

    assert sorted(report.paid) == sorted(report.made) and len(report.made) == 2
    assert [due.holder_id for due in report.skipped] == [not_onboarded]
    sent = {(t["destination"], t["amount"]) for t in fake.transfers.values()}
    assert sent == {(accounts[over], 1_600), (accounts[exactly], MINIMUM)}
    assert [payable_of(ledger_engine, h) for h in (over, under, exactly, not_onboarded)] == [
        0,
        MINIMUM - 1,
        0,
        5_000,
    ]
    assert clearing(ledger_engine) == -(1_600 + MINIMUM)
    made = payouts(ledger_engine)
    assert {p.state for p in made} == {PayoutState.paid}
    assert {p.stripe_transfer_id for p in made} == set(fake.transfers)
    for payout in made:
        transfer = fake.transfers[payout.stripe_transfer_id]
        assert transfer["transfer_group"] == transfer_group(payout.id)
        assert transfer["metadata"]["payout_id"] == str(payout.id)
        assert fake.transfers_per_key[transfer_idempotency_key(payout.id)] == 1

    again = run_payouts(ledger_engine, settings=settings, period=PERIOD)
    assert (again.made, again.paid) == ([], [])
    assert len(fake.transfers) == 2 and len(payouts(ledger_engine)) == 2

    # Onboarded later: the same period's next run pays them, and nobody else again.
    onboard(ledger_engine, settings, [not_onboarded])
    late = run_payouts(ledger_engine, settings=settings, period=PERIOD)
    assert len(late.paid) == 1 and len(fake.transfers) == 3
    assert payable_of(ledger_engine, not_onboarded) == 0
    ledger_ok(ledger_engine)


def test_a_transfer_whose_answer_was_lost_is_found_not_sent_again(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    """Stripe made the transfer but answered 500 (and replays that 500 under the key): the
    payout fails; the next run, a day later when Stripe has forgotten the key, finds the
    transfer by its group and records it."""
    settings = stripe_on(settings, fake)
    holder, _ = onboarded_holder(ledger_engine, settings, 2_500)
    fake.after_create_failures.append("500")

    first = run_payouts(ledger_engine, settings=settings, period=PERIOD)
    (payout,) = payouts(ledger_engine)
    assert first.failed == [payout.id] and payout.state == PayoutState.failed
    assert payout.failed_attempts == 1 and "APIError" in payout.last_error
    assert payable_of(ledger_engine, holder) == 0  # on its way: the entry stands

    fake.forget_idempotency_keys()
    second = run_payouts(ledger_engine, settings=settings, period=PERIOD)
    (payout,) = payouts(ledger_engine)
    assert second.paid == [payout.id] and payout.state == PayoutState.paid
    assert len(fake.transfers) == 1
    assert fake.transfers_per_group()[transfer_group(payout.id)] == 1
    ledger_ok(ledger_engine)


def test_a_dropped_connection_is_retried_with_the_same_key(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    settings = stripe_on(settings, fake)
    onboarded_holder(ledger_engine, settings, 1_200)
    fake.after_create_failures.append("drop")

    report = run_payouts(ledger_engine, settings=settings, period=PERIOD)

    (payout,) = payouts(ledger_engine)
    assert report.paid == [payout.id] and len(fake.transfers) == 1
    assert fake.requests[("POST", "/v1/transfers")] == 2  # the client's retry, replayed


def test_a_network_failure_fails_the_payout_and_the_next_run_pays_it(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    settings = stripe_on(settings, fake)
    holder, _ = onboarded_holder(ledger_engine, settings, 3_000)

    fake.on_request = unreachable
    first = run_payouts(ledger_engine, settings=settings, period=PERIOD)
    assert len(first.failed) == 1 and not fake.transfers
    fake.on_request = None
    second = run_payouts(ledger_engine, settings=settings, period=LATER)
    assert second.paid == first.failed and second.made == []
    assert len(fake.transfers) == 1 and payable_of(ledger_engine, holder) == 0


def test_a_refused_transfer_returns_the_money_to_the_payable(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    settings = stripe_on(settings, fake)
    holder, account = onboarded_holder(ledger_engine, settings, 4_000)
    fake.declined_accounts.add(account)

    report = run_payouts(ledger_engine, settings=settings, period=PERIOD)

    (payout,) = payouts(ledger_engine)
    assert report.returned == [payout.id] and payout.state == PayoutState.returned
    assert "insufficient_capabilities_for_transfer" in payout.last_error
    assert payable_of(ledger_engine, holder) == 4_000 and clearing(ledger_engine) == 0
    assert not fake.transfers
    # The period's payout is spent; the next period pays once the account can receive.
    assert run_payouts(ledger_engine, settings=settings, period=PERIOD).made == []
    fake.declined_accounts.clear()
    later = run_payouts(ledger_engine, settings=settings, period=LATER)
    assert len(later.paid) == 1 and payable_of(ledger_engine, holder) == 0
    ledger_ok(ledger_engine)


def test_with_stripe_off_a_run_reports_what_is_due_and_records_nothing(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    holder, _ = onboarded_holder(ledger_engine, stripe_on(settings, fake), 2_000)
    off = settings.model_copy(update={"payout_minimum_minor": MINIMUM})
    assert off.stripe_secret_key is None

    report = run_payouts(ledger_engine, settings=off, period=PERIOD)

    assert report.stripe is False
    assert [(d.holder_id, d.amount_minor) for d in report.due] == [(holder, 2_000)]
    assert (report.made, report.paid) == ([], [])
    assert payouts(ledger_engine) == [] and payable_of(ledger_engine, holder) == 2_000
    assert fake.requests[("GET", "/v1/transfers")] == 0 and not fake.transfers


def test_two_runs_at_once_send_one_transfer(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    """Both runs look the transfer up before either sends it (the fake holds the lookups
    until both arrive), so only the idempotency key keeps the second from paying again."""
    settings = stripe_on(settings, fake)
    onboarded_holder(ledger_engine, settings, 1_500)
    fake.on_request = unreachable  # leaves the payout open, and unsent, for both runs
    run_payouts(ledger_engine, settings=settings, period=PERIOD)
    assert not fake.transfers

    lookups = threading.Barrier(2, timeout=10)

    def both_look_first(method: str, path: str) -> None:
        if method == "GET" and path == "/v1/transfers":
            lookups.wait()

    fake.on_request = both_look_first
    start = threading.Barrier(2)
    reports = []

    def run() -> None:
        start.wait()
        reports.append(run_payouts(ledger_engine, settings=settings, period=PERIOD))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    (payout,) = payouts(ledger_engine)
    assert payout.state == PayoutState.paid
    assert len(fake.transfers) == 1, fake.transfers
    assert fake.transfers_per_key[transfer_idempotency_key(payout.id)] == 1


def test_a_late_failure_never_undoes_a_paid_payout(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    """An attempt that failed while another run's succeeded records its failure after the
    payout was paid: nothing changes, and nothing goes back to the payable."""
    settings = stripe_on(settings, fake)
    holder, _ = onboarded_holder(ledger_engine, settings, 2_200)
    run_payouts(ledger_engine, settings=settings, period=PERIOD)
    (paid,) = payouts(ledger_engine)

    with write_transaction(ledger_engine) as session:
        assert not mark_failed(session, paid.id, "APIConnectionError: late", utcnow())
        assert not return_payout(session, paid.id, "refused, late", utcnow())

    (payout,) = payouts(ledger_engine)
    assert (payout.state, payout.failed_attempts, payout.last_error) == (PayoutState.paid, 0, None)
    assert payable_of(ledger_engine, holder) == 0
    ledger_ok(ledger_engine)
