"""Backpressure: with ``generation_queue_max`` jobs queued, a request for another is refused
with 503 and Retry-After before it is cleared (nothing recorded, nothing charged); a job
taken by a worker frees its place."""

import uuid

import pytest
from generating import generation_body, queued
from sqlmodel import Session, func, select

from clearhouse.db import utcnow
from generator.jobs import take_job
from licensing.models import Clearance

QUEUE_MAX = 2


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"generation_queue_max": QUEUE_MAX})


def _clearances(engine, requester) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(Clearance.requester_id == requester.id)
        ).one()


def test_a_full_queue_answers_503_with_retry_after_and_clears_nothing(client, engine, requester):
    waiting = [queued(client, requester) for _ in range(QUEUE_MAX)]

    refused = client.post("/v1/generations", headers=requester.headers, json=generation_body())

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["status"] == 503 and problem["title"] == "The generation queue is full"
    assert f"{QUEUE_MAX} generations are already waiting" in problem["detail"]
    assert _clearances(engine, requester) == QUEUE_MAX

    assert take_job(engine, job_id=uuid.UUID(waiting[0]), now=utcnow()) == 1  # a worker's
    assert queued(client, requester)
    assert _clearances(engine, requester) == QUEUE_MAX + 1
