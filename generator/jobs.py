"""The job state machine, kept by the database: every move is one conditional UPDATE.

A move names the state it leaves and the attempt it belongs to (``WHERE state = ... AND
attempts = ...``) and counts the rows it changed: when another worker moved the job first (a
retry took it over, a cancellation landed), it changes nothing and its caller stops. So two
workers never both move one job, whatever their timing, on SQLite (one writer at a time) and
on PostgreSQL (the second UPDATE waits for the first's row lock, then finds its WHERE no
longer true). Taking a job is the same compare-and-set on (queued, attempts), which also
counts the attempt.

A running job shows it is alive (``heartbeat_at``) at every denoising step and phase. One
silent past the lease (its worker crashed, or was killed) is put back in the queue for
another attempt, or failed once it has had ``max_attempts``: never lost, and, since every
later move of the stopped attempt names its number, never released by it.
"""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, func, select

from clearhouse.db import read_session, write_session
from clearhouse.logs import current_request_id
from generator.models import RUNNING_STATES, TRANSITIONS, GenerationJob, JobState


def queue_job(
    session: Session,
    *,
    requester_id: uuid.UUID,
    clearance_id: uuid.UUID,
    prompt: str,
    declared_use: str,
    parameters: dict[str, Any],
    clearance_token: str,
    now: datetime,
) -> GenerationJob:
    """A new job in ``session``'s transaction, queued for a worker, with the id of the
    request being served (if any) for the worker's log lines."""
    job = GenerationJob(
        request_id=current_request_id.get(),
        requester_id=requester_id,
        clearance_id=clearance_id,
        prompt=prompt,
        declared_use=declared_use,
        parameters=parameters,
        clearance_token=clearance_token,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def next_queued(engine: Engine) -> uuid.UUID | None:
    """The job that has waited longest, if any."""
    with read_session(engine) as session:
        return session.exec(
            select(GenerationJob.id)
            .where(GenerationJob.state == JobState.queued)
            .order_by(GenerationJob.created_at, GenerationJob.id)
            .limit(1)
        ).first()


def job_request_id(engine: Engine, *, job_id: uuid.UUID) -> str | None:
    """The id of the request that queued the job, if it was queued by one."""
    with read_session(engine) as session:
        return session.exec(
            select(GenerationJob.request_id).where(GenerationJob.id == job_id)
        ).first()


def queued_count(engine: Engine) -> int:
    """Jobs waiting for a worker."""
    with read_session(engine) as session:
        return session.exec(
            select(func.count()).where(GenerationJob.state == JobState.queued)
        ).one()


def take_job(engine: Engine, *, job_id: uuid.UUID, now: datetime) -> int | None:
    """Move a queued job to generating for this worker: its attempt number, or None when it
    was not queued or another worker took it first."""
    with read_session(engine) as session:
        seen = session.exec(
            select(GenerationJob.attempts).where(
                GenerationJob.id == job_id, GenerationJob.state == JobState.queued
            )
        ).first()
    if seen is None:
        return None
    attempt = seen + 1
    with write_session(engine) as session:
        taken = _move(
            session,
            job_id=job_id,
            attempt=seen,
            leaving=(JobState.queued,),
            to=JobState.generating,
            values={
                "attempts": attempt,
                "started_at": now,
                "heartbeat_at": now,
                "steps_done": 0,
                "steps_total": 0,
            },
        )
    return attempt if taken else None


def move_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    attempt: int,
    leaving: JobState | Collection[JobState],
    to: JobState,
    now: datetime,
    **values: Any,
) -> bool:
    """Move the job from ``leaving`` to ``to`` for ``attempt``, in ``session``'s transaction;
    False (and nothing changed) when it is in another state or attempt by now."""
    leaving = (leaving,) if isinstance(leaving, JobState) else tuple(leaving)
    final = {"finished_at": now} if to not in (*RUNNING_STATES, JobState.queued) else {}
    return _move(
        session,
        job_id=job_id,
        attempt=attempt,
        leaving=leaving,
        to=to,
        values={"heartbeat_at": now, **final, **values},
    )


