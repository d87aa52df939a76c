"""Reconciling payouts from Stripe's transfer events, the handlers called directly with event
objects as the webhook endpoint passes them (both databases): applied twice or out of order,
they change things once."""

import copy

from ledgering import write_transaction
from paying import (
    clearing,
    onboarded_holder,
    payable_of,
    payouts,
    stripe_on,
)
from sqlalchemy import Engine
from sqlmodel import Session
from stripe_connect_fake import ConnectFake
from stripe_local import WEBHOOK_SECRET, signed_delivery, stripe_event

from clearhouse.db import utcnow
from clearhouse.settings import Settings
from payouts.balances import check_ledger
from payouts.payout_events import PAYOUT_EVENT_HANDLERS
from payouts.payout_models import PayoutState
from payouts.runs import run_payouts
from payouts.stripe_events import receive_event


def deliver(engine: Engine, event_type: str, transfer: dict) -> None:
    """What the webhook endpoint does with a verified event: its handler in a transaction."""
    with write_transaction(engine) as session:
        PAYOUT_EVENT_HANDLERS[event_type](session, copy.deepcopy(transfer), utcnow())


def failed_payout_with_a_transfer(engine: Engine, settings: Settings, fake: ConnectFake) -> dict:
    """A run whose transfer Stripe made but answered with a 500: the payout is failed; the
    transfer at Stripe."""
    holder, _ = onboarded_holder(engine, settings, 3_000)
    fake.after_create_failures.append("500")
    run_payouts(engine, settings=settings, period="2026-10")
    (payout,) = payouts(engine)
    assert payout.state == PayoutState.failed
    (transfer,) = fake.transfers.values()
    return {"holder": holder, "payout": payout, "transfer": transfer}


def test_transfer_created_records_the_payout_once(
    ledger_engine: Engine, settings: Settings, fake: ConnectFake
) -> None:
    made = failed_payout_with_a_transfer(ledger_engine, stripe_on(settings, fake), fake)

    for event_type in ("transfer.created", "transfer.updated", "transfer.created"):
        deliver(ledger_engine, event_type, made["transfer"])

    (payout,) = payouts(ledger_engine)
    assert payout.state == PayoutState.paid
    assert payout.stripe_transfer_id == made["transfer"]["id"]
    assert payable_of(ledger_engine, made["holder"]) == 0


def test_a_transfer_that_is_not_the_payouts_changes_nothing(
    ledger_engine: Engine, settings: Settings, fake: ConnectFake
) -> None:
    made = failed_payout_with_a_transfer(ledger_engine, stripe_on(settings, fake), fake)
    other_amount = {**made["transfer"], "amount": 2_999}
    no_payout = {**made["transfer"], "metadata": {}}
    elsewhere = {**made["transfer"], "destination": "acct_someone_else"}

    for transfer in (other_amount, no_payout, elsewhere):
        deliver(ledger_engine, "transfer.created", transfer)
        deliver(ledger_engine, "transfer.reversed", {**transfer, "amount_reversed": 3_000})

    (payout,) = payouts(ledger_engine)
    assert payout.state == PayoutState.failed and payout.stripe_transfer_id is None
    assert payable_of(ledger_engine, made["holder"]) == 0


def test_reversals_return_the_money_once_each(
    ledger_engine: Engine, settings: Settings, fake: ConnectFake
) -> None:
    made = failed_payout_with_a_transfer(ledger_engine, stripe_on(settings, fake), fake)
    transfer_id = made["transfer"]["id"]

    partly = copy.deepcopy(fake.reverse(transfer_id, 1_000))
    # Reversed before any event recorded it as paid: the handler records it first.
    deliver(ledger_engine, "transfer.reversed", partly)
    deliver(ledger_engine, "transfer.reversed", partly)
    (payout,) = payouts(ledger_engine)
    assert payout.state == PayoutState.paid
    assert payable_of(ledger_engine, made["holder"]) == 1_000
    assert clearing(ledger_engine) == -2_000

    wholly = copy.deepcopy(fake.reverse(transfer_id, 2_000))
    deliver(ledger_engine, "transfer.reversed", wholly)
    deliver(ledger_engine, "transfer.reversed", partly)  # late and out of order
    deliver(ledger_engine, "transfer.created", made["transfer"])
    (payout,) = payouts(ledger_engine)
    assert payout.state == PayoutState.returned
    assert payable_of(ledger_engine, made["holder"]) == 3_000
    assert clearing(ledger_engine) == 0
    with Session(ledger_engine) as session:
        assert check_ledger(session).ok


def test_a_signed_transfer_reversal_reaches_its_payout_through_the_webhook(
    ledger_engine: Engine, settings: Settings, fake: ConnectFake
) -> None:
    """The webhook's registry names the payout handlers: a verified delivery, sent twice,
    returns the money once."""
    on = stripe_on(settings, fake).model_copy(update={"stripe_webhook_secret": WEBHOOK_SECRET})
    made = failed_payout_with_a_transfer(ledger_engine, on, fake)
    reversed_transfer = copy.deepcopy(fake.reverse(made["transfer"]["id"], 3_000))
    event = stripe_event("transfer.reversed", reversed_transfer)

    for _ in range(2):
        body, headers = signed_delivery(event)
        receive_event(
            ledger_engine,
            payload=body,
            signature=headers["Stripe-Signature"],
            settings=on,
            now=utcnow(),
        )

    (payout,) = payouts(ledger_engine)
    assert payout.state == PayoutState.returned
    assert payable_of(ledger_engine, made["holder"]) == 3_000
