"""A takedown's reversal and a payout run for the same holder at the same moment, against a live
`clearhouse serve` (both databases): the holder withdraws the consent that licensed some of last
month's uses (their usages are reversed in the revocation's transaction) while an admin runs
last month's payouts.

Whichever commits first, the payout pays what was owed when its transaction read the payable:
all of it, the reversal then taking nothing from the payable and the platform's revenue bearing
the withdrawn uses' shares; or what the reversal left, the reversal taking the withdrawn shares
from the payable. Never the withdrawn shares paid out and taken from the payable too (it would
go below zero), never a payout missed or a reversal lost. Every entry balances, and
`clearhouse ledger check` is ok at the end.

The two meet on the holder's payable, each locking it before reading it. On PostgreSQL most
rounds brake them there: the test holds the payable's row lock, sends the two requests (the
revoke first, the run first, or both at once) and lets go only once both wait for it, having
done everything before it (the run has read what it thinks is due, the revocation has taken
the clips down). The other rounds, and SQLite's (whose writers take turns), release both at
once with no brake.
"""

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
from factories import User, promote, sign_up
from live_server import clearhouse_server
from paying import MINIMUM, onboard, stripe_on
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session, select
from stating import ledger_holds, licensed_asset, release
from stripe_connect_fake import ConnectFake

from clearhouse.db import utcnow
from payouts.accounts import AccountRef, payable, platform, wallet
from payouts.journal import PostedEntry, recorded_entries
from payouts.models import AccountKind, LedgerAccount, PendingTakedownReversal
from payouts.payout_models import Payout
from payouts.split import holder_share
from payouts.statements import Period
from payouts.takedowns import reversal_key
from payouts.usage import release_key

PRICE = 3_000
"""A use of each of the round's characters; the holder's share of it is over the minimum."""
WITHDRAWN_USES = 2
ROUNDS = {"postgresql": 12, "sqlite": 6}
BRAKE_WAIT_S = 60.0  # a stop for a brake nobody reaches (a failure), not a measure


@dataclass(frozen=True)
class Stake:
    """One round's holder: last month's uses of a character whose consent they withdraw, and of
    one they keep (none in some rounds: then what the reversal leaves is under the minimum)."""

    holder: User
    grant_id: uuid.UUID
    withdrawn: list[uuid.UUID]
    """The generations the withdrawal takes down."""
    withdrawn_share: int
    kept_share: int


@dataclass(frozen=True)
class Outcome:
    payout: Payout | None
    reversals: list[PostedEntry]
    usages: list[PostedEntry]


def test_a_reversal_and_a_payout_run_at_once_pay_what_was_owed_and_lose_no_reversal(
    client, engine, session, settings, fake: ConnectFake, tmp_path
) -> None:
    dialect = engine.dialect.name
    paying = stripe_on(settings, fake)
    admin = promote(session, sign_up(client), "admin")
    creator = sign_up(client, role="creator")
    period = Period.containing(utcnow()).previous()
    earned_at = period.starts_at + timedelta(days=10)
    stripe = {
        "CLEARHOUSE_STRIPE_SECRET_KEY": paying.stripe_secret_key,
        "CLEARHOUSE_STRIPE_API_BASE": fake.base_url,
        "CLEARHOUSE_PAYOUT_MINIMUM_MINOR": str(MINIMUM),
    }
    arrivals = ["revoke first", "run first", "at once", "unbraked"]
    if dialect == "sqlite":
        arrivals = ["unbraked"]
    seen: dict[str, set[str]] = {arrival: set() for arrival in arrivals}

    with clearhouse_server(settings, log=tmp_path / "serve.log", environment=stripe) as server:
        for number, arrival in zip(range(ROUNDS[dialect]), itertools.cycle(arrivals), strict=False):
            # A holder of their own each round, so that the run pays only this round's stake.
            stake = _stake(client, engine, paying, creator, kept_uses=number % 3 != 2, at=earned_at)
            revoked, run = _race(engine, server.base_url, admin, stake, str(period), arrival)

            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["generations_taken_down"] == WITHDRAWN_USES
            assert run.status_code == 200, run.text
            outcome = _outcome(engine, stake, str(period))
            seen[arrival].add(_promises_kept(outcome, stake, creator, run.json(), fake))
            _no_payable_below_zero_nor_overpaid(engine)
            ledger_holds(engine)
            shown = httpx.get(
                f"{server.base_url}/v1/payouts", headers=stake.holder.headers, timeout=30
            ).json()["payouts"]
            expected = [] if outcome.payout is None else [str(outcome.payout.id)]
            assert [p["id"] for p in shown] == expected
        checked = server.cli("ledger", "check")

    assert '"ok": true' in checked, checked
    # The brakes worked: the one that reached the payable first was served first, so both
    # orders were played; the unbraked rounds are whatever the moment made them.
    if dialect == "postgresql":
        assert seen["revoke first"] == {"reversal first"}, seen
        assert seen["run first"] == {"payout first"}, seen
        assert set().union(*seen.values()) == {"reversal first", "payout first"}, seen


