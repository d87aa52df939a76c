"""Revocations at random moments while generations run, against a live `clearhouse serve`
whose generation worker runs the jobs, on PostgreSQL: once a revoke call has returned, no
release uses its grant; a cancelled job is neither licensed nor charged; no job is released
twice.

What proves "after": right after each revoke call returns, its thread reads the licences of
the revoked grant. That read's snapshot holds every transaction committed before it began, so
a licence of that grant missing from it, but present at the end, was committed by a release
that committed after the revoke had returned. (The rows' own times cannot show this: a
release stamps its licences before it commits, and its commit is what counts.)

A release's window, between re-reading the grants and committing, is a few milliseconds, so
revocations landing in it would be rare. Half the revocations therefore brake the releases
first: they hold a lock on the licence table (a release's next write), wait until a release
is held there, having re-read its grants, and revoke one of that job's grants. A release that
locks what it re-reads makes that revoke wait for its commit; one that does not lets the
revoke return first, and then commits a licence for the revoked grant.
"""

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from factories import User, granted_asset, sign_up
from generating import USD_POLICY, ask, wait_until_final
from live_server import clearhouse_serve
from sqlalchemy import Connection, Engine, text

from clearhouse.db import build_engine, utcnow, write_session
from generator.models import JobState
from payouts.adjustments import adjust_wallet

SEED = 9
HOLDERS = 4
CHARACTERS_PER_HOLDER = 2
JOBS = 16
CAST = 2  # characters each generation uses
REVOCATIONS = 4  # each by a thread of its own, at a random moment; even ones brake
REVOKE_WITHIN_S = 2.0  # the moments are drawn from the first seconds after the first release
BRAKE_WAIT_S = 4.0  # how long a braking revoker waits for a release to reach the brake
REVOKE_RETURN_S = 10.0  # how long it waits for its revoke to return or to wait


@dataclass(frozen=True)
class Character:
    handle: str
    grant_id: str
    owner: User


@dataclass
class Race:
    """What the revokers share, and what they saw."""

    engine: Engine
    base_url: str
    characters: list[Character]
    casts: dict[str, list[Character]]  # generation id -> the characters it uses
    choosing: threading.Lock = field(default_factory=threading.Lock)
    revoked: set[str] = field(default_factory=set)  # grant ids, as chosen
    answers: list[int] = field(default_factory=list)
    seen_on_return: dict[str, set[str]] = field(default_factory=dict)  # grant -> licence ids
    caught: dict[str, "Caught"] = field(default_factory=dict)  # grant -> the revoke's catch
    braking: threading.Lock = field(default_factory=threading.Lock)  # one brake at a time

    def choose(self, rng: random.Random, among: list[Character]) -> Character | None:
        with self.choosing:
            left = [c for c in among if c.grant_id not in self.revoked]
            if not left:
                return None
            chosen = rng.choice(left)
            self.revoked.add(chosen.grant_id)
            return chosen

    def revoke(self, character: Character) -> None:
        """Revoke, then at once read which licences of the grant are committed."""
        with (
            httpx.Client(base_url=self.base_url, timeout=60) as owner,
            self.engine.connect() as connection,
        ):
            connection.execute(text("SELECT 1"))  # connected before the revoke is sent
            answer = owner.post(
                f"/v1/grants/{character.grant_id}/revoke", headers=character.owner.headers, json={}
            )
            self.seen_on_return[character.grant_id] = _licences(connection, character.grant_id)
        self.answers.append(answer.status_code)

    def revoke_at_random(self, rng: random.Random, delay: float) -> None:
        time.sleep(delay)
        character = self.choose(rng, self.characters)
        if character is not None:
            self.revoke(character)

    def revoke_during_a_release(self, rng: random.Random, delay: float) -> None:
        time.sleep(delay)
        with self.braking, self.engine.connect() as brake:
            brake.execute(text("LOCK TABLE licence IN SHARE MODE"))
            held = _held_release(brake)
            cast = self.casts[held.job_id] if held else []
            character = self.choose(rng, cast) or self.choose(rng, self.characters)
            if character is None:
                return
            revoking = threading.Thread(target=self.revoke, args=(character,))
            revoking.start()
            if held and character in cast:
                waited = _waits_for(brake, release=held, revoking=revoking)
                self.caught[character.grant_id] = Caught(job_id=held.job_id, revoke_waited=waited)
            brake.commit()
        revoking.join()


@dataclass(frozen=True)
class HeldRelease:
    job_id: str
    backend: int  # its PostgreSQL backend's pid


@dataclass(frozen=True)
class Caught:
    """A revoke sent while a release that had re-read its grant was held at the brake."""

    job_id: str
    revoke_waited: bool  # for that release's commit


def _held_release(brake: Connection) -> HeldRelease | None:
    """The release waiting at the brake (it has re-read its grants), once one does; None when
    none came within ``BRAKE_WAIT_S``."""
    deadline = time.monotonic() + BRAKE_WAIT_S
    while time.monotonic() < deadline:
        backend = brake.execute(
            text("SELECT pid FROM pg_locks WHERE relation = 'licence'::regclass AND NOT granted")
        ).scalar()
        if backend is not None:
            # One worker, so one job is releasing; its move to released is not committed.
            job_id = brake.execute(
                text("SELECT id FROM generation_job WHERE state = 'checking_output'")
            ).scalar()
            return HeldRelease(job_id=str(job_id), backend=backend) if job_id else None
        time.sleep(0.005)
    return None


