"""Two holders register one character at the same moment, against a live `clearhouse serve`
on both databases: one of the two is active and the other is held in an overlap case, never
both active."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from claiming import cases_opened_by
from factories import sign_up
from live_server import clearhouse_serve

HOLDERS = 4
COMET = {"kind": "character", "name": "Captain Comet", "aliases": ["The Comet Captain"]}


def test_registrations_of_one_name_at_the_same_moment_leave_one_active(settings, tmp_path):
    with (
        clearhouse_serve(settings, log=tmp_path / "serve.log") as served,
        httpx.Client(base_url=served, timeout=120) as http,
    ):
        holders = [sign_up(http) for _ in range(HOLDERS)]
        start = threading.Barrier(HOLDERS)

        def register(n: int) -> httpx.Response:
            with httpx.Client(base_url=served, timeout=120) as client:
                start.wait()
                return client.post(
                    "/v1/assets",
                    headers=holders[n].headers,
                    json={**COMET, "handle": f"comet_{n}"},
                )

        with ThreadPoolExecutor(max_workers=HOLDERS) as pool:
            answers = list(pool.map(register, range(HOLDERS)))

        assert [answer.status_code for answer in answers] == [201] * HOLDERS
        standings = sorted(answer.json()["standing"] for answer in answers)
        assert standings == ["active"] + ["in_review"] * (HOLDERS - 1), standings
        opened = cases_opened_by(http, holders)
        assert len(opened) == HOLDERS - 1
