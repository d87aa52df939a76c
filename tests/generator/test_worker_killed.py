"""A `clearhouse serve` killed (SIGKILL) while its worker generates, on both databases: the
next server on the same database finds the job silent past its lease and runs it again,
releasing it once, or fails it, saying why, when it has had all its attempts. Never released
twice, never charged twice."""

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from factories import granted_asset, sign_up
from generating import USD_POLICY, charges_and_licences, job, queued, wait_until_final
from live_server import clearhouse_server

from clearhouse.db import build_engine
from generator.models import JobState

# Four frames of 64x64 and thirty denoising steps: a second or more of steps to be caught in.
SLOW = {"duration_ms": 500, "fps": 8, "width": 64, "height": 64, "steps": 30}
LEASE_S = 1.0


@pytest.mark.parametrize(
    ("max_attempts", "ends_as"), [(3, JobState.released), (1, JobState.failed)]
)
def test_a_job_whose_server_was_killed_mid_generation_is_retried_or_failed_never_twice_released(
    settings, tmp_path, max_attempts, ends_as
):
    serving = settings.model_copy(
        update={
            "generation_worker": True,
            "generation_poll_seconds": 0.1,
            "generation_lease_seconds": LEASE_S,
            "generation_max_attempts": max_attempts,
        }
    )
    with (
        clearhouse_server(serving, log=tmp_path / "killed.log") as killed,
        httpx.Client(base_url=killed.base_url, timeout=60) as http,
    ):
        holder, requester = sign_up(http), sign_up(http, role="creator")
        granted_asset(http, holder, handle="nova_knight", policy=USD_POLICY)
        generation_id = queued(http, requester, cameos=["@nova_knight"], **SLOW)
        url = f"/v1/generations/{generation_id}"
        _wait_for_steps(http, url, headers=requester.headers)
        os.kill(killed.pid, signal.SIGKILL)
        _wait_until_dead(killed.pid)

    engine = build_engine(serving.resolved_database_url)
    killed_in = job(engine, generation_id)
    assert (killed_in.state, killed_in.attempts) == (JobState.generating, 1)
    assert 0 < killed_in.steps_done < killed_in.steps_total

    with (
        clearhouse_server(serving, log=tmp_path / "restarted.log") as restarted,
        httpx.Client(base_url=restarted.base_url, timeout=60) as http,
    ):
        final = wait_until_final(engine, generation_id)
        read = http.get(url, headers=requester.headers).json()
        video = http.get(f"{url}/video", headers=requester.headers)
    clips = sorted(path.name for path in serving.generations_dir.glob(f"{generation_id}*"))
    counted = charges_and_licences(engine, generation_id)
    engine.dispose()

    assert final.state == ends_as
    if ends_as == JobState.released:
        assert read["attempts"] == 2
        assert [licence["handle"] for licence in read["licences"]] == ["nova_knight"]
        assert counted == (1, 1)
        assert video.status_code == 200
        assert clips == [f"{generation_id}-2.mp4"]
    else:
        assert read["attempts"] == 1
        assert "tried once (its worker stopped responding)" in read["reasons"][0]
        assert read["charge"] is None and read["licences"] == []
        assert counted == (0, 0)
        assert video.status_code == 409
        assert clips == []


def _wait_for_steps(http: httpx.Client, url: str, *, headers: dict) -> None:
    """Until the generation's progress shows steps done."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        read = http.get(url, headers=headers).json()
        assert read["state"] in ("queued", "generating"), read
        if read["progress"]["steps_done"] > 0:
            return
        time.sleep(0.02)
    raise AssertionError("the generation made no progress")


def _wait_until_dead(pid: int) -> None:
    """Until the killed process has exited (a zombie left for its parent to reap)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 30
    while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed server is still running"
        time.sleep(0.01)
