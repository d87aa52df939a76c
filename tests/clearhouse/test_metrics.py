"""/metrics: admins only; request counts by route template and status, a clearance's stages,
the generation jobs by state, webhook attempts; the request id a caller sends comes back."""

import os
import signal
import uuid

import pytest
from clearing import clear
from enrolling import photo
from factories import promote, sign_up
from generating import queued
from metrics_scraping import requests_counted, scraped, value

from likeness.errors import MediaWorkerLost

pytestmark = pytest.mark.still_photos


@pytest.fixture
def admin(client, session):
    return promote(session, sign_up(client), "admin")


def test_metrics_are_refused_to_anyone_but_an_admin(client, session, admin):
    assert client.get("/metrics").status_code == 401
    for role in ("holder", "creator"):
        assert client.get("/metrics", headers=sign_up(client, role=role).headers).status_code == 403
    moderator = promote(session, sign_up(client), "moderator")
    assert client.get("/metrics", headers=moderator.headers).status_code == 403
    answer = client.get("/metrics", headers=admin.headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")


def test_requests_are_counted_by_route_template_and_status_never_by_raw_path(client, admin):
    route = "/v1/assets/{asset_id}"
    before = scraped(client, admin.headers)
    asked = [str(uuid.uuid4()) for _ in range(3)]
    for asset_id in asked:
        assert client.get(f"/v1/assets/{asset_id}", headers=admin.headers).status_code == 404
    client.get("/no/such/page")
    after = scraped(client, admin.headers)

    counted = requests_counted(after, method="GET", route=route, status=404)
    assert counted - requests_counted(before, method="GET", route=route, status=404) == 3
    assert requests_counted(after, method="GET", route="<unmatched>", status=404) >= 1
    labels = {label for _, labels in after for label in labels}
    assert not any(asset_id in str(label) for asset_id in asked for label in labels)
    assert not any("/no/such/page" in str(label) for label in labels)


def test_a_clearance_with_media_times_each_of_its_stages(client, admin):
    stages = ("text_match", "face_scan", "evaluation", "signing")
    name = "clearhouse_clearance_stage_seconds_count"
    before = scraped(client, admin.headers)
    requester = sign_up(client, role="creator")
    answer = clear(client, requester, "a person walking on a beach", [photo("obama2.jpg")])
    assert answer.status_code == 201 and answer.json()["outcome"] == "cleared", answer.text
    after = scraped(client, admin.headers)
    assert {
        stage: value(after, name, stage=stage) - value(before, name, stage=stage)
        for stage in stages
    } == dict.fromkeys(stages, 1)


def test_generation_jobs_are_reported_by_state_from_the_database(client, admin):
    requester = sign_up(client, role="creator")
    for prompt in ("waves on a quiet beach", "a lighthouse at dusk"):
        queued(client, requester, prompt)
    scrape = scraped(client, admin.headers)
    assert value(scrape, "clearhouse_generation_jobs", state="queued") == 2
    assert value(scrape, "clearhouse_generation_jobs", state="released") == 0
    assert value(scrape, "clearhouse_generation_queue_depth") == 2


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("trace-0001-abcdef", True), ("short", False), ("has spaces in it", False), (None, False)],
)
def test_the_request_id_is_the_callers_when_well_formed_and_always_answered(client, sent, kept):
    headers = {"X-Request-ID": sent} if sent is not None else {}
    answered = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    if kept:
        assert answered == sent
    else:
        assert answered != sent and len(answered) == 32
        assert client.get("/healthz", headers=headers).headers["X-Request-ID"] != answered


def test_a_media_worker_that_died_is_counted_when_its_pool_is_replaced(client, admin):
    name = "clearhouse_media_worker_restarts_total"
    before = value(scraped(client, admin.headers), name)
    media = client.app.state.likeness
    worker = media.run_media_work(os.getpid)
    os.kill(worker, signal.SIGKILL)
    # Work sent before the pool has seen the death is lost with it; then a new pool runs it.
    answered = None
    for _ in range(20):
        try:
            answered = media.run_media_work(os.getpid)
            if answered != worker:
                break
        except MediaWorkerLost:
            continue
    assert answered not in (None, worker)
    assert value(scraped(client, admin.headers), name) - before == 1
