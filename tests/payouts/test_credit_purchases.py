"""Buying credits: a PaymentIntent at the (local) Stripe, paid, and Stripe's own webhook
delivery to a live server credits the wallet once; only the buyer sees their purchase."""

import time
import uuid

import httpx
import pytest
from factories import sign_up
from fastapi.testclient import TestClient
from live_server import uvicorn_in_thread
from sqlmodel import Session, func, select
from stripe_local import CARD_DECLINED, usd_credits

from bench.server import free_port
from clearhouse.app import create_app
from payouts.models import CreditPurchase


@pytest.fixture
def live(stripe_settings, local_stripe):
    """A live server with Stripe on; the local Stripe delivers its webhooks to it."""
    settings = stripe_settings.model_copy(update={"free_monthly_credits_minor": 0})
    with uvicorn_in_thread(settings) as url:
        local_stripe.send_webhooks_to(f"{url}/v1/stripe/webhook")
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


def _ask_to_buy(client, headers, *, amount_minor=1000, currency="USD"):
    body = {"amount_minor": amount_minor, "currency": currency}
    return client.post("/v1/credits/purchases", headers=headers, json=body)


def _wait_for(read, *, seconds=20):
    deadline = time.monotonic() + seconds
    while not (found := read()):
        assert time.monotonic() < deadline, "Stripe's webhook did not arrive"
        time.sleep(0.2)
    return found


def _state(client, user, purchase) -> str:
    return client.get(f"/v1/credits/purchases/{purchase['id']}", headers=user.headers).json()[
        "state"
    ]


def test_a_paid_purchase_reaches_the_wallet_once_through_stripes_webhook(live, local_stripe):
    creator = sign_up(live, role="creator")
    answer = _ask_to_buy(live, creator.headers, amount_minor=2500)
    assert answer.status_code == 201, answer.text
    purchase = answer.json()
    assert purchase["state"] == "pending"
    assert purchase["client_secret"].startswith(purchase["payment_intent_id"] + "_secret_")
    intent = local_stripe.client().v1.payment_intents.retrieve(purchase["payment_intent_id"])
    assert intent.amount == 2500 and intent.currency == "usd"
    assert intent.metadata["purchase_id"] == purchase["id"]
    assert intent.metadata["account_id"] == str(creator.id)
    assert usd_credits(live, creator) == 0  # nothing until Stripe says it is paid

    local_stripe.pay(purchase["payment_intent_id"])
    _wait_for(lambda: _state(live, creator, purchase) == "succeeded")
    assert usd_credits(live, creator) == 2500
    movements = live.get("/v1/credits/movements", headers=creator.headers).json()
    assert [(m["event"], m["amount_minor"]) for m in movements["items"]] == [("purchase", 2500)]


def test_a_declined_card_fails_the_purchase_through_stripes_webhook(live, local_stripe):
    creator = sign_up(live, role="creator")
    purchase = _ask_to_buy(live, creator.headers).json()
    local_stripe.pay(purchase["payment_intent_id"], card=CARD_DECLINED)
    _wait_for(lambda: _state(live, creator, purchase) == "failed")
    assert usd_credits(live, creator) == 0


def test_purchases_out_of_range_are_malformed(client):
    creator = sign_up(client, role="creator")
    for body, status in (
        ({"amount_minor": 99, "currency": "USD"}, 422),
        ({"amount_minor": 500_001, "currency": "USD"}, 422),
        ({"amount_minor": 1000, "currency": "usd"}, 422),
        ({"amount_minor": 1000, "currency": "USD", "account_id": str(uuid.uuid4())}, 422),
    ):
        answer = client.post("/v1/credits/purchases", headers=creator.headers, json=body)
        assert answer.status_code == status, (body, answer.text)


def test_with_stripe_off_no_purchase_is_stored(client, engine):
    creator = sign_up(client, role="creator")
    answer = _ask_to_buy(client, creator.headers)
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("/stripe-off")
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(CreditPurchase)).one() == 0


def test_another_account_neither_sees_nor_changes_a_purchase(live, local_stripe):
    buyer, other = sign_up(live, role="creator"), sign_up(live, role="creator")
    purchase = _ask_to_buy(live, buyer.headers).json()
    assert (
        live.get(f"/v1/credits/purchases/{purchase['id']}", headers=other.headers).status_code
        == 404
    )
    assert live.get("/v1/credits/purchases", headers=other.headers).json()["total"] == 0
    local_stripe.pay(purchase["payment_intent_id"])
    _wait_for(lambda: usd_credits(live, buyer) == 1000)
    assert usd_credits(live, other) == 0
    other_movements = live.get("/v1/credits/movements", headers=other.headers).json()
    assert other_movements["items"] == []
    assert (
        live.get(f"/v1/credits/purchases/{purchase['id']}", headers=buyer.headers).status_code
        == 200
    )


def test_credits_in_a_currency_quotes_are_not_priced_in_store_nothing(stripe_settings):
    with TestClient(create_app(stripe_settings)) as client:
        creator = sign_up(client, role="creator")
        answer = _ask_to_buy(client, creator.headers, currency="EUR")
        assert answer.status_code == 400 and "USD" in answer.json()["detail"]
        with Session(client.app.state.engine) as session:
            assert session.exec(select(func.count()).select_from(CreditPurchase)).one() == 0


def test_a_key_with_account_read_reads_credits_but_buys_none(client):
    creator = sign_up(client, role="creator")
    key = client.post(
        "/v1/api-keys", headers=creator.headers, json={"name": "books", "scopes": ["account:read"]}
    ).json()["secret"]
    for path in ("/v1/credits", "/v1/credits/purchases", "/v1/credits/movements"):
        assert client.get(path, headers={"X-API-Key": key}).status_code == 200, path
    bought = _ask_to_buy(client, {"X-API-Key": key})
    assert bought.status_code == 403 and "sign in" in bought.json()["detail"]


def test_when_stripe_cannot_be_reached_the_purchase_is_kept_as_failed(stripe_settings):
    unreachable = stripe_settings.model_copy(
        update={"stripe_api_base": f"http://127.0.0.1:{free_port()}"}
    )
    with TestClient(create_app(unreachable)) as client:
        creator = sign_up(client, role="creator")
        answer = _ask_to_buy(client, creator.headers)
        assert answer.status_code == 502 and answer.json()["type"].endswith("/stripe-unavailable")
        [kept] = client.get("/v1/credits/purchases", headers=creator.headers).json()["items"]
        assert kept["state"] == "failed" and kept["payment_intent_id"] is None
        assert kept["failure_message"]
