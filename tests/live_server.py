"""A real `clearhouse serve` (uvicorn) in a process of its own, for races and load.

Races run against it rather than through TestClient: TestClient returns only after the app's
teardown and runs one request at a time per client, so it cannot show what a client that got
an answer sees next, nor what two requests at the same moment do.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.server import live_server
from clearhouse.settings import Settings

# Settings that pass to the server unchanged, as CLEARHOUSE_* variables.
_PASSED = (
    "password_hash_time_cost",
    "password_hash_memory_kib",
    "liveness_required",
    "scan_sample_fps",
    "scan_max_video_seconds",
)


@contextmanager
def clearhouse_serve(settings: Settings, *, log: Path) -> Iterator[str]:
    """Start `clearhouse serve` on ``settings``' database (already migrated); yield its URL."""
    passed = {f"CLEARHOUSE_{name.upper()}": str(getattr(settings, name)) for name in _PASSED}
    with live_server(
        data_dir=settings.data_dir,
        database_url=settings.resolved_database_url,
        settings={**passed, "CLEARHOUSE_MIGRATE_ON_START": "false"},
        log_path=log,
    ) as server:
        yield server.base_url
