"""Requests that all wait for one lock never stall a server: its request threads (4) are lent
more while every one of them waits, so the lock's holder gets the thread it needs to answer.

Without the loan, 12 organisations created at once on SQLite waited 30 s for the write turn and
9 failed (500), and 12 deletions at once of one account hung a PostgreSQL server for good.
Against a live `clearhouse serve` on both databases, released together by a barrier."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from anyio import to_thread
from factories import PASSWORD, create_asset, sign_up

from clearhouse import request_threads
from clearhouse.request_threads import StallWatch

CALLERS = 12  # three times the default request threads
# Far under SQLite's 30 s wait for the write turn and without end on PostgreSQL: a stalled
# server answers no one in this time.
ANSWER_WITHIN_S = 20


def _together(served: str, call, callers: int = CALLERS) -> list:
    start = threading.Barrier(callers)

    def one(index: int):
        with httpx.Client(base_url=served, timeout=ANSWER_WITHIN_S) as http:
            start.wait()
            try:
                return call(http, index).status_code
            except httpx.TimeoutException:
                return "no answer"

    with ThreadPoolExecutor(max_workers=callers) as pool:
        return list(pool.map(one, range(callers)))


def test_organisations_created_at_once_are_all_created(served):
    with httpx.Client(base_url=served, timeout=30) as http:
        founders = [sign_up(http) for _ in range(CALLERS)]

    statuses = _together(
        served,
        lambda http, index: http.post(
            "/v1/organisations", headers=founders[index].headers, json={"name": f"Studio {index}"}
        ),
    )

    assert statuses == [201] * CALLERS, statuses


def test_one_account_deleted_at_once_by_many_requests_answers_them_all(served):
    with httpx.Client(base_url=served, timeout=30) as http:
        holder = sign_up(http)

    statuses = _together(
        served,
        lambda http, _: http.post(
            "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
        ),
    )

    assert sorted(statuses, key=str) == [200] + [401] * (CALLERS - 1), statuses


# More than the most threads once lent (the pool's 40 connections) and the 10 of their own.
BURST = 60


def test_more_changes_to_one_asset_at_once_than_threads_ever_lent_are_all_made(served):
    # Each change waits for the write turn (SQLite) or the catalogue's lock (PostgreSQL) with
    # a pooled connection; those that find none wait for one. Once lent at most 40 threads, 50
    # waited while the lock's holder queued for its next step: 30 s, then 503 or no answer.
    with httpx.Client(base_url=served, timeout=30) as http:
        owner = sign_up(http)
        asset = create_asset(http, owner)

    statuses = _together(
        served,
        lambda http, index: http.patch(
            f"/v1/assets/{asset['id']}",
            headers=owner.headers,
            json={"description": f"take {index}"},
        ),
        callers=BURST,
    )

    assert statuses == [200] * BURST, statuses


def _stall(*, threads: int, waiting: int = 0, cpu_ns=None, monkeypatch=None) -> tuple[bool, float]:
    """``threads`` hand-offs, and ``waiting`` more in line, that wait for an event only one
    more hand-off, last in line, sets, under a watch: whether that one ran, and the most threads
    the pool had meanwhile."""
    if cpu_ns is not None:
        monkeypatch.setattr(request_threads, "_pool_cpu_ns", cpu_ns)

    async def run() -> tuple[bool, float]:
        watch = StallWatch(threads=threads)
        watch.start()
        limiter = to_thread.current_default_thread_limiter()
        released = threading.Event()
        waiters = [
            asyncio.ensure_future(to_thread.run_sync(released.wait, 10))
            for _ in range(threads + waiting)
        ]
        releaser = asyncio.ensure_future(to_thread.run_sync(released.set))
        most = limiter.total_tokens
        for _ in range(50):  # a second
            await asyncio.sleep(request_threads.TICK_S)
            most = max(most, limiter.total_tokens)
            if releaser.done():
                break
        ran = releaser.done()
        released.set()
        await asyncio.gather(*waiters, releaser)
        await watch.close()
        return ran, most

    return asyncio.run(run())


def test_threads_that_all_wait_are_lent_one_that_frees_them():
    ran, most = _stall(threads=2)
    assert ran
    assert most == 3


def test_threads_are_lent_until_the_last_in_line_runs_and_no_more():
    # The lock's holder may be last in line: every task before it takes a thread, and waits.
    ran, most = _stall(threads=2, waiting=20)
    assert ran
    assert most == 2 + 20 + 1


def test_threads_that_work_are_not_lent_more(monkeypatch):
    # The pool's threads on the processor the whole time: they are working, not stalled.
    clock = iter(range(0, 10**12, 10**9))
    ran, most = _stall(threads=2, cpu_ns=lambda: next(clock), monkeypatch=monkeypatch)
    assert not ran
    assert most == 2


def test_threads_whose_time_on_the_processor_is_unknown_are_taken_as_waiting(monkeypatch):
    # No schedstat (another kernel), or a thread that ended between two readings.
    ran, most = _stall(threads=2, cpu_ns=lambda: None, monkeypatch=monkeypatch)
    assert ran
    assert most == 3


@pytest.mark.parametrize("threads", [1, 3])
def test_the_loan_is_taken_back_once_threads_stand_idle(threads):
    async def run() -> float:
        watch = StallWatch(threads=threads)
        watch.start()
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens += 2  # as if lent during a stall that has ended
        for _ in range(10):
            await asyncio.sleep(request_threads.TICK_S)
        await watch.close()
        return limiter.total_tokens

    assert asyncio.run(run()) == threads
