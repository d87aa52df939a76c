"""The account's lifecycle under concurrency, against a live `clearhouse serve` on both
databases, requests released together by a barrier: several sign-outs of one token all end
it and none is a 500; several deletions of one account delete it once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from factories import PASSWORD, granted_asset, sign_up

CALLERS = 6


def test_concurrent_sign_outs_of_one_token_all_end_it(served):
    with httpx.Client(base_url=served, timeout=30) as http:
        holder = sign_up(http)
    start = threading.Barrier(CALLERS)

    def sign_out(_: int) -> int:
        with httpx.Client(base_url=served, timeout=30) as caller:
            start.wait()
            return caller.post("/v1/accounts/me/sign-out", headers=holder.headers).status_code

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        statuses = list(pool.map(sign_out, range(CALLERS)))
    assert set(statuses) <= {204, 401}, statuses
    assert 204 in statuses
    with httpx.Client(base_url=served, timeout=30) as http:
        assert http.get("/v1/accounts/me", headers=holder.headers).status_code == 401


def test_concurrent_deletions_of_one_account_delete_it_once(served):
    with httpx.Client(base_url=served, timeout=30) as http:
        holder = sign_up(http)
        _, created = granted_asset(http, holder)
    start = threading.Barrier(CALLERS)

    def delete(_: int) -> int:
        with httpx.Client(base_url=served, timeout=30) as caller:
            start.wait()
            return caller.post(
                "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
            ).status_code

    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        statuses = sorted(pool.map(delete, range(CALLERS)))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401}, statuses
    with httpx.Client(base_url=served, timeout=30) as http:
        verified = http.post("/v1/receipts/verify", json={"token": created["receipt"]["token"]})
    assert verified.json()["consent"]["state"] == "withdrawn"
