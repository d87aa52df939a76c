"""What a month's payout pays (both databases): what was earned by the month's end and no payout
took; not what later months earned, nor what was reversed since; never a month twice. And the
month's statement agrees with it: its closing balance, less what its payout paid, is what
reversals and payouts since the month ended took."""

import uuid
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from factories import User, sign_up
from fastapi.testclient import TestClient
from ledgering import people, write_transaction
from paying import earn, onboard, payable_of, payouts, stripe_on
from sqlalchemy import Engine
from stating import licensed_asset, release

from bench.ledger_rows import LicenceTerms
from clearhouse.db import snapshot_session
from clearhouse.settings import Settings
from payouts.accounts import payable, platform
from payouts.balances import check_ledger
from payouts.journal import EntryDraft, credit, debit, post_entry
from payouts.models import AccountKind, EntryEvent
from payouts.runs import run_payouts
from payouts.split import holder_share
from payouts.statements import Period
from payouts.takedowns import reverse_takedowns

OCTOBER, NOVEMBER, DECEMBER = Period(2025, 10), Period(2025, 11), Period(2025, 12)


def day(month: int, day_of_month: int, year: int = 2025) -> datetime:
    return datetime(year, month, day_of_month, 12, tzinfo=UTC)


def paid_for(engine: Engine, holder: uuid.UUID, period: Period) -> int:
    return sum(
        p.amount_minor for p in payouts(engine) if p.holder_id == holder and p.period == str(period)
    )


def run(engine: Engine, settings: Settings, period: Period, on: datetime):
    return run_payouts(engine, settings=settings, period=str(period), now=lambda: on)


def a_holder(engine: Engine, settings: Settings) -> uuid.UUID:
    """An onboarded holder who has earned nothing yet."""
    _, (holder,) = people(engine, creators=0, holders=1)
    onboard(engine, settings, [holder])
    return holder


def earned_each_month(engine: Engine, settings: Settings) -> uuid.UUID:
    """An onboarded holder who earned 1,500 in October, 2,500 in November and 4,000 on
    1 December."""
    holder = a_holder(engine, settings)
    for amount, at in ((1_500, day(10, 10)), (2_500, day(11, 10)), (4_000, day(12, 1))):
        earn(engine, holder, amount, at=at)
    return holder


def ledger_ok(engine: Engine) -> None:
    with snapshot_session(engine) as session:
        report = check_ledger(session)
    assert report.ok, report


def month_statement(client: TestClient, holder: User, period: Period) -> dict:
    """The holder's statement for ``period`` as they read it (``GET /v1/statements``)."""
    answer = client.get("/v1/statements", headers=holder.headers, params={"period": str(period)})
    assert answer.status_code == 200, answer.text
    [statement] = answer.json()["statements"]
    return statement


class Earning(NamedTuple):
    settings: Settings
    """Stripe on, at the Connect fake."""
    creator: User
    terms: LicenceTerms
    """The holder's character, licensed at 3,000 a use."""
    share: int
    """What the holder earns of each use."""


@pytest.fixture
def earning(client: TestClient, engine: Engine, holder: User, settings: Settings, fake) -> Earning:
    """The holder, onboarded, with a character that earns; a creator to use it."""
    settings = stripe_on(settings, fake)
    terms = licensed_asset(client, engine, holder, per_use_minor=3_000)
    onboard(engine, settings, [holder.id])
    share = holder_share(terms.price_minor, terms.revenue_share_bps)
    return Earning(settings, sign_up(client, role="creator"), terms, share)


def test_uses_after_the_month_ended_wait_for_the_next_month_s_run(
    client: TestClient, engine: Engine, holder: User, earning: Earning, fake
) -> None:
    settings, creator, terms, share = earning
    release(engine, creator.id, terms, at=day(11, 10), count=2)
    release(engine, creator.id, terms, at=day(12, 2))  # December's, before November's run

    november = run(engine, settings, NOVEMBER, on=day(12, 5))

    assert len(november.paid) == 1 and paid_for(engine, holder.id, NOVEMBER) == 2 * share
    assert [t["amount"] for t in fake.transfers.values()] == [2 * share]
    assert payable_of(engine, holder.id) == share
    # November's statement closes at what November's payout paid: nothing of it remains.
    statement = month_statement(client, holder, NOVEMBER)
    assert statement["totals"]["earned_minor"] == 2 * share
    assert statement["closing_minor"] - paid_for(engine, holder.id, NOVEMBER) == 0

    december = run(engine, settings, DECEMBER, on=day(1, 3, 2026))

    assert len(december.paid) == 1 and paid_for(engine, holder.id, DECEMBER) == share
    assert payable_of(engine, holder.id) == 0
    # December's: November's balance in, its payout out, December's use in, and paid.
    statement = month_statement(client, holder, DECEMBER)
    assert statement["opening_minor"] == 2 * share
    assert statement["totals"]["paid_out_minor"] == 2 * share
    assert statement["closing_minor"] - paid_for(engine, holder.id, DECEMBER) == 0
    ledger_ok(engine)


