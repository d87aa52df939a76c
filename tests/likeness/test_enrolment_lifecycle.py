"""An enrolment's life: it closes when CLEARHOUSE_ENROLMENT_MINUTES have passed, and frames
sent to it after that, or after its likeness was deleted, are refused with a clear problem
and seal nothing. Real photos go through the real dlib model, so a missing check would
enrol the face."""

import uuid
from datetime import datetime, timedelta

import pytest
from enrolling import OBAMA, open_enrolment, send_frames
from factories import create_asset
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from clearhouse.app import create_app
from clearhouse.db import utcnow
from likeness.models import EnrolmentSession, FaceTemplateRecord

ENROLMENT_MINUTES = 7


@pytest.fixture
def client(settings):
    """Still photos accepted (identity verified elsewhere), and a short enrolment window."""
    stills = settings.model_copy(
        update={"liveness_required": False, "enrolment_minutes": ENROLMENT_MINUTES}
    )
    with TestClient(create_app(stills)) as test_client:
        yield test_client


def _templates(engine, likeness_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(FaceTemplateRecord.likeness_id == uuid.UUID(likeness_id))
        return session.exec(query.select_from(FaceTemplateRecord)).one()


def _move_expiry(engine, enrolment_id: str, *, to) -> None:
    with Session(engine) as session:
        row = session.get(EnrolmentSession, uuid.UUID(enrolment_id))
        row.expires_at = to
        session.add(row)
        session.commit()


def test_an_enrolment_stays_open_for_the_configured_minutes(client, holder):
    likeness = create_asset(client, holder, kind="likeness")
    opened = open_enrolment(client, holder, likeness["id"])
    window = datetime.fromisoformat(opened["expires_at"]) - datetime.fromisoformat(
        opened["created_at"]
    )
    assert abs(window - timedelta(minutes=ENROLMENT_MINUTES)) < timedelta(seconds=5)


def test_frames_sent_after_expiry_are_refused_and_a_new_enrolment_works(client, holder, engine):
    likeness = create_asset(client, holder, kind="likeness")
    opened = open_enrolment(client, holder, likeness["id"])
    _move_expiry(engine, opened["id"], to=utcnow() - timedelta(seconds=1))

    late = send_frames(client, holder, opened["id"], OBAMA)
    assert late.status_code == 409, late.text
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["type"].endswith("/enrolment-closed")
    assert "expired" in late.json()["detail"] and "start a new one" in late.json()["detail"]
    assert _templates(engine, likeness["id"]) == 0

    fresh = open_enrolment(client, holder, likeness["id"])
    enrolled = send_frames(client, holder, fresh["id"], OBAMA)
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["templates"] == _templates(engine, likeness["id"]) == 3


def test_frames_sent_just_before_expiry_are_accepted(client, holder, engine):
    likeness = create_asset(client, holder, kind="likeness")
    opened = open_enrolment(client, holder, likeness["id"])
    _move_expiry(engine, opened["id"], to=utcnow() + timedelta(minutes=1))
    assert send_frames(client, holder, opened["id"], OBAMA).status_code == 200


def test_frames_sent_after_the_likeness_was_deleted_are_refused(client, holder, engine):
    likeness = create_asset(client, holder, kind="likeness")
    opened = open_enrolment(client, holder, likeness["id"])
    deleted = client.delete(f"/v1/assets/{likeness['id']}", headers=holder.headers)
    assert deleted.status_code == 200, deleted.text

    late = send_frames(client, holder, opened["id"], OBAMA)
    assert 400 <= late.status_code < 500, late.text
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["detail"]
    assert _templates(engine, likeness["id"]) == 0
