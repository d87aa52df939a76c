"""What protects a generation job: its clearance token, the consents re-read at release, the
conditional moves of its state, and the retry of a job whose worker stopped."""

import io
import threading
import uuid
from datetime import timedelta

import numpy as np
import pytest
from factories import sign_up
from fastapi.testclient import TestClient
from generating import (
    RevokingAfterGenerating,
    charges_and_licences,
    generator_runtime,
    job,
    queued,
    wait_until_final,
)
from PIL import Image
from sqlmodel import Session

from clearhouse.app import create_app
from clearhouse.db import utcnow, write_session
from clearhouse.settings import Settings
from generator.jobs import move_job, record_progress, recover_abandoned, take_job
from generator.models import GenerationJob, JobState
from generator.release import ReleaseOutcome, release
from generator.tasks import output_samples, run_job
from generator.worker import GenerationWorker

LONG_AGO = timedelta(hours=1)


def _revoke(client, holder, grant_id):
    answer = client.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
    assert answer.status_code == 200, answer.text


def _nothing_released(client, engine, settings, requester, generation_id) -> None:
    assert charges_and_licences(engine, generation_id) == (0, 0)
    video = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert video.status_code == 409, video.text
    assert client.get(f"/v1/generations/{generation_id}/status").status_code == 404
    assert list(settings.generations_dir.glob(f"{generation_id}*")) == []


def test_a_consent_withdrawn_before_release_cancels_the_job_and_nothing_is_charged(
    client, engine, settings, holder, requester, character, clip_pipeline
):
    generation_id = queued(client, requester, "Nova Knight at sea")
    grant_id = character["grant_id"]
    pipeline = RevokingAfterGenerating(clip_pipeline, lambda: _revoke(client, holder, grant_id))

    state = run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, pipeline))

    assert state == JobState.cancelled
    read = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    assert read["state"] == "cancelled"
    assert read["progress"]["steps_done"] == read["progress"]["steps_total"] > 0
    assert read["reasons"] == [
        "Consent for @nova_knight was withdrawn before release: the generation is cancelled "
        "and nothing is charged."
    ]
    assert read["charge"] is None and read["licences"] == []
    _nothing_released(client, engine, settings, requester, generation_id)


def test_a_consent_withdrawn_before_the_job_starts_stops_it_before_any_step(
    client, engine, settings, holder, requester, character, clip_pipeline
):
    generation_id = queued(client, requester, "Nova Knight at sea")
    _revoke(client, holder, character["grant_id"])

    state = run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline))

    assert state == JobState.cancelled
    cancelled = job(engine, generation_id)
    assert cancelled.steps_done == 0 and "@nova_knight" in cancelled.reasons[0]
    _nothing_released(client, engine, settings, requester, generation_id)


def _tamper(engine, generation_id, **changes) -> None:
    with Session(engine) as session:
        tampered = session.get(GenerationJob, uuid.UUID(generation_id))
        for name, value in changes.items():
            setattr(tampered, name, value)
        session.add(tampered)
        session.commit()


def _forged(token: str) -> str:
    """The token with one character of its signature changed (mid-signature: every bit of it
    counts there)."""
    at = len(token) - 20
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


@pytest.mark.parametrize(
    ("tampering", "refusal"),
    [
        ("prompt", "other_request"),
        ("parameters", "other_request"),
        ("declared_use", "other_request"),
        ("signature", "bad_signature"),
        ("another_accounts_token", "other_request"),
    ],
)
def test_the_generator_runs_nothing_its_token_does_not_clear(
    client, engine, settings, requester, clip_pipeline, tampering, refusal
):
    # Another account clears exactly the same request first: its token is for this digest
    # and already valid when this job is made, but it is not this job's.
    others = queued(client, sign_up(client, role="creator"))
    generation_id = queued(client, requester)
    token = job(engine, generation_id).clearance_token
    if tampering == "prompt":
        _tamper(engine, generation_id, prompt="waves on a quiet beach, and a famous face")
    elif tampering == "parameters":
        parameters = job(engine, generation_id).parameters
        _tamper(engine, generation_id, parameters={**parameters, "steps": 3})
    elif tampering == "declared_use":
        _tamper(engine, generation_id, declared_use="personal")
    elif tampering == "signature":
        _tamper(engine, generation_id, clearance_token=_forged(token))
    else:
        _tamper(engine, generation_id, clearance_token=job(engine, others).clearance_token)

    state = run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline))

    assert state == JobState.failed
    failed = job(engine, generation_id)
    assert failed.steps_done == 0 and failed.steps_total == 0
    assert failed.reasons[0].startswith(f"The clearance token was refused ({refusal})")
    _nothing_released(client, engine, settings, requester, generation_id)


@pytest.mark.parametrize("left_in", [JobState.generating, JobState.checking_output])
def test_a_job_whose_worker_crashed_is_retried_by_the_next_worker_and_released_once(
    client, engine, requester, clip_pipeline, left_in
):
    generation_id = queued(client, requester)
    crashed_at = utcnow() - LONG_AGO
    attempt = take_job(engine, job_id=uuid.UUID(generation_id), now=crashed_at)
    if left_in == JobState.checking_output:
        with write_session(engine) as session:
            assert move_job(
                session,
                job_id=uuid.UUID(generation_id),
                attempt=attempt,
                leaving=JobState.generating,
                to=JobState.checking_output,
                now=crashed_at,
            )

    worker = GenerationWorker(
        runtime=generator_runtime(client, clip_pipeline, generation_poll_seconds=0.05)
    )
    try:
        released = wait_until_final(engine, generation_id)
    finally:
        worker.close()

    assert (released.state, released.attempts) == (JobState.released, 2)
    assert released.video_name == f"{generation_id}-2.mp4"
    assert charges_and_licences(engine, generation_id) == (1, 0)
    video = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert video.status_code == 200


