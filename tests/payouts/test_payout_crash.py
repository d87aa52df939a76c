"""Crash safety of payout runs: `clearhouse payouts run` in a subprocess, killed with SIGKILL
at random points (after the payouts are posted and before a transfer is sent, after Stripe
made a transfer and before the run recorded it, after random delays), and run again until it
finishes: each payout is transferred exactly once, counted at the Connect fake by idempotency
key and by transfer group. Before every other run Stripe forgets the idempotency keys (as it
does after 24 hours), so the lookup by transfer group is what must hold then."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from paying import (
    clearing,
    connect_fake,
    holders_who_earned,
    onboard,
    payable_of,
    payouts,
    stripe_on,
)
from sqlalchemy import Engine
from sqlmodel import Session
from stripe_connect_fake import ConnectFake

from clearhouse.db import utcnow
from clearhouse.settings import Settings
from payouts.balances import check_ledger
from payouts.payout_models import PayoutState
from payouts.runs import transfer_group, transfer_idempotency_key
from payouts.statements import Period

REPOSITORY = Path(__file__).resolve().parents[2]
AMOUNTS = [1_000, 1_250, 2_000, 3_333, 5_000, 12_345, 1_001, 7_777, 9_999]
KILL_POINTS = ("after_transfer", "before_transfer", "delay")


def _run_command(settings: Settings, period: str = "2026-10") -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "CLEARHOUSE_DATA_DIR": str(settings.data_dir),
        "CLEARHOUSE_DATABASE_URL": settings.resolved_database_url,
        "CLEARHOUSE_LIKENESS_KEY_STORE": str(settings.likeness_key_store_path),
        "CLEARHOUSE_STRIPE_API_BASE": settings.stripe_api_base,
        "CLEARHOUSE_PAYOUT_MINIMUM_MINOR": str(settings.payout_minimum_minor),
    }
    if settings.stripe_secret_key is not None:
        env["CLEARHOUSE_STRIPE_SECRET_KEY"] = settings.stripe_secret_key
    command = [sys.executable, "-m", "clearhouse", "payouts", "run", "--period", period]
    return command, env


def run_and_kill(
    fake: ConnectFake, settings: Settings, *, point: str | None, nth: int, delay: float
) -> bool:
    """One `clearhouse payouts run`, SIGKILLed at ``point`` (the ``nth`` lookup or transfer of
    this run, or after ``delay`` seconds) unless it finishes first; whether it was killed."""
    command, env = _run_command(settings)
    process = subprocess.Popen(
        command, env=env, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    killed = threading.Event()
    arrivals: Counter = Counter()

    def kill() -> None:
        if not killed.is_set():
            killed.set()
            process.send_signal(signal.SIGKILL)

    def on_request(method: str, path: str) -> None:
        if (method, path) == ("GET", "/v1/transfers"):
            arrivals["lookups"] += 1
            if point == "before_transfer" and arrivals["lookups"] == nth:
                kill()  # the payouts are posted; this one's transfer is not sent yet

    def after_transfer(transfer: dict) -> None:
        arrivals["transfers"] += 1
        if point == "after_transfer" and arrivals["transfers"] == nth:
            kill()  # Stripe made it; the run never learns

    fake.on_request, fake.after_transfer = on_request, after_transfer
    timer = threading.Timer(delay, kill)
    if point == "delay":
        timer.start()
    try:
        _, err = process.communicate(timeout=120)
    finally:
        timer.cancel()
        fake.on_request = fake.after_transfer = None
    if killed.is_set() and process.returncode == -signal.SIGKILL:
        return True
    assert process.returncode == 0, err.decode()[-3000:]
    return False


def test_a_run_killed_anywhere_and_run_again_transfers_each_payout_once(
    ledger_engine: Engine, settings: Settings
) -> None:
    seed = random.randrange(2**32)
    chance = random.Random(seed)
    kills: Counter = Counter()
    with connect_fake() as fake:
        settings = stripe_on(settings, fake)
        holders = holders_who_earned(ledger_engine, AMOUNTS)
        onboard(ledger_engine, settings, holders)
        for attempt in range(40):
            # Twelve runs killed at points in turn (where work is left), then runs left to finish.
            point = KILL_POINTS[attempt % len(KILL_POINTS)] if attempt < 12 else None
            if run_and_kill(
                fake, settings, point=point, nth=chance.randint(1, 3), delay=chance.uniform(0.3, 3)
            ):
                kills[point] += 1
            elif attempt >= 12 and all(p.state == PayoutState.paid for p in payouts(ledger_engine)):
                break
            if attempt % 2 == 0:
                fake.forget_idempotency_keys()  # a day passes before the next run
        else:
            raise AssertionError(f"seed {seed}: the runs never finished")

    context = f"seed {seed}, kills {dict(kills)}"
    made = payouts(ledger_engine)
    assert sorted(p.amount_minor for p in made) == sorted(AMOUNTS), context
    assert len(fake.transfers) == len(AMOUNTS), (context, fake.transfers_per_group())
    groups = fake.transfers_per_group()
    for payout in made:
        assert payout.state == PayoutState.paid, context
        assert fake.transfers_per_key[transfer_idempotency_key(payout.id)] == 1, context
        assert groups[transfer_group(payout.id)] == 1, context
        assert fake.transfers[payout.stripe_transfer_id]["amount"] == payout.amount_minor
    assert all(payable_of(ledger_engine, holder) == 0 for holder in holders)
    assert clearing(ledger_engine) == -sum(AMOUNTS)
    with Session(ledger_engine) as session:
        assert check_ledger(session).ok
    # The kills this test is about did happen.
    assert kills["before_transfer"] >= 1 and kills["after_transfer"] >= 1, context


def test_the_command_with_stripe_off_reports_what_is_due_and_sends_nothing(
    ledger_engine: Engine, settings: Settings
) -> None:
    (holder,) = holders_who_earned(ledger_engine, [1_500])
    off = settings.model_copy(update={"payout_minimum_minor": 1_000})
    command, env = _run_command(off)

    ran = subprocess.run(command, env=env, cwd=REPOSITORY, capture_output=True, check=True)

    report = json.loads(ran.stdout)
    assert report["stripe"] is False and report["made"] == report["paid"] == []
    assert report["due"] == [
        {
            "holder_id": str(holder),
            "currency": "USD",
            "amount_minor": 1_500,
            "onboarded": False,
            "payouts_enabled": None,
            "skipped_because": "not onboarded",
        }
    ]
    assert report["reversals_posted"] == report["reversals_failed"] == []
    assert payouts(ledger_engine) == [] and payable_of(ledger_engine, holder) == 1_500
    command, env = _run_command(off, period="2026-13")
    refused = subprocess.run(command, env=env, cwd=REPOSITORY, capture_output=True)
    assert refused.returncode == 2 and b"YYYY-MM" in refused.stderr
    this_month = Period.containing(utcnow())
    command, env = _run_command(off, period=str(this_month))
    refused = subprocess.run(command, env=env, cwd=REPOSITORY, capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"{this_month} has not ended" in refused.stderr
