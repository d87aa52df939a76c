"""The free monthly allowance: posted once per creator per UTC month, at their first clearance
that costs something, even when several come at the same moment; 0 turns it off."""

from datetime import UTC, datetime

import httpx
import pytest
from clearing import clearance_body
from factories import granted_asset, sign_up
from fastapi.testclient import TestClient
from live_server import posted_at_once, uvicorn_in_thread
from sqlmodel import Session, select

from clearhouse.app import create_app
from clearhouse.db import build_engine, write_session
from clearhouse.settings import Settings
from payouts.allowance import allowance_key, grant_monthly_allowance
from payouts.balances import check_ledger
from payouts.models import EntryEvent, JournalEntry

ALLOWANCE = 700
CHEAP_REQUEST = clearance_body("waves on a quiet beach")  # compute only: 80


def _allowance_keys(engine) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(JournalEntry.idempotency_key).where(
                    JournalEntry.event == EntryEvent.allowance
                )
            ).all()
        )


def _clear(client, creator) -> None:
    answer = client.post("/v1/clearances", headers=creator.headers, json=CHEAP_REQUEST)
    assert answer.status_code == 201, answer.text


def test_the_allowance_is_given_once_a_month_at_the_first_clearance(settings):
    settings = settings.model_copy(update={"free_monthly_credits_minor": ALLOWANCE})
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine
        creator = sign_up(client, role="creator")
        before = client.get("/v1/credits", headers=creator.headers).json()
        assert before["balances"] == [] and not before["allowance"]["granted"]
        assert _allowance_keys(engine) == []  # signing up and reading give nothing yet
        for _ in range(3):
            _clear(client, creator)  # cleared, not released: nothing is charged
        credits = client.get("/v1/credits", headers=creator.headers).json()
        assert credits["balances"] == [{"currency": "USD", "balance_minor": ALLOWANCE}]
        assert credits["allowance"]["granted"] and credits["allowance"]["amount_minor"] == 700
        [key] = _allowance_keys(engine)
        assert key == f"allowance:{creator.id}:{credits['allowance']['month']}"

        # The next month, once more; unused credits stay.
        next_month = datetime(2030, 1, 31, 23, 59, tzinfo=UTC)
        for _ in range(2):
            with write_session(engine) as session:
                grant_monthly_allowance(
                    session, creator_id=creator.id, settings=settings, now=next_month
                )
        assert sorted(_allowance_keys(engine)) == sorted(
            [key, allowance_key(creator.id, next_month)]
        )
        assert client.get("/v1/credits", headers=creator.headers).json()["balances"] == [
            {"currency": "USD", "balance_minor": 2 * ALLOWANCE}
        ]
        with Session(engine) as session:
            assert check_ledger(session).ok


def test_an_allowance_of_zero_gives_nothing(settings):
    with TestClient(create_app(settings.model_copy(update={"free_monthly_credits_minor": 0}))) as c:
        creator = sign_up(c, role="creator")
        refused = c.post("/v1/clearances", headers=creator.headers, json=CHEAP_REQUEST)
        assert refused.status_code == 402
        credits = c.get("/v1/credits", headers=creator.headers).json()
        assert credits["balances"] == [] and not credits["allowance"]["granted"]
        assert _allowance_keys(c.app.state.engine) == []


@pytest.mark.parametrize("threads", [6])
def test_first_needs_at_the_same_moment_give_the_allowance_once(settings, threads):
    settings = settings.model_copy(update={"free_monthly_credits_minor": ALLOWANCE})
    with uvicorn_in_thread(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        creator = sign_up(client, role="creator")
        _clear(client, sign_up(client, role="creator"))  # the text check loaded first
        answers = posted_at_once(
            url, "/v1/clearances", times=threads, headers=creator.headers, json=CHEAP_REQUEST
        )
        assert [answer.status_code for answer in answers] == [201] * threads, answers[0].text
        balances = client.get("/v1/credits", headers=creator.headers).json()["balances"]
    assert balances == [{"currency": "USD", "balance_minor": ALLOWANCE}]
    engine = build_engine(settings.resolved_database_url)
    try:
        mine = [key for key in _allowance_keys(engine) if str(creator.id) in key]
    finally:
        engine.dispose()
    assert len(mine) == 1


def test_the_default_allowance_pays_for_the_readme_quickstart(client):
    """The quickstart's policy and request (the factory's character in place of Nova Knight),
    on the default settings: cleared at 250, within the 1,000."""
    ada = sign_up(client, role="holder")
    quickstart_policy = {
        "audience": "anyone",
        "allowed_uses": ["personal", "parody"],
        "excluded_content": ["sexual", "hate"],
        "price": {"currency": "USD", "per_use_minor": 150, "per_second_minor": 5},
    }
    granted_asset(client, ada, handle="nova_knight", policy=quickstart_policy)
    quickstart = {
        "prompt": "Captain Test guarding a lighthouse at dawn",
        "declared_use": "personal",
        "parameters": {"duration_ms": 4000, "width": 854, "height": 480, "steps": 20},
    }
    answer = client.post("/v1/clearances", headers=ada.headers, json=quickstart)
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"] == "cleared" and answer.json()["quote"]["total_minor"] == 250
    assert Settings().free_monthly_credits_minor == 1000


def test_an_allowance_rolled_back_is_posted_again_by_the_next_transaction(settings):
    """A process remembers the allowances it saw posted, to read them no more: never one
    whose transaction then rolled back, though that transaction read it as posted."""
    settings = settings.model_copy(update={"free_monthly_credits_minor": ALLOWANCE})
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.engine
        creator = sign_up(client, role="creator")
        now = datetime(2030, 3, 1, tzinfo=UTC)
        with write_session(engine) as session:
            first = grant_monthly_allowance(
                session, creator_id=creator.id, settings=settings, now=now
            )
            again = grant_monthly_allowance(
                session, creator_id=creator.id, settings=settings, now=now
            )
            assert first is not None and again is None  # its own entry, read as posted
            session.rollback()
        assert _allowance_keys(engine) == []
        for _ in range(2):
            with write_session(engine) as session:
                grant_monthly_allowance(session, creator_id=creator.id, settings=settings, now=now)
        assert _allowance_keys(engine) == [allowance_key(creator.id, now)]
        with Session(engine) as session:
            assert check_ledger(session).ok