def _waits_for(brake: Connection, *, release: HeldRelease, revoking: threading.Thread) -> bool:
    """Whether the revoke came to wait for the held release (True), rather than returning
    while the release was held (False)."""
    deadline = time.monotonic() + REVOKE_RETURN_S
    while revoking.is_alive() and time.monotonic() < deadline:
        if brake.execute(_BLOCKED_BY, {"release": release.backend}).first():
            return True
        time.sleep(0.005)
    return False


# Backends waiting for a lock the release holds, read from pg_locks: pg_stat_activity would
# not do, for within a transaction (the brake's) PostgreSQL answers it from a snapshot taken
# at its first read there, which lacks every backend started since, such as one the server
# opens for the revoke.
_BLOCKED_BY = text(
    "SELECT 1 FROM pg_locks WHERE NOT granted AND :release = ANY(pg_blocking_pids(pid))"
)


def _licences(connection: Connection, grant_id: str) -> set[str]:
    rows = connection.execute(
        text("SELECT id FROM licence WHERE grant_id = :grant"), {"grant": uuid.UUID(grant_id)}
    )
    return {str(row.id) for row in rows}


@pytest.fixture
def generating(settings):
    """The server runs the jobs: its worker on, looking for work often."""
    return settings.model_copy(update={"generation_worker": True, "generation_poll_seconds": 0.1})


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_after_a_revoke_returns_no_release_uses_its_grant_and_nothing_cancelled_is_charged(
    generating, tmp_path
):
    rng = random.Random(SEED)
    engine = build_engine(generating.resolved_database_url)
    with (
        clearhouse_serve(generating, log=tmp_path / "serve.log") as served,
        httpx.Client(base_url=served, timeout=60) as http,
    ):
        characters = []
        for number in range(HOLDERS):
            holder = sign_up(http)
            for second in range(CHARACTERS_PER_HOLDER):
                handle = f"racer_{number}_{second}"
                # A name of its own: two holders' characters of one name would overlap.
                _, granted = granted_asset(
                    http, holder, handle=handle, policy=USD_POLICY, name=f"Racer {number} {second}"
                )
                characters.append(Character(handle, granted["grant"]["id"], holder))
        requester = sign_up(http, role="creator")
        with write_session(engine) as session:  # enough credits for every job (322 each)
            adjust_wallet(
                session,
                creator_id=requester.id,
                amount_minor=JOBS * 400,
                currency="USD",
                operator_key=f"race-credits-{requester.id}",
                reason="credits for the race's generations",
                now=utcnow(),
            )
        casts = {}
        for number in range(JOBS):
            cast = rng.sample(characters, CAST)
            body = ask(http, requester, cameos=[f"@{c.handle}" for c in cast], seed=number)
            assert body["clearance"]["outcome"] == "cleared", body
            casts[body["generation"]["id"]] = cast

        # Jobs in flight: the worker has its pipeline loaded and has released the first.
        assert wait_until_final(engine, next(iter(casts))).state == JobState.released
        race = Race(engine=engine, base_url=served, characters=characters, casts=casts)
        start = threading.Barrier(REVOCATIONS + 1)

        def revoker(number: int, own: random.Random, delay: float) -> None:
            start.wait()
            if number % 2 == 0:
                race.revoke_during_a_release(own, delay)
            else:
                race.revoke_at_random(own, delay)

        threads = [
            threading.Thread(
                target=revoker,
                args=(number, random.Random(rng.random()), rng.uniform(0, REVOKE_WITHIN_S)),
            )
            for number in range(REVOCATIONS)
        ]
        for thread in threads:
            thread.start()
        start.wait()
        for thread in threads:
            thread.join()
        jobs = {g: wait_until_final(engine, g).state for g in casts}

    with engine.connect() as connection:
        licences = connection.execute(text("SELECT id, generation_id, grant_id FROM licence")).all()
        charges = Counter(
            str(row.generation_id)
            for row in connection.execute(text("SELECT generation_id FROM charge"))
        )
    engine.dispose()

    assert race.answers == [200] * REVOCATIONS
    # No release that committed after a revoke returned used the revoked grant.
    for grant_id, seen in race.seen_on_return.items():
        late = {str(row.id) for row in licences if str(row.grant_id) == grant_id} - seen
        assert not late, f"released after the revoke of grant {grant_id} returned: {late}"
    licensed = Counter((str(row.generation_id), str(row.grant_id)) for row in licences)
    for generation_id, state in jobs.items():
        cast = {c.grant_id for c in casts[generation_id]}
        if state == JobState.cancelled:
            assert cast & race.revoked, "a job was cancelled though none of its grants was revoked"
            assert charges[generation_id] == 0, "a cancelled job was charged"
            assert not any(g == generation_id for g, _ in licensed), "a cancelled job licensed"
        else:
            assert state == JobState.released, (generation_id, state)
            # Released once: one charge, one licence for each grant it relied on.
            assert charges[generation_id] == 1
            assert {g: n for (j, g), n in licensed.items() if j == generation_id} == dict.fromkeys(
                cast, 1
            )
    # The run proved something: releases and cancellations both, and revokes that met a
    # release between its re-read and its commit, which went first (it had read the grant).
    states = Counter(jobs.values())
    assert states[JobState.released] and states[JobState.cancelled], states
    assert race.caught, "no revoke met a release in progress; the run proved little"
    for grant_id, caught in race.caught.items():
        assert caught.revoke_waited, "a revoke did not wait for a release that read its grant"
        assert jobs[caught.job_id] == JobState.released
        assert licensed[(caught.job_id, grant_id)] == 1
