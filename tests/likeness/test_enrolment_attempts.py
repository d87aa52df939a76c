"""An enrolment's challenge allows a few rejected submissions, then a new one is needed."""

import pytest
from enrolling import OBAMA, open_enrolment, send_frames
from factories import create_asset

from likeness.enrolment import MAX_FAILED_ATTEMPTS

pytestmark = pytest.mark.still_photos


def test_a_challenge_is_spent_after_its_failed_attempts(client, holder):
    asset = create_asset(client, holder, kind="likeness")
    opened = open_enrolment(client, holder, asset["id"])
    assert opened["attempts_left"] == MAX_FAILED_ATTEMPTS
    for left in reversed(range(MAX_FAILED_ATTEMPTS)):
        mixed = send_frames(client, holder, opened["id"], ["obama.jpg", "obama2.jpg", "biden.jpg"])
        assert mixed.status_code == 400
        state = client.get(f"/v1/enrolments/{opened['id']}", headers=holder.headers).json()
        assert state["attempts_left"] == left
    honest = send_frames(client, holder, opened["id"], OBAMA)
    assert honest.status_code == 409
    assert "start a new enrolment" in honest.json()["detail"]
    fresh = open_enrolment(client, holder, asset["id"])
    assert send_frames(client, holder, fresh["id"], OBAMA).status_code == 200
