"""Revocation is immediate: once the revoke call has returned, nobody reads the grant as active.

Runs on both backends; on PostgreSQL the readers and the revoker are truly concurrent
connections (READ COMMITTED), which is the case the platform must get right at scale.
"""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from factories import grant, granted_asset
from sqlmodel import Session

from rights.models import GrantStatus
from rights.repository import grant_status

READERS = 4
ROUNDS = 5


def _read_until(engine, grant_id: uuid.UUID, stop: threading.Event, reads: list) -> None:
    while not stop.is_set():
        started = time.monotonic()
        with Session(engine) as session:
            status = grant_status(session, grant_id)
        reads.append((started, status))


def test_no_read_that_starts_after_the_revoke_returns_sees_the_grant_active(client, holder, engine):
    asset, _ = granted_asset(client, holder)
    for _ in range(ROUNDS):
        grant_id = uuid.UUID(grant(client, holder, asset["id"])["grant"]["id"])
        stop, reads = threading.Event(), []
        threads = [
            threading.Thread(target=_read_until, args=(engine, grant_id, stop, reads))
            for _ in range(READERS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        response = client.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
        returned = time.monotonic()
        time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join()

        assert response.status_code == 200
        after = [status for started, status in reads if started >= returned]
        before = [status for started, status in reads if started < returned]
        assert after, "no read started after the revoke returned; the test proved nothing"
        assert GrantStatus.active in before, "no read saw the grant active before the revoke"
        assert set(after) == {GrantStatus.revoked}


def test_concurrent_revokes_of_one_grant_succeed_once(client, holder):
    _, created = granted_asset(client, holder)
    url = f"/v1/grants/{created['grant']['id']}/revoke"
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(lambda _: client.post(url, headers=holder.headers, json={}), range(4))
        )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    audit = client.get(
        f"/v1/assets/{created['grant']['asset_id']}/audit", headers=holder.headers
    ).json()
    assert [e["action"] for e in audit["items"]].count("grant.revoked") == 1
