"""Stripe in tests: `localstripe` (PyPI), a local Stripe-compatible server, started as a
process of its own, driven by the official `stripe` client.

localstripe covers customers, payment methods, PaymentIntents, charges and refunds, and sends
signed webhooks (``payment_intent.succeeded`` and ``payment_intent.payment_failed``) to a URL
registered with ``POST /_config/webhooks/<name>``. It sends no refund events and has no Connect
(the ``local_stripe`` fixture puts tests/stripe_connect_fake.py in front of it for that):
:func:`signed_delivery` signs an event the test writes with the endpoint's secret, as Stripe
does (``t=<unix time>,v1=<HMAC-SHA256 of "t.body">``).
"""

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from stripe_connect_fake import ConnectFake, ConnectFakeServer

from bench.server import free_port
from clearhouse.settings import Settings

SECRET_KEY = "sk_test_clearhouse_local"
WEBHOOK_SECRET = "whsec_clearhouse_test_secret"
CARD_THAT_PAYS = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches, then its charge is declined


@dataclass(frozen=True)
class LocalStripe:
    api_base: str
    connect: ConnectFake | None = None
    """The fake in front (Connect, Checkout Sessions), when there is one."""

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(SECRET_KEY, base_addresses={"api": self.api_base})

    def send_webhooks_to(self, url: str, *, secret: str = WEBHOOK_SECRET) -> None:
        """Deliver this server's events to ``url`` (replacing the URL registered before)."""
        answer = httpx.post(
            f"{self.api_base}/_config/webhooks/clearhouse", data={"url": url, "secret": secret}
        )
        answer.raise_for_status()

    def pay(self, payment_intent_id: str, *, card: str = CARD_THAT_PAYS) -> Any:
        """What Stripe.js does with the client secret: attach a card and confirm."""
        client = self.client()
        method = client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
            }
        )
        client.v1.payment_intents.update(payment_intent_id, params={"payment_method": method.id})
        try:
            return client.v1.payment_intents.confirm(payment_intent_id)
        except stripe.CardError:
            return client.v1.payment_intents.retrieve(payment_intent_id)


@contextmanager
def local_stripe_server(log: Path) -> Iterator[LocalStripe]:
    """`localstripe --port <free port>`, from scratch, until the block ends."""
    port = free_port()
    executable = Path(sys.executable).with_name("localstripe")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(executable), "--port", str(port), "--from-scratch"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            api_base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, f"localstripe exited: {log.read_text()}"
                try:
                    httpx.get(f"{api_base}/v1/customers", auth=(SECRET_KEY, ""), timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "localstripe did not start"
                    time.sleep(0.1)
            yield LocalStripe(api_base)
        finally:
            process.terminate()
            process.wait(timeout=10)


def with_stripe(settings: Settings, local_stripe: LocalStripe) -> Settings:
    """``settings`` with Stripe on, at the local Stripe-compatible server."""
    return settings.model_copy(
        update={
            "stripe_secret_key": SECRET_KEY,
            "stripe_api_base": local_stripe.api_base,
            "stripe_webhook_secret": WEBHOOK_SECRET,
        }
    )


@pytest.fixture(scope="session")
def local_stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """localstripe behind the Connect fake: one API base answers both, as Stripe's does."""
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with (
        local_stripe_server(log) as ls,
        ConnectFakeServer(ConnectFake(upstream=ls.api_base)) as connect,
    ):
        yield LocalStripe(connect.url, connect.fake)


def signed_delivery(
    event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook delivery of ``event``, signed as Stripe signs."""
    body = json.dumps(event).encode()
    signed_at = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(
        secret.encode(), f"{signed_at}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "Stripe-Signature": f"t={signed_at},v1={signature}",
    }


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict:
    """An event as Stripe sends it, around ``obj`` (a PaymentIntent, a refund ...)."""
    return {
        "id": event_id or f"evt_test_{time.monotonic_ns()}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def deliver(client: Any, event: dict[str, Any], **signing: Any) -> Any:
    """POST ``event`` to the webhook endpoint through ``client``, signed (``signing``: as
    :func:`signed_delivery`)."""
    body, headers = signed_delivery(event, **signing)
    return client.post("/v1/stripe/webhook", content=body, headers=headers)


def usd_credits(client: Any, user: Any) -> int:
    """What ``user``'s wallet holds in USD, as GET /v1/credits answers."""
    balances = client.get("/v1/credits", headers=user.headers).json()["balances"]
    return sum(b["balance_minor"] for b in balances if b["currency"] == "USD")