def _stake(client, engine: Engine, paying, creator: User, *, kept_uses: bool, at) -> Stake:
    holder = sign_up(client)
    withdrawn = licensed_asset(client, engine, holder, per_use_minor=PRICE)
    kept = licensed_asset(client, engine, holder, per_use_minor=PRICE)
    taken = release(engine, creator.id, withdrawn, at=at, count=WITHDRAWN_USES)
    if kept_uses:
        release(engine, creator.id, kept, at=at)
    onboard(engine, paying, [holder.id])
    return Stake(
        holder=holder,
        grant_id=withdrawn.grant_id,
        withdrawn=taken,
        withdrawn_share=WITHDRAWN_USES * holder_share(PRICE, withdrawn.revenue_share_bps),
        kept_share=holder_share(PRICE, kept.revenue_share_bps) if kept_uses else 0,
    )


def _race(
    engine: Engine, base_url: str, admin: User, stake: Stake, period: str, arrival: str
) -> tuple[httpx.Response, httpx.Response]:
    """The revoke and the run, released by a barrier, in the order ``arrival`` says; their
    answers."""
    start = threading.Barrier(3)
    go = {"revoke": threading.Event(), "run": threading.Event()}
    answers: dict[str, httpx.Response] = {}
    requests = {
        "revoke": (f"/v1/grants/{stake.grant_id}/revoke", stake.holder.headers, {}),
        "run": ("/v1/payouts/runs", admin.headers, {"period": period}),
    }

    def send(name: str) -> None:
        path, headers, body = requests[name]
        with httpx.Client(base_url=base_url, timeout=120) as http:
            http.get("/healthz")  # connected before the barrier
            start.wait()
            go[name].wait()
            answers[name] = http.post(path, headers=headers, json=body)

    threads = [threading.Thread(target=send, args=(name,)) for name in go]
    for thread in threads:
        thread.start()
    if arrival == "unbraked":
        start.wait()
        for event in go.values():
            event.set()
    else:
        order = {"revoke first": ["revoke", "run"], "run first": ["run", "revoke"]}
        with _braked(engine, payable(stake.holder.id, "USD")) as waiting:
            start.wait()
            if arrival == "at once":
                for event in go.values():
                    event.set()
                waiting(2)
            else:
                for count, name in enumerate(order[arrival], start=1):
                    go[name].set()
                    waiting(count)
    for thread in threads:
        thread.join()
    return answers["revoke"], answers["run"]


@contextmanager
def _braked(engine: Engine, account: AccountRef) -> Iterator:
    """Hold the account's row lock (PostgreSQL) until the block ends; yields a function that
    returns once ``count`` transactions wait behind it."""
    with engine.connect() as brake:
        brake.execute(
            text(
                "SELECT id FROM ledger_account WHERE owner_id = :owner AND kind = :kind "
                "AND currency = :currency FOR UPDATE"
            ),
            {"owner": account.owner_id, "kind": account.kind.value, "currency": account.currency},
        ).one()
        holder_pid = brake.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def waiting(count: int) -> None:
            deadline = time.monotonic() + BRAKE_WAIT_S
            while len(_waiting_behind(brake, holder_pid)) < count:
                assert time.monotonic() < deadline, "the request never reached the payable"
                time.sleep(0.005)

        yield waiting
        brake.commit()


def _waiting_behind(brake: Connection, pid: int) -> set[int]:
    """The backends waiting for a lock ``pid`` holds, or for one that such a backend holds (a
    second waiter for a row waits for the first)."""
    # pg_locks, not pg_stat_activity: the latter is a snapshot within a transaction.
    rows = brake.execute(
        text("SELECT DISTINCT pid, pg_blocking_pids(pid) FROM pg_locks WHERE NOT granted")
    ).all()
    behind: set[int] = set()
    front = {pid}
    while front:
        front = {waiter for waiter, blockers in rows if set(blockers) & front} - behind
        behind |= front
    return behind