def test_a_reversal_after_the_month_ended_comes_off_that_month_s_payout(
    client: TestClient, engine: Engine, holder: User, earning: Earning, fake
) -> None:
    settings, creator, terms, share = earning
    _, taken_down = release(engine, creator.id, terms, at=day(11, 10), count=2)
    release(engine, creator.id, terms, at=day(12, 1))  # December's: enough to cover it
    with write_transaction(engine) as session:
        reverse_takedowns(
            session, generation_ids=[taken_down], reason="consent withdrawn", now=day(12, 2)
        )

    run(engine, settings, NOVEMBER, on=day(12, 5))

    # November earned two shares; one was taken back before the run: one is owed.
    assert paid_for(engine, holder.id, NOVEMBER) == share
    statement = month_statement(client, holder, NOVEMBER)
    assert statement["closing_minor"] == 2 * share
    assert statement["closing_minor"] - paid_for(engine, holder.id, NOVEMBER) == share
    assert payable_of(engine, holder.id) == share  # December's, for December's run

    run(engine, settings, DECEMBER, on=day(1, 3, 2026))

    assert paid_for(engine, holder.id, DECEMBER) == share
    assert payable_of(engine, holder.id) == 0
    assert sum(t["amount"] for t in fake.transfers.values()) == 2 * share
    ledger_ok(engine)


def test_a_payout_never_takes_more_than_the_payable_holds_now(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    """An entry since the month ended took more from the payable than later months added:
    the month is paid what is left, and the payable is not overdrawn."""
    settings = stripe_on(settings, fake)
    holder = a_holder(ledger_engine, settings)
    earn(ledger_engine, holder, 3_000, at=day(11, 10))
    earn(ledger_engine, holder, 500, at=day(12, 1))
    with write_transaction(ledger_engine) as session:
        post_entry(
            session,
            EntryDraft(
                key="adjustment:payable-correction",
                event=EntryEvent.adjustment,
                memo="An operator's correction taking 1,500 from the payable",
                legs=(
                    debit(payable(holder, "USD"), 1_500),
                    credit(platform(AccountKind.adjustments, "USD"), 1_500),
                ),
            ),
            now=day(12, 2),
        )

    run(ledger_engine, settings, NOVEMBER, on=day(12, 5))

    assert paid_for(ledger_engine, holder, NOVEMBER) == 2_000
    assert payable_of(ledger_engine, holder) == 0
    ledger_ok(ledger_engine)


def test_no_month_is_paid_twice_and_an_earlier_month_run_later_pays_nothing_again(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    settings = stripe_on(settings, fake)
    holder = earned_each_month(ledger_engine, settings)

    # October was never run: November's run pays what October earned too.
    run(ledger_engine, settings, NOVEMBER, on=day(12, 3))
    assert paid_for(ledger_engine, holder, NOVEMBER) == 1_500 + 2_500
    october = run(ledger_engine, settings, OCTOBER, on=day(12, 4))
    assert october.made == [] and october.due == []  # November's payout took it

    # Both run again, with more earned since: nothing more is paid for either.
    earn(ledger_engine, holder, 700, at=day(12, 10))
    again = [run(ledger_engine, settings, month, on=day(12, 11)) for month in (OCTOBER, NOVEMBER)]
    assert [(report.made, report.paid) for report in again] == [([], []), ([], [])]
    assert len(fake.transfers) == 1

    run(ledger_engine, settings, DECEMBER, on=day(1, 2, 2026))
    assert paid_for(ledger_engine, holder, DECEMBER) == 4_000 + 700
    assert sum(t["amount"] for t in fake.transfers.values()) == 1_500 + 2_500 + 4_000 + 700
    assert payable_of(ledger_engine, holder) == 0
    ledger_ok(ledger_engine)


def test_a_month_run_late_then_the_next_pays_each_month_once(
    ledger_engine: Engine, settings: Settings, fake
) -> None:
    """October's run made after November ended pays October's earnings; November's run that
    follows pays November's alone: October's payout, posted after November ended, counts."""
    settings = stripe_on(settings, fake)
    holder = earned_each_month(ledger_engine, settings)

    run(ledger_engine, settings, OCTOBER, on=day(12, 3))
    run(ledger_engine, settings, NOVEMBER, on=day(12, 3))

    assert paid_for(ledger_engine, holder, OCTOBER) == 1_500
    assert paid_for(ledger_engine, holder, NOVEMBER) == 2_500
    assert payable_of(ledger_engine, holder) == 4_000
    ledger_ok(ledger_engine)
