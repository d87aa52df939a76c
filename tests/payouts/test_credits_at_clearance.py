"""Too few credits are caught at clearance: 402 with what the wallet holds and what is needed,
and nothing recorded; credits bought then let the same request through. Generations queued but
not released hold what they will be charged, also when asked for at the same moment."""

import httpx
import pytest
from clearing import clearance_body
from factories import sign_up
from fastapi.testclient import TestClient
from generating import generation_body
from live_server import posted_at_once, uvicorn_in_thread
from sqlmodel import Session, func, select
from stripe_local import signed_delivery, stripe_event, with_stripe

from clearhouse.app import create_app
from clearhouse.db import build_engine, utcnow, write_session
from generator.models import GenerationJob
from licensing.models import Clearance
from payouts.adjustments import adjust_wallet

# 4 s x 20 steps at 480p, 1 minor unit a second-step (licensing/quote.py).
COMPUTE_ONLY = 80


@pytest.fixture
def settings(settings, local_stripe):
    return with_stripe(settings, local_stripe).model_copy(update={"free_monthly_credits_minor": 0})


def _count(client, model) -> int:
    with Session(client.app.state.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_a_request_beyond_the_wallet_is_refused_until_credits_are_bought(client, local_stripe):
    creator = sign_up(client, role="creator")
    body = clearance_body("waves on a quiet beach")

    refused = client.post("/v1/clearances", headers=creator.headers, json=body)
    assert refused.status_code == 402, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/insufficient-credits") and problem["status"] == 402
    assert (problem["balance_minor"], problem["needed_minor"], problem["currency"]) == (
        0,
        COMPUTE_ONLY,
        "USD",
    )
    generation = client.post(
        "/v1/generations", headers=creator.headers, json=generation_body(steps=4)
    )
    assert generation.status_code == 402, generation.text
    assert _count(client, Clearance) == 0 and _count(client, GenerationJob) == 0

    purchase = client.post(
        "/v1/credits/purchases",
        headers=creator.headers,
        json={"amount_minor": 100, "currency": "USD"},
    ).json()
    intent = local_stripe.pay(purchase["payment_intent_id"]).to_dict()
    delivered = client.post(
        "/v1/stripe/webhook",
        content=(signed := signed_delivery(stripe_event("payment_intent.succeeded", intent)))[0],
        headers=signed[1],
    )
    assert delivered.status_code == 200, delivered.text

    cleared = client.post("/v1/clearances", headers=creator.headers, json=body)
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["outcome"] == "cleared"
    assert cleared.json()["quote"]["total_minor"] == COMPUTE_ONLY


def test_the_allowance_pays_for_a_request_it_covers(settings):
    settings = settings.model_copy(update={"free_monthly_credits_minor": COMPUTE_ONLY})
    with TestClient(create_app(settings)) as client:
        creator = sign_up(client, role="creator")
        body = clearance_body("waves on a quiet beach")
        assert client.post("/v1/clearances", headers=creator.headers, json=body).status_code == 201
        longer = clearance_body(
            "waves on a quiet beach", parameters={**body["parameters"], "duration_ms": 5000}
        )
        refused = client.post("/v1/clearances", headers=creator.headers, json=longer)
        assert refused.status_code == 402
        assert (refused.json()["balance_minor"], refused.json()["needed_minor"]) == (80, 100)


def test_queued_generations_hold_what_they_will_be_charged(settings):
    # Each costs 2 (one billed second x 2 steps at 480p); 5 credits pay for two, not three.
    settings = settings.model_copy(update={"free_monthly_credits_minor": 5})
    with TestClient(create_app(settings)) as client:
        creator = sign_up(client, role="creator")
        for _ in range(2):
            answer = client.post("/v1/generations", headers=creator.headers, json=generation_body())
            assert answer.status_code == 201, answer.text
            assert answer.json()["generation"]["state"] == "queued"
        third = client.post("/v1/generations", headers=creator.headers, json=generation_body())
        assert third.status_code == 402, third.text
        assert (third.json()["balance_minor"], third.json()["needed_minor"]) == (1, 2)
        assert _count(client, GenerationJob) == 2


def test_a_denied_request_is_answered_whatever_the_wallet_holds(client):
    holder, creator = sign_up(client), sign_up(client, role="creator")
    created = client.post(
        "/v1/assets",
        headers=holder.headers,
        json={"kind": "character", "handle": "@no_policy_knight", "name": "No Policy Knight"},
    )
    assert created.status_code == 201, created.text
    answer = client.post(
        "/v1/clearances",
        headers=creator.headers,
        json=clearance_body("No Policy Knight on a beach"),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"] == "denied"


def test_generations_asked_at_the_same_moment_spend_the_credits_once(settings):
    # 5 credits (an operator's, so nothing is posted during the race), 2 a generation: of six
    # asked at once, two are queued, four refused.
    threads = 6
    with uvicorn_in_thread(settings) as url, httpx.Client(base_url=url, timeout=120) as http:
        creator = sign_up(http, role="creator")
        engine = build_engine(settings.resolved_database_url)
        with write_session(engine) as session:
            adjust_wallet(
                session,
                creator_id=creator.id,
                amount_minor=5,
                currency="USD",
                operator_key=f"race-{creator.id}",
                reason="credits for the race",
                now=utcnow(),
            )
        engine.dispose()
        warm = http.post("/v1/clearances", headers=creator.headers, json=clearance_body("a sea"))
        assert warm.status_code == 402  # the text check is loaded before the race
        answers = posted_at_once(
            url, "/v1/generations", times=threads, headers=creator.headers, json=generation_body()
        )
    assert sorted(answer.status_code for answer in answers) == [201, 201, 402, 402, 402, 402]
