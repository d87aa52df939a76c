"""POST /v1/stripe/webhook: only what Stripe signed, each event applied once whatever the order
and however often it comes; refunds take credits back, past zero when they were spent."""

import random
import time
import uuid

import pytest
from factories import sign_up
from fastapi.testclient import TestClient
from ledgering import usage, write_transaction
from sqlalchemy import func
from sqlmodel import Session, select
from stripe_local import CARD_DECLINED, deliver, signed_delivery, stripe_event, usd_credits

from clearhouse.app import create_app
from clearhouse.db import utcnow
from payouts.balances import check_ledger
from payouts.models import CreditPurchase, JournalEntry, PurchaseState, StripeEvent
from payouts.stripe_events import HANDLERS
from payouts.usage import post_usages

PRICE = 2000
WEBHOOK = "/v1/stripe/webhook"


@pytest.fixture
def app_client(stripe_settings):
    # No free credits here: every balance below is what was bought, refunded or spent.
    settings = stripe_settings.model_copy(update={"free_monthly_credits_minor": 0})
    with TestClient(create_app(settings)) as client:
        yield client


def _buy(client, user, amount=PRICE) -> dict:
    answer = client.post(
        "/v1/credits/purchases",
        headers=user.headers,
        json={"amount_minor": amount, "currency": "USD"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _paid(local_stripe, purchase) -> dict:
    """The PaymentIntent, paid at the local Stripe, as Stripe's event carries it."""
    return local_stripe.pay(purchase["payment_intent_id"]).to_dict()


def _count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def test_forged_altered_or_stale_deliveries_are_refused_and_change_nothing(
    app_client, local_stripe
):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    intent = _paid(local_stripe, _buy(app_client, creator))
    event = stripe_event("payment_intent.succeeded", intent)

    forged = deliver(app_client, event, secret="whsec_not_the_endpoints_secret")
    body, headers = signed_delivery(event)
    altered = app_client.post(
        WEBHOOK, content=body.replace(b'"amount": 2000', b'"amount": 9000'), headers=headers
    )
    stale = deliver(app_client, event, timestamp=int(time.time()) - 301)
    unsigned = app_client.post(WEBHOOK, content=body, headers={"Content-Type": "application/json"})
    for refused in (forged, altered, stale, unsigned):
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"].endswith("/webhook-refused")
    assert b'"amount": 2000' in body  # the alteration did change the body
    assert _count(engine, StripeEvent) == 0
    assert usd_credits(app_client, creator) == 0

    accepted = deliver(app_client, event, timestamp=int(time.time()) - 290)
    assert accepted.status_code == 200, accepted.text
    assert usd_credits(app_client, creator) == PRICE


def test_one_event_delivered_five_times_out_of_order_is_applied_once(app_client, local_stripe):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    purchase = _buy(app_client, creator)
    intent = _paid(local_stripe, purchase)
    refund = local_stripe.client().v1.refunds.create(
        params={"payment_intent": intent["id"], "amount": 500}
    )
    failed = {**intent, "status": "requires_payment_method"}
    events = [
        stripe_event("payment_intent.succeeded", intent),
        stripe_event("refund.created", refund.to_dict()),
        stripe_event("payment_intent.payment_failed", failed),
    ]
    succeeded, refunded, failed_event = events
    # Out of order: the refund before the payment's success, a failure (an earlier attempt's,
    # sent late) after it; then every event again, four times more, shuffled.
    rest = events * 4
    random.Random(7).shuffle(rest)
    deliveries = [refunded, succeeded, failed_event, *rest]
    answers = [deliver(app_client, event) for event in deliveries]

    assert all(answer.status_code == 200 for answer in answers)
    assert sum(not answer.json()["duplicate"] for answer in answers) == 3
    assert usd_credits(app_client, creator) == PRICE - 500
    with Session(engine) as session:
        stored = session.get(CreditPurchase, uuid.UUID(purchase["id"]))
        assert stored.state == PurchaseState.succeeded and stored.refunded_minor == 500
        keys = session.exec(select(JournalEntry.idempotency_key)).all()
        assert sorted(keys) == sorted([f"purchase:{intent['id']}", f"refund:{refund.id}"])
        assert check_ledger(session).ok
    movements = app_client.get("/v1/credits/movements", headers=creator.headers).json()
    assert sorted(m["amount_minor"] for m in movements["items"]) == [-500, PRICE]


def test_a_refund_of_spent_credits_takes_the_wallet_below_zero(app_client, local_stripe):
    engine = app_client.app.state.engine
    creator = sign_up(app_client, role="creator")
    intent = _paid(local_stripe, _buy(app_client, creator))
    assert deliver(app_client, stripe_event("payment_intent.succeeded", intent)).status_code == 200
    with write_transaction(engine) as session:
        spent = usage(engine, creator_id=creator.id, licences=[], compute_minor=1500)
        post_usages(session, [spent], now=utcnow())

    refund = local_stripe.client().v1.refunds.create(params={"payment_intent": intent["id"]})
    charge = {
        "id": intent["latest_charge"],
        "object": "charge",
        "payment_intent": intent["id"],
        "refunds": {"object": "list", "data": [refund.to_dict()]},
    }
    assert deliver(app_client, stripe_event("charge.refunded", charge)).status_code == 200
    # The same refund again in its own event type: posted once.
    assert deliver(app_client, stripe_event("refund.created", refund.to_dict())).json()
    assert usd_credits(app_client, creator) == PRICE - 1500 - PRICE
    with Session(engine) as session:
        [entry] = session.exec(
            select(JournalEntry).where(JournalEntry.idempotency_key == f"refund:{refund.id}")
        ).all()
        assert entry.event == "refund"
        assert check_ledger(session).ok
        assert session.get(CreditPurchase, _purchase_id(session, intent)).refunded_minor == PRICE


def test_a_declined_payment_fails_the_purchase_and_credits_nothing(app_client, local_stripe):
    creator = sign_up(app_client, role="creator")
    purchase = _buy(app_client, creator)
    intent = local_stripe.pay(purchase["payment_intent_id"], card=CARD_DECLINED)
    event = stripe_event("payment_intent.payment_failed", intent.to_dict())
    assert deliver(app_client, event).status_code == 200
    [stored] = app_client.get("/v1/credits/purchases", headers=creator.headers).json()["items"]
    assert stored["state"] == "failed" and stored["failure_message"]
    assert usd_credits(app_client, creator) == 0


def test_an_event_of_an_unknown_type_is_kept_and_acknowledged(app_client):
    engine = app_client.app.state.engine
    event = stripe_event("customer.created", {"id": "cus_123", "object": "customer"})
    assert deliver(app_client, event).status_code == 200
    with Session(engine) as session:
        stored = session.get(StripeEvent, event["id"])
        assert stored.type == "customer.created" and not stored.handled
        assert stored.payload["data"]["object"]["id"] == "cus_123"
        assert session.exec(select(func.count()).select_from(JournalEntry)).one() == 0


def test_without_a_webhook_secret_no_event_is_taken(client):
    answer = deliver(client, stripe_event("payment_intent.succeeded", {"id": "pi_1"}))
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("/stripe-off")
    assert _count(client.app.state.engine, StripeEvent) == 0


def _purchase_id(session, intent):
    return session.exec(
        select(CreditPurchase.id).where(CreditPurchase.payment_intent_id == intent["id"])
    ).one()


def test_an_event_whose_handler_fails_is_not_kept_and_applies_when_sent_again(
    stripe_settings, local_stripe, monkeypatch
):
    settings = stripe_settings.model_copy(update={"free_monthly_credits_minor": 0})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        creator = sign_up(client, role="creator")
        intent = _paid(local_stripe, _buy(client, creator))
        event = stripe_event("payment_intent.succeeded", intent)
        credit_purchase = HANDLERS["payment_intent.succeeded"]

        def credit_then_fail(session, obj, now):
            credit_purchase(session, obj, now)
            raise RuntimeError("the handler fails after posting")

        monkeypatch.setitem(HANDLERS, "payment_intent.succeeded", credit_then_fail)
        assert deliver(client, event).status_code == 500
        assert _count(client.app.state.engine, StripeEvent) == 0
        assert usd_credits(client, creator) == 0

        monkeypatch.setitem(HANDLERS, "payment_intent.succeeded", credit_purchase)
        again = deliver(client, event)  # Stripe's retry
        assert again.status_code == 200 and not again.json()["duplicate"]
        assert usd_credits(client, creator) == PRICE
