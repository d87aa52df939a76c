"""Revocation is immediate, tried against a live `clearhouse serve` on both databases.

Readers and revokers are separate HTTP clients released together by a barrier: once a revoke
call has returned, no read that starts after it sees the grant active, and of several revokes
of one grant at the same moment exactly one succeeds.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from factories import grant, granted_asset, sign_up

READERS = 4
ROUNDS = 8
REVOKERS = 4


def test_no_read_that_starts_after_the_revoke_returns_sees_the_grant_active(served):
    http = httpx.Client(base_url=served, timeout=30)
    holder = sign_up(http)
    asset, _ = granted_asset(http, holder)
    for _ in range(ROUNDS):
        grant_id = grant(http, holder, asset["id"])["grant"]["id"]
        start, stop, reads = threading.Barrier(READERS + 1), threading.Event(), []

        def read_until_stopped(grant_id=grant_id, start=start, stop=stop, reads=reads):
            with httpx.Client(base_url=served, timeout=30) as reader:
                start.wait()
                while not stop.is_set():
                    started = time.monotonic()
                    answer = reader.get(f"/v1/grants/{grant_id}", headers=holder.headers)
                    reads.append((started, answer.json()["state"]))

        threads = [threading.Thread(target=read_until_stopped) for _ in range(READERS)]
        for thread in threads:
            thread.start()
        start.wait()
        _wait_for(lambda reads=reads: any(state == "active" for _, state in reads))
        response = http.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
        returned = time.monotonic()
        _wait_for(
            lambda reads=reads, returned=returned: sum(s >= returned for s, _ in reads) >= READERS
        )
        stop.set()
        for thread in threads:
            thread.join()

        assert response.status_code == 200, response.text
        before = [state for started, state in reads if started < returned]
        after = [state for started, state in reads if started >= returned]
        assert "active" in before, "no read saw the grant active before the revoke"
        assert after, "no read started after the revoke returned; the test proved nothing"
        assert set(after) == {"revoked"}
    http.close()


def _wait_for(condition, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_concurrent_revokes_of_one_grant_succeed_once(served):
    with httpx.Client(base_url=served, timeout=30) as http:
        holder = sign_up(http)
        _, created = granted_asset(http, holder)
    url = f"/v1/grants/{created['grant']['id']}/revoke"
    start = threading.Barrier(REVOKERS)

    def revoke(_: int) -> httpx.Response:
        with httpx.Client(base_url=served, timeout=30) as revoker:
            start.wait()
            return revoker.post(url, headers=holder.headers, json={})

    with ThreadPoolExecutor(max_workers=REVOKERS) as pool:
        responses = list(pool.map(revoke, range(REVOKERS)))
    assert sorted(r.status_code for r in responses) == [200] + [409] * (REVOKERS - 1)
    with httpx.Client(base_url=served, timeout=30) as http:
        audit = http.get(
            f"/v1/assets/{created['grant']['asset_id']}/audit", headers=holder.headers
        ).json()
    assert [e["action"] for e in audit["items"]].count("grant.revoked") == 1
