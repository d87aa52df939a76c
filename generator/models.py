"""Tables of the generator: each generation job, with its state and progress.

A job is the run of one cleared request. Its state moves only forward, along
:data:`TRANSITIONS`, by conditional updates (generator/jobs.py): a worker moves a job only
from the state (and attempt) it last saw, so two workers never both move one job, and a
release happens at most once.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Column, Field, SQLModel, Text

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class JobState(StrEnum):
    queued = "queued"  # waits for a worker
    generating = "generating"  # the diffusion pipeline runs
    checking_output = "checking_output"  # the output check, signing and the release run
    released = "released"  # licensed, charged, and its signed clip served to its creator
    # The output shows a registered asset the clearance does not cover; its clip is held
    # (generator/held_outputs.py) until a licence offered for it is accepted, or never.
    blocked = "blocked"
    cancelled = "cancelled"  # a consent it relied on was withdrawn before release
    failed = "failed"  # it could not run (a refused token, an error, too many attempts)


FINAL_STATES = frozenset({JobState.released, JobState.blocked, JobState.cancelled, JobState.failed})
RUNNING_STATES = frozenset({JobState.generating, JobState.checking_output})

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.queued: frozenset({JobState.generating, JobState.failed}),
    # Back to queued: a retry after its worker stopped.
    JobState.generating: frozenset(
        {JobState.checking_output, JobState.cancelled, JobState.failed, JobState.queued}
    ),
    JobState.checking_output: frozenset(
        {
            JobState.released,
            JobState.blocked,
            JobState.cancelled,
            JobState.failed,
            JobState.queued,
        }
    ),
    # Released after all: each asset that blocked it licensed by an accepted offer.
    JobState.blocked: frozenset({JobState.released}),
}


class GenerationJob(SQLModel, table=True):
    """One cleared request run by the generator, from the queue to its release or end."""

    __tablename__ = "generation_job"
    __table_args__ = (
        Index("ix_generation_job_state_heartbeat", "state", "heartbeat_at"),
        Index("ix_generation_job_requester_created", "requester_id", "created_at"),
        Index("ix_generation_job_requester_taken_down", "requester_id", "taken_down_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    requester_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    clearance_id: uuid.UUID = Field(
        foreign_key="clearance.id",
        unique=True,
        ondelete="RESTRICT",
        description="The clearance it runs under: one job per clearance, so one clearance is "
        "never generated, nor charged, twice.",
    )
    state: JobState = Field(default=JobState.queued, sa_column=enum_column(JobState))
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    declared_use: str = Field(max_length=32)
    parameters: dict[str, Any] = Field(
        sa_column=Column(JSONDocument, nullable=False),
        description="What the generator runs (duration_ms, width, height, steps, fps, seed, "
        "cameos): with the prompt and the declared use, what the token's digest covers.",
    )
    clearance_token: str = Field(
        sa_column=Column(Text, nullable=False),
        description="The signed clearance; the worker runs nothing it does not verify for "
        "this exact request.",
    )
    steps_done: int = Field(default=0)
    steps_total: int = Field(default=0, description="0 until the pipeline has started.")
    attempts: int = Field(
        default=0, description="Times a worker took it; every move names the attempt it is of."
    )
    reasons: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONDocument, nullable=False),
        description="Why it ended as it did (blocked, cancelled or failed), for its creator.",
    )
    output_check_id: uuid.UUID | None = Field(
        default=None, foreign_key="output_check.id", ondelete="RESTRICT"
    )
    video_name: str | None = Field(
        default=None,
        max_length=100,
        description="The signed MP4's file name in the data dir's generations/, once released.",
    )
    video_sha256: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(
        default=None,
        max_length=64,
        description="The id of the HTTP request that queued it (clearhouse/logs.py): the "
        "worker's log lines about the job carry it.",
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    heartbeat_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="When its worker last showed it was alive (every step, every phase); a "
        "running job silent past the lease is retried or failed.",
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    taken_down_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime),
        description="When its clip was taken down: set, in the revocation's transaction, by "
        "the first withdrawal of a consent it was licensed under (rights/service.py). From "
        "then on the clip is not served and its status URL answers revoked.",
    )
    takedown_grant_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="consent_grant.id",
        ondelete="RESTRICT",
        description="The grant whose withdrawal took its clip down.",
    )
