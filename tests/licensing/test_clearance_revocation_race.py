"""A revocation wins over every clearance that reads the grant after it: tried against a live
`clearhouse serve` on PostgreSQL, with clearances sent in a loop by clients released together
by a barrier, and the owner revoking while they run. And a clearance that read the grant
before the revocation is recorded before the revoke call returns."""

import threading
import time
import uuid

import httpx
import pytest
from factories import create_asset, grant, set_policy, sign_up

from clearhouse.accounts.models import Account
from clearhouse.db import build_engine, utcnow, write_session
from licensing.facts import read_facts

CLEARERS = 4
POLICY = {
    "audience": "anyone",
    "allowed_uses": ["commercial"],
    "price": {"currency": "USD", "per_use_minor": 100, "per_second_minor": 0},
}
BODY = {
    "prompt": "Captain Test at sea",
    "declared_use": "commercial",
    "parameters": {"duration_ms": 1000, "width": 640, "height": 480, "steps": 4},
}


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_no_clearance_sent_after_the_revoke_returned_is_cleared(served):
    http = httpx.Client(base_url=served, timeout=60)
    holder, requester = sign_up(http), sign_up(http, role="creator")
    asset = create_asset(http, holder, handle="captain_test")
    set_policy(http, holder, asset["id"], POLICY)
    grant_id = grant(http, holder, asset["id"])["grant"]["id"]
    start, stop, answers = threading.Barrier(CLEARERS + 1), threading.Event(), []

    def clear_until_stopped() -> None:
        with httpx.Client(base_url=served, timeout=60) as clearer:
            start.wait()
            while not stop.is_set():
                sent = time.monotonic()
                answer = clearer.post("/v1/clearances", headers=requester.headers, json=BODY)
                answers.append((sent, answer.status_code, answer.json().get("outcome")))

    threads = [threading.Thread(target=clear_until_stopped) for _ in range(CLEARERS)]
    for thread in threads:
        thread.start()
    start.wait()
    _wait_for(lambda: sum(outcome == "cleared" for _, _, outcome in answers) >= CLEARERS)
    revoked = http.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
    returned = time.monotonic()
    _wait_for(lambda: sum(sent >= returned for sent, _, _ in answers) >= 2 * CLEARERS)
    stop.set()
    for thread in threads:
        thread.join()
    http.close()

    assert revoked.status_code == 200, revoked.text
    assert {status for _, status, _ in answers} == {201}
    before = [outcome for sent, _, outcome in answers if sent < returned]
    after = [outcome for sent, _, outcome in answers if sent >= returned]
    assert "cleared" in before, "no clearance was cleared before the revoke"
    assert len(after) >= 2 * CLEARERS, "too few clearances after the revoke to prove anything"
    assert set(after) == {"denied"}


def _wait_for(condition, *, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_revoke_returns_only_once_a_clearance_that_read_the_grant_is_recorded(served, settings):
    http = httpx.Client(base_url=served, timeout=60)
    holder, requester = sign_up(http), sign_up(http, role="creator")
    asset = create_asset(http, holder, handle="captain_wait")
    set_policy(http, holder, asset["id"], POLICY)
    grant_id = grant(http, holder, asset["id"])["grant"]["id"]
    engine = build_engine(settings.resolved_database_url)
    grant_read, may_commit = threading.Event(), threading.Event()
    seen, revoked, times = [], [], {}

    def clear_holding_the_read() -> None:
        # What a clearance does in its write transaction, held open after reading the facts.
        with write_session(engine) as session:
            facts = read_facts(
                session,
                requester=session.get(Account, requester.id),
                asset_ids=[uuid.UUID(asset["id"])],
                request_digest="0" * 64,
                now=utcnow(),
            )
            seen.extend(str(g.id) for a in facts.assets for g in a.grants)
            grant_read.set()
            may_commit.wait(timeout=60)
            times["committing"] = time.monotonic()

    def revoke() -> None:
        with httpx.Client(base_url=served, timeout=60) as owner:
            answer = owner.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
        times["revoked"] = time.monotonic()
        revoked.append(answer.status_code)

    clearance = threading.Thread(target=clear_holding_the_read)
    clearance.start()
    grant_read.wait(timeout=60)
    revocation = threading.Thread(target=revoke)
    revocation.start()
    revocation.join(timeout=2)  # a revoke that does not wait for the reader returns by now
    may_commit.set()
    clearance.join()
    revocation.join()
    http.close()
    engine.dispose()

    assert seen == [grant_id]
    assert revoked == [200]
    assert times["revoked"] > times["committing"]