def test_a_job_that_has_had_all_its_attempts_fails_and_says_why(
    client, engine, settings, requester, clip_pipeline
):
    generation_id = queued(client, requester)
    take_job(engine, job_id=uuid.UUID(generation_id), now=utcnow() - LONG_AGO)

    recovered = recover_abandoned(
        engine, now=utcnow(), lease_seconds=settings.generation_lease_seconds, max_attempts=1
    )

    assert recovered == {uuid.UUID(generation_id): JobState.failed}
    failed = job(engine, generation_id)
    assert failed.state == JobState.failed and failed.finished_at is not None
    assert "tried once (its worker stopped responding)" in failed.reasons[0]
    _nothing_released(client, engine, settings, requester, generation_id)


def test_a_running_job_whose_worker_is_alive_is_left_alone(client, engine, settings, requester):
    generation_id = queued(client, requester)
    take_job(engine, job_id=uuid.UUID(generation_id), now=utcnow())

    recovered = recover_abandoned(
        engine, now=utcnow(), lease_seconds=settings.generation_lease_seconds, max_attempts=3
    )

    assert recovered == {}
    assert job(engine, generation_id).state == JobState.generating


def test_an_attempt_taken_over_can_neither_report_nor_release(
    client, engine, settings, requester, clip_pipeline
):
    job_id = uuid.UUID(queued(client, requester))
    stalled = take_job(engine, job_id=job_id, now=utcnow() - LONG_AGO)
    recover_abandoned(
        engine, now=utcnow(), lease_seconds=settings.generation_lease_seconds, max_attempts=3
    )
    assert run_job(job_id, runtime=generator_runtime(client, clip_pipeline)) == JobState.released

    # The first attempt's worker comes back to life and goes on where it stopped.
    now = utcnow()
    assert not record_progress(
        engine, job_id=job_id, attempt=stalled, steps_done=1, steps_total=2, now=now
    )
    released = job(engine, job_id)
    with write_session(engine) as session:
        outcome = release(
            session,
            job_id=job_id,
            attempt=stalled,
            payer_id=released.requester_id,
            clearance_id=released.clearance_id,
            licences=[],
            total_minor=1,
            currency="USD",
            video_name=f"{job_id}-{stalled}.mp4",
            video_sha256="0" * 64,
            now=now,
        )
    assert outcome == ReleaseOutcome.lost
    assert job(engine, job_id).video_name == released.video_name == f"{job_id}-2.mp4"
    assert charges_and_licences(engine, job_id) == (1, 0)


def test_of_two_workers_that_saw_a_job_queued_one_moves_it(client, engine, requester):
    job_id = uuid.UUID(queued(client, requester))
    moves = []
    for _ in range(2):
        with write_session(engine) as session:
            moves.append(
                move_job(
                    session,
                    job_id=job_id,
                    attempt=0,
                    leaving=JobState.queued,
                    to=JobState.generating,
                    now=utcnow(),
                    attempts=1,
                )
            )
    assert moves == [True, False]


def test_workers_taking_one_job_at_the_same_moment_take_it_once(client, engine, requester):
    job_id = uuid.UUID(queued(client, requester))
    workers = 6
    start, taken = threading.Barrier(workers), []

    def take() -> None:
        start.wait()
        taken.append(take_job(engine, job_id=job_id, now=utcnow()))

    threads = [threading.Thread(target=take) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(taken, key=lambda attempt: attempt is not None) == [None] * (workers - 1) + [1]
    assert job(engine, job_id).attempts == 1


def test_the_apps_worker_runs_what_was_queued_while_no_worker_ran(
    client, engine, settings, requester
):
    generation_id = queued(client, requester)  # this app runs no worker
    worker_settings = settings.model_copy(
        update={"generation_worker": True, "generation_poll_seconds": 0.05}
    )
    with TestClient(create_app(worker_settings)) as served:
        first = wait_until_final(served.app.state.engine, generation_id)
        second = served.post(
            "/v1/generations",
            headers=requester.headers,
            json={
                "prompt": "a red bicycle",
                "declared_use": "personal",
                "duration_ms": 250,
                "fps": 4,
                "width": 64,
                "height": 64,
                "steps": 2,
            },
        ).json()["generation"]["id"]
        woken = wait_until_final(served.app.state.engine, second)
        progress = served.get(f"/v1/generations/{second}", headers=requester.headers).json()

    assert first.state == woken.state == JobState.released
    assert progress["progress"]["steps_done"] == progress["progress"]["steps_total"] == 2


def test_the_output_check_samples_frames_as_a_video_upload_is_sampled_within_its_budget():
    settings = Settings()
    frames = np.stack([np.full((48, 64, 3), shade, dtype=np.uint8) for shade in range(16)])

    def shades(samples: list[bytes]) -> list[int]:
        return [int(np.asarray(Image.open(io.BytesIO(png)))[0, 0, 0]) for png in samples]

    # Two seconds at 8 fps, sampled at 2 a second: 4 frames, the first and the last among them.
    assert shades(output_samples(frames, fps=8, settings=settings)) == [0, 5, 10, 15]
    # A budget that holds two frames' pixels: two frames, still spread over the whole clip.
    small = settings.model_copy(update={"upload_max_pixels": 2 * 48 * 64})
    assert shades(output_samples(frames, fps=8, settings=small)) == [0, 15]
