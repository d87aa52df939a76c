"""The files of a job's attempts: one that stopped after writing its clip leaves it behind;
the job's next attempt removes it, and a job that ends otherwise than released leaves none."""

import uuid
from datetime import timedelta

from generating import generator_runtime, queued, wait_until_final

import generator.tasks
from clearhouse.db import utcnow
from generator.jobs import recover_abandoned, take_job
from generator.models import JobState
from generator.tasks import run_job
from generator.worker import GenerationWorker


def _files(settings, generation_id: str) -> list[str]:
    return sorted(path.name for path in settings.generations_dir.glob(f"{generation_id}*"))


def _release_failing_once(monkeypatch) -> None:
    """The release's transaction fails once (the database went away, say), after the clip
    was signed into its file."""
    release, calls = generator.tasks.release, []

    def failing_once(session, **values):
        calls.append(values)
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        return release(session, **values)

    monkeypatch.setattr(generator.tasks, "release", failing_once)


def test_the_next_attempt_removes_the_clip_an_attempt_left_when_it_stopped(
    client, settings, requester, clip_pipeline, monkeypatch
):
    generation_id = queued(client, requester)
    runtime = generator_runtime(client, clip_pipeline)
    _release_failing_once(monkeypatch)

    assert run_job(uuid.UUID(generation_id), runtime=runtime) == JobState.queued
    assert _files(settings, generation_id) == [f"{generation_id}-1.mp4"]

    assert run_job(uuid.UUID(generation_id), runtime=runtime) == JobState.released
    assert _files(settings, generation_id) == [f"{generation_id}-2.mp4"]


def test_a_job_whose_last_attempt_stopped_after_signing_leaves_no_file(
    client, settings, requester, clip_pipeline, monkeypatch
):
    generation_id = queued(client, requester)
    runtime = generator_runtime(client, clip_pipeline, generation_max_attempts=1)
    _release_failing_once(monkeypatch)

    assert run_job(uuid.UUID(generation_id), runtime=runtime) == JobState.failed
    assert _files(settings, generation_id) == []


def _crashed_attempt(engine, settings, generation_id: str) -> None:
    """Attempt 1 of the job, taken an hour ago by a worker that was killed mid-write."""
    take_job(engine, job_id=uuid.UUID(generation_id), now=utcnow() - timedelta(hours=1))
    settings.generations_dir.mkdir(parents=True, exist_ok=True)
    for name in (f"{generation_id}-1.unsigned.mp4", f"{generation_id}-1.mp4"):
        (settings.generations_dir / name).write_bytes(b"\x00\x00\x00\x18ftypisom")


def test_a_crashed_attempt_leaves_nothing_once_its_job_is_retried(
    client, engine, settings, requester, clip_pipeline
):
    generation_id = queued(client, requester)
    _crashed_attempt(engine, settings, generation_id)
    recover_abandoned(engine, now=utcnow(), lease_seconds=60, max_attempts=3)

    state = run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline))

    assert state == JobState.released
    assert _files(settings, generation_id) == [f"{generation_id}-2.mp4"]


def test_a_job_failed_for_its_silent_worker_leaves_no_file(
    client, engine, settings, requester, clip_pipeline
):
    generation_id = queued(client, requester)
    _crashed_attempt(engine, settings, generation_id)

    worker = GenerationWorker(
        runtime=generator_runtime(
            client, clip_pipeline, generation_poll_seconds=0.05, generation_max_attempts=1
        )
    )
    try:
        failed = wait_until_final(engine, generation_id)
    finally:
        worker.close()

    assert failed.state == JobState.failed
    assert _files(settings, generation_id) == []
