"""Allowed output checks of one third-party clearance at the same moment, against a live
`clearhouse serve` on both databases: the clearance's row lock makes them run one after the
other, so the use is licensed, charged and posted to the ledger exactly once, and exactly one
answer says what it charged."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from claiming import verified
from factories import granted_asset
from generating import USD_POLICY
from live_server import clearhouse_serve
from sqlmodel import Session, select
from third_party import OUTPUT, charges_and_licences, third_party_clearance

from clearhouse.db import snapshot_session
from payouts.balances import check_ledger
from payouts.models import JournalEntry

pytestmark = pytest.mark.still_photos

CHECKS = 4


def test_allowed_checks_at_the_same_moment_post_the_charge_once(
    client, engine, session, settings, holder, requester, tmp_path
):
    asset, _ = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    verified(client, session, holder, asset["id"])
    clearance = third_party_clearance(client, requester)
    start = threading.Barrier(CHECKS)
    # A media worker for each check, so that none is refused as busy (503).
    served_settings = settings.model_copy(update={"media_concurrency": CHECKS})

    with clearhouse_serve(served_settings, log=tmp_path / "serve.log") as served:

        def check(_: int) -> httpx.Response:
            with httpx.Client(base_url=served, timeout=120) as http:
                start.wait()
                return http.post(
                    f"/v1/clearances/{clearance['id']}/output-check",
                    headers=requester.headers,
                    files=[("files", ("frame.png", OUTPUT, "image/png"))],
                )

        with ThreadPoolExecutor(max_workers=CHECKS) as pool:
            answers = list(pool.map(check, range(CHECKS)))

    assert [answer.status_code for answer in answers] == [200] * CHECKS, [
        answer.text for answer in answers
    ]
    assert {answer.json()["verdict"] for answer in answers} == {"release_allowed"}
    charged = [answer.json()["charged"] for answer in answers if answer.json()["charged"]]
    assert charged == [{"amount_minor": clearance["quote"]["total_minor"], "currency": "USD"}]
    with Session(engine) as fresh:
        posted = fresh.exec(
            select(JournalEntry).where(JournalEntry.clearance_id == uuid.UUID(clearance["id"]))
        ).all()
    assert len(posted) == 1
    assert charges_and_licences(engine, clearance["id"]) == (1, 1)
    with snapshot_session(engine) as snapshot:
        report = check_ledger(snapshot)
    assert report.ok, report
