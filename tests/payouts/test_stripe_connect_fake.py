"""The Connect fake itself, driven by the official stripe client: Stripe's idempotency as the
payout runs rely on it, and every path it does not serve forwarded to localstripe."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stripe
from stripe_connect_fake import ConnectFake, ConnectFakeServer

LOCALSTRIPE = Path(sys.executable).parent / "localstripe"


def client_of(url: str) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_fake", base_addresses={"api": url}, max_network_retries=2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_one_key_one_transfer_and_other_parameters_refused() -> None:
    fake = ConnectFake()
    with ConnectFakeServer(fake) as server:
        client = client_of(server.url)
        account = client.v1.accounts.create({"type": "express"})
        params = {
            "amount": 500,
            "currency": "usd",
            "destination": account.id,
            "transfer_group": "g",
        }
        first = client.v1.transfers.create(params, {"idempotency_key": "k"})
        again = client.v1.transfers.create(params, {"idempotency_key": "k"})
        with pytest.raises(stripe.IdempotencyError):
            client.v1.transfers.create({**params, "amount": 501}, {"idempotency_key": "k"})
        listed = client.v1.transfers.list({"transfer_group": "g"}).data
    assert first.id == again.id == listed[0].id and len(listed) == 1
    assert fake.transfers_per_key == {"k": 1}


def test_other_paths_reach_localstripe_through_the_fake() -> None:
    port = free_port()
    localstripe = subprocess.Popen(
        [str(LOCALSTRIPE), "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "localstripe did not start"
                time.sleep(0.1)
        fake = ConnectFake(upstream=f"http://127.0.0.1:{port}")
        with ConnectFakeServer(fake) as server:
            client = client_of(server.url)
            customer = client.v1.customers.create({"email": "creator@example.org"})
            found = client.v1.customers.retrieve(customer.id)
            account = client.v1.accounts.create({"type": "express"})
        direct = client_of(f"http://127.0.0.1:{port}").v1.customers.retrieve(customer.id)
    finally:
        localstripe.terminate()
        localstripe.wait(timeout=10)
    assert found.email == direct.email == "creator@example.org"
    assert account.id in fake.accounts  # Connect stays with the fake