def record_progress(
    engine: Engine,
    *,
    job_id: uuid.UUID,
    attempt: int,
    steps_done: int,
    steps_total: int,
    now: datetime,
) -> bool:
    """Store the steps done so far (a heartbeat too); False when the job is no longer this
    attempt's to run (cancelled, or taken over after its lease ran out)."""
    with write_session(engine) as session:
        changed = session.execute(
            update(GenerationJob)
            .where(
                GenerationJob.id == job_id,
                GenerationJob.state == JobState.generating,
                GenerationJob.attempts == attempt,
            )
            .values(steps_done=steps_done, steps_total=steps_total, heartbeat_at=now)
        ).rowcount
    return changed == 1


def end_attempt(
    engine: Engine,
    *,
    job_id: uuid.UUID,
    attempt: int,
    reason: str,
    max_attempts: int,
    now: datetime,
) -> JobState | None:
    """An attempt that stopped without an outcome (an error, its worker shutting down): the
    job goes back to the queue, or fails once it has had ``max_attempts``. The state it went
    to, or None when it had already moved on."""
    with write_session(engine) as session:
        job = session.get(GenerationJob, job_id)
        if job is None or job.attempts != attempt or job.state not in RUNNING_STATES:
            return None
        retry = attempt < max_attempts
        to = JobState.queued if retry else JobState.failed
        moved = move_job(
            session,
            job_id=job_id,
            attempt=attempt,
            leaving=job.state,
            to=to,
            now=now,
            reasons=[] if retry else [_gave_up(attempt, reason)],
        )
    return to if moved else None


def recover_abandoned(
    engine: Engine, *, now: datetime, lease_seconds: float, max_attempts: int
) -> dict[uuid.UUID, JobState]:
    """Jobs left running by a worker silent past the lease, each queued again or failed;
    what became of each."""
    cutoff = now - timedelta(seconds=lease_seconds)
    with read_session(engine) as session:
        silent = session.exec(
            select(GenerationJob.id, GenerationJob.state, GenerationJob.attempts).where(
                col(GenerationJob.state).in_(list(RUNNING_STATES)),
                GenerationJob.heartbeat_at < cutoff,
            )
        ).all()
    recovered = {}
    for job_id, state, attempt in silent:
        retry = attempt < max_attempts
        to = JobState.queued if retry else JobState.failed
        reasons = [] if retry else [_gave_up(attempt, "its worker stopped responding")]
        with write_session(engine) as session:
            # Still silent now: a worker that came back meanwhile keeps its job.
            moved = session.execute(
                update(GenerationJob)
                .where(
                    GenerationJob.id == job_id,
                    GenerationJob.state == state,
                    GenerationJob.attempts == attempt,
                    GenerationJob.heartbeat_at < cutoff,
                )
                .values(
                    state=to,
                    reasons=reasons,
                    heartbeat_at=now,
                    finished_at=None if retry else now,
                )
            ).rowcount
        if moved:
            recovered[job_id] = to
    return recovered


def _gave_up(attempts: int, last: str) -> str:
    times = "once" if attempts == 1 else f"{attempts} times"
    return f"The generation could not be completed: it was tried {times} ({last}). Ask again."


def _move(
    session: Session,
    *,
    job_id: uuid.UUID,
    attempt: int,
    leaving: tuple[JobState, ...],
    to: JobState,
    values: dict[str, Any],
) -> bool:
    for state in leaving:
        if to not in TRANSITIONS.get(state, ()):
            raise ValueError(f"a job does not go from {state.value} to {to.value}")
    changed = session.execute(
        update(GenerationJob)
        .where(
            GenerationJob.id == job_id,
            col(GenerationJob.state).in_(list(leaving)),
            GenerationJob.attempts == attempt,
        )
        .values(state=to, **values)
    ).rowcount
    return changed == 1
