"""A real `clearhouse serve` (uvicorn) in a process of its own, for races and load.

Races run against it rather than through TestClient: TestClient returns only after the app's
teardown and runs one request at a time per client, so it cannot show what a client that got
an answer sees next, nor what two requests at the same moment do.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from clearhouse.settings import Settings

# Settings that pass to the server unchanged, as CLEARHOUSE_* variables.
_PASSED = (
    "data_dir",
    "password_hash_time_cost",
    "password_hash_memory_kib",
    "liveness_required",
    "scan_sample_fps",
    "scan_max_video_seconds",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def clearhouse_serve(settings: Settings, *, log: Path) -> Iterator[str]:
    """Start `clearhouse serve` on ``settings``' database (already migrated); yield its URL."""
    env = {
        **os.environ,
        "CLEARHOUSE_DATABASE_URL": settings.resolved_database_url,
        "CLEARHOUSE_MIGRATE_ON_START": "false",
    }
    for name in _PASSED:
        env[f"CLEARHOUSE_{name.upper()}"] = str(getattr(settings, name))
    port = _free_port()
    command = [sys.executable, "-m", "clearhouse", "serve", "--port", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"clearhouse serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"clearhouse serve did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
