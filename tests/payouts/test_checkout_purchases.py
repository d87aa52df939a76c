"""Credits bought through a Stripe Checkout Session: the session is made at the (fake) Stripe
with URLs under the public URL and metadata binding it to the buyer and the amount; the
session's and its PaymentIntent's events, however often and in whatever order they come, credit
the wallet once; an unpaid or expired session credits nothing."""

import random
import uuid

import pytest
from factories import sign_up
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select
from stripe_local import deliver, stripe_event, usd_credits

from clearhouse.app import create_app
from payouts.balances import check_ledger
from payouts.models import CreditPurchase, JournalEntry, PurchaseState

PRICE = 2000
PUBLIC_URL = "https://clearhouse.example"


@pytest.fixture
def app_client(stripe_settings):
    settings = stripe_settings.model_copy(
        update={"free_monthly_credits_minor": 0, "public_url": PUBLIC_URL}
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _checkout(client, user, amount=PRICE) -> dict:
    answer = client.post(
        "/v1/credits/checkout",
        headers=user.headers,
        json={"amount_minor": amount, "currency": "USD"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _intent_of(checkout: dict) -> dict:
    """The PaymentIntent Stripe made for a paid session, as its own event carries it."""
    return {
        "id": checkout["payment_intent"],
        "object": "payment_intent",
        "amount": checkout["amount_total"],
        "amount_received": checkout["amount_total"],
        "currency": checkout["currency"],
        "status": "succeeded",
        "metadata": checkout["payment_intent_data"]["metadata"],
    }


def _purchase(engine, purchase_id) -> CreditPurchase:
    with Session(engine) as session:
        return session.get(CreditPurchase, uuid.UUID(purchase_id))


def test_the_session_is_bound_to_its_buyer_and_amount_and_sends_them_back_here(
    app_client, local_stripe
):
    creator = sign_up(app_client, role="creator")
    started = _checkout(app_client, creator)

    assert started["state"] == "pending" and started["checkout_session_id"].startswith("cs_")
    assert started["checkout_url"].startswith(local_stripe.api_base)
    at_stripe = local_stripe.connect.checkout_sessions[started["checkout_session_id"]]
    bound = {"purchase_id": started["id"], "account_id": str(creator.id)}
    assert at_stripe["metadata"] == bound
    assert at_stripe["payment_intent_data"]["metadata"] == bound
    assert at_stripe["amount_total"] == PRICE and at_stripe["currency"] == "usd"
    back = f"{PUBLIC_URL}/v1/credits/purchases/{started['id']}"
    assert at_stripe["success_url"] == f"{back}?checkout=success"
    assert at_stripe["cancel_url"] == f"{back}?checkout=cancelled"
    # Only the buyer reads it.
    other = sign_up(app_client, role="creator")
    assert (
        app_client.get(f"/v1/credits/purchases/{started['id']}", headers=other.headers).status_code
        == 404
    )


def test_a_paid_session_credits_once_whichever_of_its_events_comes_and_how_often(
    app_client, local_stripe
):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    started = _checkout(app_client, creator)
    paid = local_stripe.connect.pay_checkout(started["checkout_session_id"])
    completed = stripe_event("checkout.session.completed", paid)
    succeeded = stripe_event("payment_intent.succeeded", _intent_of(paid))
    # The PaymentIntent's event first, then the session's; then both again, shuffled, 4 times.
    deliveries = [succeeded, completed, *random.Random(3).sample([completed, succeeded] * 4, 8)]
    answers = [deliver(app_client, event) for event in deliveries]

    assert all(answer.status_code == 200 for answer in answers)
    assert sum(not answer.json()["duplicate"] for answer in answers) == 2
    assert usd_credits(app_client, creator) == PRICE
    stored = _purchase(engine, started["id"])
    assert stored.state == PurchaseState.succeeded
    assert (stored.checkout_session_id, stored.payment_intent_id) == (
        paid["id"],
        paid["payment_intent"],
    )
    with Session(engine) as session:
        keys = session.exec(select(JournalEntry.idempotency_key)).all()
        assert keys == [f"purchase:{paid['payment_intent']}"]
        assert check_ledger(session).ok


def test_the_sessions_event_alone_credits_the_wallet(app_client, local_stripe):
    creator = sign_up(app_client, role="creator")
    started = _checkout(app_client, creator, amount=1500)
    paid = local_stripe.connect.pay_checkout(started["checkout_session_id"])
    assert deliver(app_client, stripe_event("checkout.session.completed", paid)).status_code == 200
    assert usd_credits(app_client, creator) == 1500


def test_an_unpaid_expired_or_failed_session_credits_nothing(app_client, local_stripe):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    started = _checkout(app_client, creator)
    at_stripe = local_stripe.connect.checkout_sessions[started["checkout_session_id"]]
    # Completed with a bank debit still under way: not paid yet.
    unpaid = {
        **at_stripe,
        "status": "complete",
        "payment_status": "unpaid",
        "payment_intent": "pi_x",
    }
    for event_type, session_object in (
        ("checkout.session.completed", unpaid),
        ("checkout.session.async_payment_failed", unpaid),
        ("checkout.session.expired", {**at_stripe, "status": "expired"}),
    ):
        assert deliver(app_client, stripe_event(event_type, session_object)).status_code == 200

    assert usd_credits(app_client, creator) == 0
    assert _purchase(engine, started["id"]).state == PurchaseState.failed
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(JournalEntry)).one() == 0


def test_an_expiry_delivered_after_the_payment_changes_nothing(app_client, local_stripe):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    started = _checkout(app_client, creator)
    paid = local_stripe.connect.pay_checkout(started["checkout_session_id"])
    deliver(app_client, stripe_event("checkout.session.completed", paid))
    late = stripe_event(
        "checkout.session.async_payment_failed", {**paid, "payment_status": "unpaid"}
    )
    assert deliver(app_client, late).status_code == 200
    assert usd_credits(app_client, creator) == PRICE
    assert _purchase(engine, started["id"]).state == PurchaseState.succeeded


def test_with_stripe_off_no_session_is_made_and_nothing_stored(client):
    creator = sign_up(client, role="creator")
    answer = client.post(
        "/v1/credits/checkout",
        headers=creator.headers,
        json={"amount_minor": PRICE, "currency": "USD"},
    )
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("/stripe-off")
    with Session(client.app.state.engine) as session:
        assert session.exec(select(func.count()).select_from(CreditPurchase)).one() == 0
