"""A real `clearhouse serve` (uvicorn) in a process of its own, for races and load.

Races run against it rather than through TestClient: TestClient returns only after the app's
teardown and runs one request at a time per client, so it cannot show what a client that got
an answer sees next, nor what two requests at the same moment do.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from mailbox import register_server
from pathlib import Path

import httpx
import uvicorn

from bench.server import LiveServer, live_server
from clearhouse.app import create_app
from clearhouse.settings import Settings

# The test's settings the server must share, by the variable that carries each.
_PASSED = {
    "CLEARHOUSE_LIKENESS_KEY_STORE": "likeness_key_store_path",
    "CLEARHOUSE_PASSWORD_HASH_TIME_COST": "password_hash_time_cost",
    "CLEARHOUSE_PASSWORD_HASH_MEMORY_KIB": "password_hash_memory_kib",
    "CLEARHOUSE_LIVENESS_REQUIRED": "liveness_required",
    "CLEARHOUSE_SCAN_SAMPLE_FPS": "scan_sample_fps",
    "CLEARHOUSE_SCAN_MAX_VIDEO_SECONDS": "scan_max_video_seconds",
    "CLEARHOUSE_MAIL_LIMIT_PER_ADDRESS": "mail_limit_per_address",
    "CLEARHOUSE_REQUEST_THREADS": "request_threads",
    "CLEARHOUSE_REFERENCE_IMAGES_PER_ASSET": "reference_images_per_asset",
    "CLEARHOUSE_MEDIA_CONCURRENCY": "media_concurrency",
    "CLEARHOUSE_GENERATION_WORKER": "generation_worker",
    "CLEARHOUSE_GENERATOR_THREADS": "generator_threads",
    "CLEARHOUSE_GENERATION_LEASE_SECONDS": "generation_lease_seconds",
    "CLEARHOUSE_GENERATION_MAX_ATTEMPTS": "generation_max_attempts",
    "CLEARHOUSE_GENERATION_POLL_SECONDS": "generation_poll_seconds",
    "CLEARHOUSE_LOG_FORMAT": "log_format",
    "CLEARHOUSE_RAY_ADDRESS": "ray_address",
    "CLEARHOUSE_RAY_GENERATION_ACTORS": "ray_generation_actors",
    "CLEARHOUSE_RAY_SCAN_ACTORS": "ray_scan_actors",
    "CLEARHOUSE_RAY_SCAN_BATCH": "ray_scan_batch",
}


@contextmanager
def clearhouse_server(
    settings: Settings, *, log: Path, workers: int = 1, environment: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Start `clearhouse serve` (with ``workers`` processes, and more ``CLEARHOUSE_*``
    ``environment``) on ``settings``' database (already migrated); yield it (its URL and its
    process id)."""
    passed = {
        variable: str(getattr(settings, name))
        for variable, name in _PASSED.items()
        if getattr(settings, name) is not None  # unset: the server's default too
    }
    with live_server(
        data_dir=settings.data_dir,
        database_url=settings.resolved_database_url,
        workers=workers,
        settings={**passed, **(environment or {}), "CLEARHOUSE_MIGRATE_ON_START": "false"},
        log_path=log,
    ) as server:
        register_server(server.base_url, settings.resolved_database_url)
        yield server


@contextmanager
def clearhouse_serve(settings: Settings, *, log: Path) -> Iterator[str]:
    """Start `clearhouse serve` on ``settings``' database (already migrated); yield its URL."""
    with clearhouse_server(settings, log=log) as server:
        yield server.base_url


@contextmanager
def uvicorn_in_thread(settings: Settings) -> Iterator[str]:
    """The app on a real uvicorn server in this process, on a free port; yields its URL.

    For tests that need real HTTP (schemathesis, bodies over a socket) but no second process.
    """
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    register_server(f"http://127.0.0.1:{port}", settings.resolved_database_url)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def posted_at_once(base_url: str, path: str, *, times: int, **request) -> list[httpx.Response]:
    """POST ``path`` ``times`` times at the same moment, from as many threads (each with a
    client of its own), released together by a barrier; the answers."""
    barrier = threading.Barrier(times)
    answers = []

    def post() -> None:
        with httpx.Client(base_url=base_url, timeout=120) as own:
            barrier.wait()
            answers.append(own.post(path, **request))

    workers = [threading.Thread(target=post) for _ in range(times)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers
