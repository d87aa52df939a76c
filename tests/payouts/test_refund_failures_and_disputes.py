"""A refund that fails gives the credits back; a dispute holds them in the disputes account until
it closes (won: back to the wallet; lost: written off). Every event through the signed webhook,
applied once however often and in whatever order it comes."""

import random

import pytest
from factories import sign_up
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from stripe_local import deliver, stripe_event, usd_credits

from clearhouse.app import create_app
from payouts.accounts import platform
from payouts.balances import balance_of, check_ledger
from payouts.models import AccountKind, CreditPurchase, JournalEntry

PRICE = 2000


@pytest.fixture
def app_client(stripe_settings):
    settings = stripe_settings.model_copy(update={"free_monthly_credits_minor": 0})
    with TestClient(create_app(settings)) as client:
        yield client


def _bought(client, local_stripe, user) -> dict:
    """A purchase of PRICE, paid at the local Stripe and credited by its webhook."""
    answer = client.post(
        "/v1/credits/purchases",
        headers=user.headers,
        json={"amount_minor": PRICE, "currency": "USD"},
    )
    assert answer.status_code == 201, answer.text
    intent = local_stripe.pay(answer.json()["payment_intent_id"]).to_dict()
    assert deliver(client, stripe_event("payment_intent.succeeded", intent)).status_code == 200
    return intent


def _deliver_all(client, events, *, seed) -> list:
    """Each event, then all of them again three times, shuffled: the new ones' answers."""
    again = events * 3
    random.Random(seed).shuffle(again)
    answers = [deliver(client, event) for event in [*events, *again]]
    assert all(answer.status_code == 200 for answer in answers)
    return [answer for answer in answers if not answer.json()["duplicate"]]


def _platform(engine, kind) -> int:
    with Session(engine) as session:
        return balance_of(session, platform(kind, "USD"))


def _keys(engine) -> list[str]:
    with Session(engine) as session:
        assert check_ledger(session).ok
        return sorted(session.exec(select(JournalEntry.idempotency_key)).all())


def _refund(local_stripe, intent, amount) -> dict:
    return (
        local_stripe.client()
        .v1.refunds.create(params={"payment_intent": intent["id"], "amount": amount})
        .to_dict()
    )


@pytest.mark.parametrize("order", ["succeeded first", "failure first"])
def test_a_failed_refund_gives_the_credits_back_once_in_any_order(app_client, local_stripe, order):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    intent = _bought(app_client, local_stripe, creator)
    refund = _refund(local_stripe, intent, 500)
    succeeded = stripe_event("refund.updated", {**refund, "status": "succeeded"})
    failed = stripe_event("refund.failed", {**refund, "status": "failed"})
    updated = stripe_event("charge.refund.updated", {**refund, "status": "failed"})
    events = (
        [succeeded, failed, updated] if order == "succeeded first" else [failed, updated, succeeded]
    )

    assert len(_deliver_all(app_client, events, seed=11)) == 3
    assert usd_credits(app_client, creator) == PRICE
    assert _platform(engine, AccountKind.stripe_clearing) == PRICE
    assert _keys(engine) == sorted(
        [f"purchase:{intent['id']}", f"refund:{refund['id']}", f"reversal:refund:{refund['id']}"]
    )
    with Session(engine) as session:
        purchase = session.exec(
            select(CreditPurchase).where(CreditPurchase.payment_intent_id == intent["id"])
        ).one()
        assert purchase.refunded_minor == 0


def _dispute(intent, *, status, amount=PRICE, dispute_id="dp_test_1") -> dict:
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "currency": "usd",
        "charge": intent.get("latest_charge"),
        "payment_intent": intent["id"],
        "reason": "fraudulent",
        "status": status,
    }


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_dispute_holds_the_credits_until_it_closes_once_in_any_order(
    app_client, local_stripe, outcome
):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    intent = _bought(app_client, local_stripe, creator)
    opened = stripe_event("charge.dispute.created", _dispute(intent, status="needs_response"))
    deliver(app_client, opened)
    assert usd_credits(app_client, creator) == 0
    assert _platform(engine, AccountKind.disputes) == PRICE

    closed = stripe_event("charge.dispute.closed", _dispute(intent, status=outcome))
    # The other outcome, forged into a later delivery of the same closing, changes nothing.
    other = stripe_event(
        "charge.dispute.closed", _dispute(intent, status="lost" if outcome == "won" else "won")
    )
    _deliver_all(app_client, [closed, opened, other], seed=5)

    assert _platform(engine, AccountKind.disputes) == 0
    if outcome == "won":
        assert usd_credits(app_client, creator) == PRICE
        assert _platform(engine, AccountKind.stripe_clearing) == PRICE
    else:
        assert usd_credits(app_client, creator) == 0
        assert _platform(engine, AccountKind.stripe_clearing) == 0
    assert _keys(engine) == sorted(
        [f"purchase:{intent['id']}", "dispute:dp_test_1", "dispute_closed:dp_test_1"]
    )


def test_a_closing_delivered_before_its_opening_holds_and_closes_once(app_client, local_stripe):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    intent = _bought(app_client, local_stripe, creator)
    closed = stripe_event("charge.dispute.closed", _dispute(intent, status="lost", amount=700))
    opened = stripe_event(
        "charge.dispute.created", _dispute(intent, status="needs_response", amount=700)
    )

    assert len(_deliver_all(app_client, [closed, opened], seed=2)) == 2
    assert usd_credits(app_client, creator) == PRICE - 700
    assert _platform(engine, AccountKind.disputes) == 0
    assert _platform(engine, AccountKind.stripe_clearing) == PRICE - 700


def test_a_dispute_of_spent_credits_takes_the_wallet_below_zero_and_of_a_stranger_nothing(
    app_client, local_stripe
):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    intent = _bought(app_client, local_stripe, creator)
    deliver(
        app_client,
        stripe_event("charge.dispute.created", _dispute(intent, status="needs_response")),
    )
    deliver(
        app_client,
        stripe_event(
            "charge.dispute.created",
            _dispute(intent, status="needs_response", dispute_id="dp_test_2"),
        ),
    )
    assert usd_credits(app_client, creator) == -PRICE

    stranger = {"id": "pi_not_ours", "latest_charge": "ch_not_ours"}
    deliver(
        app_client,
        stripe_event(
            "charge.dispute.created", _dispute(stranger, status="needs_response", dispute_id="dp_x")
        ),
    )
    assert "dispute:dp_x" not in _keys(engine)
