"""Work for media workers in tests. Work is pickled by name, so it lives in a module the
workers import (tests/ is on their path, as on the tests'), not in a test module."""

import os
import time
import uuid
from pathlib import Path


def hold(*, started: Path, release: Path) -> int:
    """Keep a media worker busy until ``release`` exists (30 s at most); the worker's pid.

    Each holder that starts leaves a file in the folder ``started``."""
    (started / uuid.uuid4().hex).touch()
    deadline = time.monotonic() + 30
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()
