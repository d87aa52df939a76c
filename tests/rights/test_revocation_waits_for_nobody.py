"""A revocation waits for nobody's work: not a long face scan, not audit chain walks.

Tried against a live `clearhouse serve` on both databases: while a moderator's scan of a
video and four checkpoint verifications run, the owner revokes; the revoke answers before
the scan ends, and the grant reads as revoked from then on.
"""

import io
import threading
import time

import httpx
import numpy as np
import pytest
from faces import FACES_DIR
from factories import granted_asset, promote, sign_up
from PIL import Image
from sqlmodel import Session

from clearhouse.db import build_engine

VERIFIERS = 4


def _long_video(*, seconds: int, fps: int = 2) -> bytes:
    """A video with a face in every frame: each sampled frame costs a detection."""
    import av

    picture = np.asarray(Image.open(FACES_DIR / "obama.jpg").convert("RGB").resize((640, 800)))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 800, "yuv420p"
        for _ in range(seconds * fps):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture
def settings(settings):
    """One thread for route handlers beyond those uploads hold: the scan waiting for its
    decode must not take the thread the revoke needs."""
    return settings.model_copy(update={"request_threads": 1})


def test_a_revoke_answers_while_a_long_scan_and_chain_walks_run(served, settings):
    with httpx.Client(base_url=served, timeout=120) as http:
        holder = sign_up(http)
        _, created = granted_asset(http, holder)
        moderator = sign_up(http)
        checkpoint = http.get("/v1/audit/checkpoint", headers=holder.headers).json()["token"]
    engine = build_engine(settings.resolved_database_url)
    with Session(engine) as session:
        promote(session, moderator, "moderator")
    engine.dispose()
    video = _long_video(seconds=10)
    spans: dict[str, tuple[float, float, int]] = {}

    def timed(name: str, call) -> None:
        with httpx.Client(base_url=served, timeout=120) as client:
            began = time.monotonic()
            status = call(client).status_code
            spans[name] = (began, time.monotonic(), status)

    work = [
        threading.Thread(
            target=timed,
            args=(
                "scan",
                lambda c: c.post(
                    "/v1/likeness/scan",
                    headers=moderator.headers,
                    files={"file": ("long.mp4", video, "video/mp4")},
                ),
            ),
        ),
        *(
            threading.Thread(
                target=timed,
                args=(
                    f"verify {n}",
                    lambda c: c.post(
                        "/v1/audit/checkpoint/verify",
                        headers=holder.headers,
                        json={"token": checkpoint},
                    ),
                ),
            )
            for n in range(VERIFIERS)
        ),
    ]
    for thread in work:
        thread.start()
    time.sleep(1.0)  # the scan is decoding and detecting by now
    timed(
        "revoke",
        lambda c: c.post(
            f"/v1/grants/{created['grant']['id']}/revoke", headers=holder.headers, json={}
        ),
    )
    with httpx.Client(base_url=served, timeout=30) as http:
        state = http.get(f"/v1/grants/{created['grant']['id']}", headers=holder.headers)
    for thread in work:
        thread.join()

    scan_began, scan_ended, scan_status = spans["scan"]
    revoke_began, revoke_ended, revoke_status = spans["revoke"]
    assert revoke_status == 200
    assert state.json()["state"] == "revoked"
    assert scan_status == 200 and {spans[f"verify {n}"][2] for n in range(VERIFIERS)} == {200}
    assert scan_began < revoke_began, "the scan did not start first; the test proved nothing"
    assert revoke_ended < scan_ended, (
        f"the revoke waited for the scan: it answered {revoke_ended - scan_ended:.1f} s "
        "after the scan ended"
    )
