"""Two acceptances of one licence offer at the same moment, against a live `clearhouse serve`
on both databases: the held output is released once, charged once and posted to the ledger
once, and both callers read the offer accepted."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from claiming import verified
from generating import charges_and_licences
from live_server import clearhouse_serve
from offering import blocked_generation, offer
from sqlmodel import Session, func, select

from clearhouse.db import snapshot_session
from payouts.balances import check_ledger
from payouts.models import JournalEntry

ACCEPTS = 4


def test_acceptances_at_the_same_moment_release_and_post_once(
    client, engine, session, settings, holder, requester, clip_pipeline, tmp_path
):
    blocked = blocked_generation(client, holder, requester, clip_pipeline)
    verified(client, session, holder, blocked["character"]["id"])
    offered = offer(client, holder, blocked["use"]).json()
    start = threading.Barrier(ACCEPTS)

    with clearhouse_serve(settings, log=tmp_path / "serve.log") as served:

        def accept(_: int) -> httpx.Response:
            with httpx.Client(base_url=served, timeout=120) as http:
                start.wait()
                return http.post(
                    f"/v1/licence-offers/{offered['id']}/accept", headers=requester.headers
                )

        with ThreadPoolExecutor(max_workers=ACCEPTS) as pool:
            answers = list(pool.map(accept, range(ACCEPTS)))

    assert [answer.status_code for answer in answers] == [200] * ACCEPTS, [
        answer.text for answer in answers
    ]
    assert {(a.json()["state"], a.json()["generation_state"]) for a in answers} == {
        ("accepted", "released")
    }
    generation_id = uuid.UUID(blocked["generation_id"])
    with Session(engine) as fresh:
        posted = fresh.exec(
            select(func.count()).where(JournalEntry.generation_id == generation_id)
        ).one()
    assert posted == 1
    assert charges_and_licences(engine, generation_id) == (1, 1)
    # Each try signed a file of its own; only the released one is left.
    clips = sorted(p.name for p in settings.generations_dir.glob(f"{generation_id}*"))
    assert len(clips) == 1 and clips[0].endswith(".mp4") and ".held." not in clips[0], clips
    with snapshot_session(engine) as snapshot:
        report = check_ledger(snapshot)
    assert report.ok, report
