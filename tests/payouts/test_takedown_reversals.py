"""Takedowns in the ledger: a withdrawn consent reverses the usage of each clip it takes down,
on the holder's next statement, with the creator's charge given back; after a payout the
platform bears what was paid out; and no failure of the ledger fails the revocation."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import sign_up
from sqlalchemy import text
from sqlmodel import Session, select
from stating import ledger_holds, licensed_asset, pay_out, release

import generator.takedown
import payouts.takedowns
from clearhouse.db import utcnow
from generator.models import GenerationJob
from payouts.accounts import payable, platform, wallet
from payouts.balances import balance_of
from payouts.journal import recorded_entries
from payouts.models import AccountKind, PendingTakedownReversal
from payouts.runs import run_payouts
from payouts.statements import Period
from payouts.takedowns import retry_takedown_reversals, reversal_key
from rights.models import ConsentGrant, GrantStatus


@pytest.fixture
def creator(client):
    return sign_up(client, role="creator")


@pytest.fixture
def nova(client, engine, holder):
    """USD 1.60 a use, 80% to the holder: 128 to them, 32 and the compute (40) to the platform."""
    return licensed_asset(client, engine, holder, per_use_minor=160)


def _revoke(client, holder, grant_id) -> dict:
    answer = client.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _balances(engine, *accounts) -> list[int]:
    with Session(engine) as session:
        return [balance_of(session, account) for account in accounts]


def _reversals(engine, generation_ids) -> dict:
    with Session(engine) as session:
        return recorded_entries(session.connection(), [reversal_key(g) for g in generation_ids])


def _statement(client, holder) -> dict:
    period = Period.containing(utcnow())
    answer = client.get("/v1/statements", headers=holder.headers, params={"period": str(period)})
    assert answer.status_code == 200, answer.text
    [statement] = answer.json()["statements"]
    return statement


def test_a_takedown_reverses_the_use_on_the_holder_s_next_statement(
    client, engine, holder, creator, nova
):
    [generation_id] = release(engine, creator.id, nova, at=utcnow())
    revenue = platform(AccountKind.platform_revenue, "USD")
    accounts = (wallet(creator.id, "USD"), payable(holder.id, "USD"), revenue)
    assert _balances(engine, *accounts) == [-200, 128, 72]

    assert _revoke(client, holder, nova.grant_id)["generations_taken_down"] == 1

    [reversal] = _reversals(engine, [generation_id]).values()
    assert reversal.generation_id == generation_id and reversal.event == "reversal"
    assert _balances(engine, *accounts) == [0, 0, 0]
    statement = _statement(client, holder)
    [use] = [line for line in statement["lines"] if line["kind"] == "use"]
    [back] = [line for line in statement["lines"] if line["kind"] == "reversal"]
    assert (use["amount_minor"], back["amount_minor"]) == (128, -128)
    assert back["generation_id"] == str(generation_id) and "taken down" in back["memo"]
    assert statement["totals"]["reversed_minor"] == 128 and statement["closing_minor"] == 0
    ledger_holds(engine)


def test_a_takedown_after_a_payout_still_revokes_and_the_platform_bears_what_was_paid(
    client, engine, holder, creator, nova
):
    generation_ids = release(engine, creator.id, nova, at=utcnow(), count=2)
    pay_out(engine, holder.id, 200, at=utcnow())  # 256 earned, 56 left

    assert _revoke(client, holder, nova.grant_id)["generations_taken_down"] == 2

    with Session(engine) as session:
        jobs = session.exec(select(GenerationJob).where(GenerationJob.id.in_(generation_ids)))
        assert all(job.taken_down_at is not None for job in jobs)
    reversals = _reversals(engine, generation_ids)
    assert len(reversals) == 2
    # The creator gets both charges back; the holder gives back the 56 they still held and
    # keeps the 200 paid out; the platform's revenue bears those 200.
    revenue = platform(AccountKind.platform_revenue, "USD")
    assert _balances(engine, wallet(creator.id, "USD"), payable(holder.id, "USD"), revenue) == [
        0,
        0,
        -200,
    ]
    statement = _statement(client, holder)
    backs = [line for line in statement["lines"] if line["kind"] == "reversal"]
    assert [line["amount_minor"] for line in backs] == [-56]
    assert "already paid out" in backs[0]["memo"]
    borne = [entry.memo for entry in reversals.values() if "already paid out" in entry.memo]
    assert len(borne) == 2
    assert statement["totals"]["reversed_minor"] == 56
    assert statement["totals"]["paid_out_minor"] == 200 and statement["closing_minor"] == 0
    ledger_holds(engine)


def test_a_revocation_whose_ledger_fails_still_revokes_and_takes_down(
    client, engine, holder, creator, nova, monkeypatch, caplog
):
    [generation_id] = release(engine, creator.id, nova, at=utcnow())
    reverse = generator.takedown.reverse_takedowns

    def reverse_then_fail(session, **reversal):
        reverse(session, **reversal)  # written, then the ledger's statement fails
        session.execute(text("SELECT * FROM no_such_ledger_table"))

    monkeypatch.setattr(generator.takedown, "reverse_takedowns", reverse_then_fail)
    with caplog.at_level(logging.ERROR, logger="generator.takedown"):
        assert _revoke(client, holder, nova.grant_id)["generations_taken_down"] == 1

    assert "were not reversed" in caplog.text
    with Session(engine) as session:
        assert session.get(ConsentGrant, nova.grant_id).status == GrantStatus.revoked
        assert session.get(GenerationJob, generation_id).taken_down_at is not None
    assert _reversals(engine, [generation_id]) == {}  # the reversal written rolled back
    assert _balances(engine, wallet(creator.id, "USD"), payable(holder.id, "USD")) == [-200, 128]
    # The creator is told of the takedown, and that the charge is still to come back.
    [told] = client.get("/v1/notices", headers=creator.headers).json()["items"]
    assert told["kind"] == "generation.taken_down"
    assert told["facts"]["generation_id"] == str(generation_id)
    assert told["facts"]["charge_returned"] is False
    assert "will be returned to your credits" in told["facts"]["refund"]
    ledger_holds(engine)
    with Session(engine) as session:
        [pending] = session.exec(select(PendingTakedownReversal)).all()
        assert pending.generation_id == generation_id and str(nova.grant_id) in pending.reason


def test_a_reversal_left_to_retry_is_posted_once_by_the_retry_and_the_payout_run(
    client, engine, holder, creator, nova, monkeypatch, settings
):
    [generation_id] = release(engine, creator.id, nova, at=utcnow())

    fail = _failing_reversal
    monkeypatch.setattr(generator.takedown, "reverse_takedowns", fail)
    _revoke(client, holder, nova.grant_id)
    monkeypatch.undo()
    # Still failing: the retry keeps it, counting the attempt.
    monkeypatch.setattr(payouts.takedowns, "reverse_takedowns", fail)
    again = retry_takedown_reversals(engine, now=utcnow())
    assert (again.posted, again.failed) == ([], [generation_id])
    monkeypatch.undo()
    with Session(engine) as session:
        assert session.get(PendingTakedownReversal, generation_id).attempts == 1

    # The payout run retries it first (Stripe off here: the run only reports), then the command
    # finds nothing left; the reversal is posted once and the charge is back.
    report = run_payouts(engine, settings=settings, period="2026-10")
    assert report.reversals.posted == [generation_id]
    assert retry_takedown_reversals(engine, now=utcnow()).posted == []
    assert list(_reversals(engine, [generation_id])) == [reversal_key(generation_id)]
    assert _balances(engine, wallet(creator.id, "USD"), payable(holder.id, "USD")) == [0, 0]
    with Session(engine) as session:
        assert session.exec(select(PendingTakedownReversal)).all() == []
    ledger_holds(engine)


def test_the_retry_command_posts_a_pending_reversal_once(
    client, engine, holder, creator, nova, monkeypatch, settings
):
    [generation_id] = release(engine, creator.id, nova, at=utcnow())
    monkeypatch.setattr(generator.takedown, "reverse_takedowns", _failing_reversal)
    _revoke(client, holder, nova.grant_id)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "CLEARHOUSE_DATA_DIR": str(settings.data_dir),
        "CLEARHOUSE_DATABASE_URL": settings.resolved_database_url,
        "CLEARHOUSE_LIKENESS_KEY_STORE": str(settings.likeness_key_store_path),
    }
    command = [sys.executable, "-m", "clearhouse", "payouts", "retry-reversals"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"posted": [str(generation_id)], "failed": []}
    assert json.loads(second.stdout) == {"posted": [], "failed": []}
    assert list(_reversals(engine, [generation_id])) == [reversal_key(generation_id)]
    assert _balances(engine, wallet(creator.id, "USD"), payable(holder.id, "USD")) == [0, 0]
    ledger_holds(engine)


def _failing_reversal(session, **reversal):
    raise RuntimeError("the ledger is down")
