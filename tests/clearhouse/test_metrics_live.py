"""Metrics and logs of a real `clearhouse serve`: with two worker processes, one scrape
reports the requests both served; in JSON logs, a request's id is on its access line and on
the generation worker's lines about the job it queued."""

import itertools
import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import httpx
from conftest import REDIS_URL
from factories import granted_asset, sign_up
from generating import USD_POLICY, queued, wait_until_final
from live_server import clearhouse_server
from metrics_scraping import requests_counted, samples, scraped
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from bench.server import free_port, moderator_token
from clearhouse.db import build_engine
from generator.models import JobState


def _counted_by_each_process(metrics_dir: Path, scratch: Path) -> dict[str, float]:
    """GET /healthz requests counted in each process's file, by its pid (the file's name)."""
    counted = {}
    for file in metrics_dir.glob("histogram_*.db"):
        alone = scratch / file.stem
        alone.mkdir(parents=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        scrape = samples(generate_latest(registry).decode())
        counted[file.stem] = requests_counted(scrape, method="GET", route="/healthz", status=200)
    return counted


def _counted_once_settled(metrics_dir: Path, scratch: Path, sent: int) -> dict[str, float]:
    """The counts by process once all ``sent`` requests are in them: a request is observed
    after its answer has gone, so the last ones may land a moment after the client has read."""
    deadline = time.monotonic() + 10
    for attempt in itertools.count():
        counted = _counted_by_each_process(metrics_dir, scratch / str(attempt))
        if sum(counted.values()) >= sent or time.monotonic() > deadline:
            return counted
        time.sleep(0.05)


def _healthz_at_once(base_url: str, times: int) -> None:
    """``times`` GET /healthz at the same moment, each on a new connection."""
    barrier = threading.Barrier(times)

    def ask() -> None:
        barrier.wait()
        assert httpx.get(f"{base_url}/healthz", timeout=30).status_code == 200

    threads = [threading.Thread(target=ask) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _shared_limits(prefix: str) -> dict[str, str]:
    """Several worker processes count rate limits in Redis (serve refuses to start without)."""
    return {"CLEARHOUSE_REDIS_URL": REDIS_URL, "CLEARHOUSE_REDIS_KEY_PREFIX": prefix}


def test_one_scrape_counts_the_requests_of_both_worker_processes(settings, tmp_path, redis_prefix):
    with (
        clearhouse_server(
            settings,
            log=tmp_path / "two.log",
            workers=2,
            environment=_shared_limits(redis_prefix),
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        metrics_dir = settings.data_dir / "metrics" / str(server.pid)
        token = moderator_token(server, http, "admin@example.org", role="admin")
        admin = {"Authorization": f"Bearer {token}"}
        sent = 0
        # The kernel hands each new connection to one process: ask until both have answered.
        for round_ in range(20):
            _healthz_at_once(server.base_url, 8)
            sent += 8
            counted = _counted_once_settled(metrics_dir, tmp_path / f"round{round_}", sent)
            if sum(1 for n in counted.values() if n > 0) == 2:
                break
        scrape = scraped(http, admin)
    assert sorted(n > 0 for n in counted.values()) == [True, True], counted
    total = requests_counted(scrape, method="GET", route="/healthz", status=200)
    assert total == sum(counted.values()) == sent


def test_a_request_id_follows_its_request_into_the_json_log_and_its_generation_job(
    settings, tmp_path
):
    serving = settings.model_copy(
        update={
            "generation_worker": True,
            "generation_poll_seconds": 0.1,
            "log_format": "json",
        }
    )
    log = tmp_path / "json.log"
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    with (
        clearhouse_server(serving, log=log) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        holder, requester = sign_up(http), sign_up(http, role="creator")
        granted_asset(http, holder, handle="nova_knight", policy=USD_POLICY)
        http.headers["X-Request-ID"] = request_id
        generation_id = queued(http, requester, cameos=["@nova_knight"])
        answered = http.get("/healthz").headers["X-Request-ID"]
        engine = build_engine(serving.resolved_database_url)
        assert wait_until_final(engine, generation_id).state == JobState.released
        engine.dispose()
    # A progress bar written to stderr without a newline may precede a line.
    lines = [
        json.loads(line[line.index('{"time"') :])
        for line in log.read_text().splitlines()
        if '{"time"' in line
    ]
    assert answered == request_id
    ours = [line for line in lines if line["request_id"] == request_id]
    assert {
        (line["route"], line["status"]) for line in ours if line["logger"] == "clearhouse.access"
    } >= {("/v1/generations", 201), ("/healthz", 200)}
    worker_lines = [line["message"] for line in ours if line["logger"] == "generator.tasks"]
    assert f"generation job {generation_id}, attempt 1, started" in worker_lines
    assert f"generation job {generation_id}, attempt 1, ended: released" in worker_lines
    assert all(set(line) >= {"time", "level", "logger", "message", "request_id"} for line in lines)


def test_a_metrics_port_serves_every_process_on_localhost_without_credentials(
    settings, tmp_path, redis_prefix
):
    port = free_port()
    with (
        clearhouse_server(
            settings,
            log=tmp_path / "port.log",
            workers=2,
            environment={"CLEARHOUSE_METRICS_PORT": str(port), **_shared_limits(redis_prefix)},
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        _healthz_at_once(server.base_url, 8)
        on_port = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
        refused = http.get("/metrics")
    assert on_port.status_code == 200
    scrape = samples(on_port.text)
    assert requests_counted(scrape, method="GET", route="/healthz", status=200) >= 8
    assert ("clearhouse_generation_queue_depth", frozenset()) in scrape
    assert refused.status_code == 401  # the API's own /metrics still asks who is calling
