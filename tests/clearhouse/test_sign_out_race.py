"""Signing out of one token from several requests at the same moment, against a live
`clearhouse serve` on both databases: each answers 204 or 401, never a 500, and the token
is ended."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from factories import sign_up

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
