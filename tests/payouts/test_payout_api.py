"""The payout routes (both databases): a holder's onboarding and their own payouts, nobody
else's; the admin's payout run; Stripe off refused with a problem and nothing stored."""

import itertools
import threading
from collections.abc import Iterator

import httpx
import pytest
from factories import promote, sign_up
from fastapi.testclient import TestClient
from live_server import uvicorn_in_thread
from paying import earn, stripe_on
from sqlmodel import Session, select
from stripe_connect_fake import ConnectFake

from clearhouse.app import create_app
from clearhouse.settings import Settings
from payouts.payout_models import PayoutAccount


@pytest.fixture
def paying_client(settings: Settings, fake: ConnectFake) -> Iterator[TestClient]:
    settings = stripe_on(settings, fake, public_url="https://clearhouse.test")
    with TestClient(create_app(settings)) as client:
        yield client


def test_onboarding_makes_one_connected_account_and_gives_a_link_each_time(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder = sign_up(paying_client)

    first = paying_client.post("/v1/payouts/onboarding", headers=holder.headers)
    second = paying_client.post("/v1/payouts/onboarding", headers=holder.headers)

    assert first.status_code == second.status_code == 200, first.text
    account_id = first.json()["stripe_account_id"]
    assert second.json()["stripe_account_id"] == account_id
    assert list(fake.accounts) == [account_id]
    assert fake.accounts[account_id]["type"] == "express"
    assert (
        first.json()["url"].startswith(fake.base_url)
        and first.json()["url"] != second.json()["url"]
    )
    assert [link["account"] for link in fake.account_links] == [account_id, account_id]
    assert fake.account_links[0]["refresh_url"].startswith("https://clearhouse.test/")
    assert fake.account_links[0]["return_url"].startswith("https://clearhouse.test/")
    state = paying_client.get("/v1/payouts", headers=holder.headers).json()
    assert state["connected_account"] == {
        "stripe_account_id": account_id,
        "details_submitted": False,
        "payouts_enabled": False,
    }


def test_a_holder_sees_their_own_payouts_and_nobody_else_does(
    paying_client: TestClient, fake: ConnectFake, session: Session
) -> None:
    holder, other = sign_up(paying_client), sign_up(paying_client)
    admin = promote(session, sign_up(paying_client), "admin")
    for person in (holder, other):
        assert (
            paying_client.post("/v1/payouts/onboarding", headers=person.headers).status_code == 200
        )
    earn(paying_client.app.state.engine, holder.id, 2_400)

    run = paying_client.post("/v1/payouts/runs", headers=admin.headers, json={"period": "2026-11"})

    assert run.status_code == 200, run.text
    (payout_id,) = run.json()["paid"]
    mine = paying_client.get("/v1/payouts", headers=holder.headers).json()["payouts"]
    assert [(p["id"], p["amount_minor"], p["state"]) for p in mine] == [(payout_id, 2_400, "paid")]
    assert paying_client.get(f"/v1/payouts/{payout_id}", headers=holder.headers).status_code == 200

    mine_account = paying_client.get("/v1/payouts", headers=holder.headers).json()
    theirs = paying_client.get("/v1/payouts", headers=other.headers).json()
    assert theirs["payouts"] == []
    assert (
        theirs["connected_account"]["stripe_account_id"]
        != mine_account["connected_account"]["stripe_account_id"]
    )
    refused = paying_client.get(f"/v1/payouts/{payout_id}", headers=other.headers)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"


def test_only_an_admin_runs_payouts(paying_client: TestClient, session: Session) -> None:
    holder = sign_up(paying_client)
    admin = promote(session, sign_up(paying_client), "admin")
    body = {"period": "2026-11"}

    assert (
        paying_client.post("/v1/payouts/runs", headers=holder.headers, json=body).status_code == 403
    )
    assert paying_client.post("/v1/payouts/runs", json=body).status_code == 401
    bad = paying_client.post("/v1/payouts/runs", headers=admin.headers, json={"period": "2026-13"})
    assert bad.status_code == 422
    assert (
        paying_client.post("/v1/payouts/runs", headers=admin.headers, json=body).status_code == 200
    )


def test_a_creator_cannot_onboard(paying_client: TestClient, fake: ConnectFake) -> None:
    creator = sign_up(paying_client, role="creator")
    assert paying_client.post("/v1/payouts/onboarding", headers=creator.headers).status_code == 403
    assert fake.accounts == {}


def test_with_stripe_off_onboarding_is_a_problem_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    holder = sign_up(client)

    refused = client.post("/v1/payouts/onboarding", headers=holder.headers)

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/stripe-off")
    assert "CLEARHOUSE_STRIPE_SECRET_KEY" in refused.json()["detail"]
    assert session.exec(select(PayoutAccount)).all() == []
    assert client.get("/v1/payouts", headers=holder.headers).json() == {
        "connected_account": None,
        "payouts": [],
    }


def test_two_onboardings_at_once_make_one_connected_account(
    settings: Settings, fake: ConnectFake
) -> None:
    """Both requests find no account stored and ask Stripe to make one at the same moment
    (the fake holds the first until the second arrives): the idempotency key derived from the
    holder makes it one account, and both answer it."""
    arrived = threading.Barrier(2, timeout=60)  # generous: a loaded CI machine is slow
    arrivals = itertools.count()

    def both_at_once(method: str, path: str) -> None:
        # Only the first two are held: the one that finds the other's request still running
        # is answered 409 and retries, and its retry must not wait for a third.
        if (method, path) == ("POST", "/v1/accounts") and next(arrivals) < 2:
            arrived.wait()

    fake.on_request = both_at_once
    with uvicorn_in_thread(stripe_on(settings, fake)) as url, httpx.Client(base_url=url) as client:
        holder = sign_up(client)
        start = threading.Barrier(2)
        answers = []

        def onboard() -> None:
            start.wait()
            answer = client.post("/v1/payouts/onboarding", headers=holder.headers, timeout=30)
            answers.append(answer)

        threads = [threading.Thread(target=onboard) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    assert len(fake.accounts) == 1
    assert {answer.json()["stripe_account_id"] for answer in answers} == set(fake.accounts)
