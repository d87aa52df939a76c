"""How long each stage of clearing a request takes: the text match (names, descriptions,
content, restrictions reading), the face scan (decoding the media, finding faces and
pictures), the policy evaluation and the token's signing."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from prometheus_client import Histogram


class Stage(StrEnum):
    text_match = "text_match"
    face_scan = "face_scan"
    evaluation = "evaluation"
    signing = "signing"


STAGE_SECONDS = Histogram(
    "clearhouse_clearance_stage_seconds",
    "Time spent in each stage of a clearance.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@contextmanager
def timed(stage: Stage) -> Iterator[None]:
    """Observe the time the block takes as ``stage`` (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(stage.value).observe(time.perf_counter() - started)