def _outcome(engine: Engine, stake: Stake, period: str) -> Outcome:
    with Session(engine, expire_on_commit=False) as read:
        made = read.exec(
            select(Payout).where(Payout.holder_id == stake.holder.id, Payout.period == period)
        ).all()
        connection = read.connection()
        reversals = recorded_entries(connection, [reversal_key(g) for g in stake.withdrawn])
        usages = recorded_entries(connection, [release_key(g) for g in stake.withdrawn])
        pending = read.exec(select(PendingTakedownReversal)).all()
    assert pending == [], "a reversal was left to retry"
    assert len(made) <= 1
    return Outcome(made[0] if made else None, list(reversals.values()), list(usages.values()))


def _promises_kept(
    outcome: Outcome, stake: Stake, creator: User, run: dict, fake: ConnectFake
) -> str:
    """Assert the round's promises; which committed first, as the ledger shows it."""
    # No reversal lost: each withdrawn use's is posted, and the creator has each charge back.
    assert len(outcome.reversals) == WITHDRAWN_USES
    charged, revenue = wallet(creator.id, "USD"), platform(AccountKind.platform_revenue, "USD")
    pairs = list(
        zip(
            sorted(outcome.usages, key=lambda entry: entry.generation_id),
            sorted(outcome.reversals, key=lambda entry: entry.generation_id),
            strict=True,
        )
    )
    for usage, reversal in pairs:
        assert reversal.reverses_id == usage.id
        assert _moved(reversal, charged) == -_moved(usage, charged) > 0
    own = payable(stake.holder.id, "USD")
    taken_back = -sum(_moved(reversal, own) for _, reversal in pairs)
    # What the platform's revenue gave back beyond what each use had given it.
    borne = -sum(_moved(usage, revenue) + _moved(reversal, revenue) for usage, reversal in pairs)
    paid = 0 if outcome.payout is None else outcome.payout.amount_minor
    # Exactly one of the two orders, each paying what its transaction saw.
    if taken_back == stake.withdrawn_share:
        order = "reversal first"
        assert borne == 0
        owed = stake.kept_share if stake.kept_share >= MINIMUM else 0
        assert paid == owed, (paid, owed)
    else:
        order = "payout first"
        assert taken_back == 0, "the reversal took part of the payable"
        assert borne == stake.withdrawn_share, "the platform did not bear what was paid"
        assert paid == stake.withdrawn_share + stake.kept_share
    if outcome.payout is None:
        assert run["made"] == []
        return order
    payout_id = str(outcome.payout.id)
    assert run["made"] == [payout_id] and run["paid"] == [payout_id], run
    transfers = [t for t in fake.transfers.values() if t["transfer_group"] == f"payout_{payout_id}"]
    assert [t["amount"] for t in transfers] == [paid]
    return order


def _moved(entry: PostedEntry, account: AccountRef) -> int:
    """What the entry moved the account by, credit positive (a payable's or a wallet's
    normal side; the revenue's too)."""
    return sum(leg.credit_minor - leg.debit_minor for leg in entry.legs if leg.account == account)


def _no_payable_below_zero_nor_overpaid(engine: Engine) -> None:
    """No holder's payable below zero, and no holder paid more than their uses earned less
    what reversals took from their payable."""
    with Session(engine) as read:
        below = read.exec(
            select(LedgerAccount.owner_id).where(
                LedgerAccount.kind == AccountKind.holder_payable, LedgerAccount.balance_minor < 0
            )
        ).all()
        moved = read.execute(
            text(
                "SELECT a.owner_id, e.event, sum(l.credit_minor - l.debit_minor) "
                "FROM journal_leg l JOIN journal_entry e ON e.id = l.entry_id "
                "JOIN ledger_account a ON a.id = l.account_id "
                "WHERE a.kind = 'holder_payable' GROUP BY a.owner_id, e.event"
            )
        ).all()
    assert below == []
    by_holder: dict = {}
    for owner, event, amount in moved:
        by_holder.setdefault(owner, {})[event] = int(amount)
    for owner, events in by_holder.items():
        paid = -events.get("payout", 0)
        assert set(events) <= {"usage", "reversal", "payout"}, events
        assert paid <= events.get("usage", 0) + events.get("reversal", 0), (owner, events)
