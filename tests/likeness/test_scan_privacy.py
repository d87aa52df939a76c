"""No face search for strangers: the scan answers staff, and owners about themselves.

A moderator sees every likeness a face matches and its similarity; an owner sees only their
own likenesses and no score; a creator may not scan at all. Only the owner's own scans
count as activity, so strangers cannot keep someone's templates alive past retention.
"""

import uuid
from datetime import timedelta

import pytest
from enrolling import OBAMA, enrol, matched, photo, scan
from factories import create_asset, promote, sign_up
from sqlmodel import select

from clearhouse.db import utcnow
from likeness.models import LikenessKey

pytestmark = pytest.mark.still_photos


@pytest.fixture
def enrolled(client, holder) -> dict:
    asset = create_asset(client, holder, kind="likeness")
    assert enrol(client, holder, asset["id"], OBAMA).status_code == 200
    return asset


def _scores(result: dict) -> list:
    return [m["similarity"] for face in result["faces"] for m in face["matches"]]


def test_a_stranger_learns_nothing_of_a_registered_face(client, enrolled, other_holder):
    result = scan(client, other_holder, "obama2.jpg")
    assert len(result["faces"]) == 1  # the face is there ...
    assert result["faces"][0]["matches"] == []  # ... and looks like anyone unregistered
    assert enrolled["handle"] not in str(result)


def test_a_creator_may_not_scan(client, enrolled):
    creator = sign_up(client, role="creator")
    response = client.post(
        "/v1/likeness/scan",
        headers=creator.headers,
        files={"file": ("face.jpg", photo("obama2.jpg"), "image/jpeg")},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert enrolled["handle"] not in response.text


def test_the_owner_finds_their_own_face_without_a_score(client, holder, enrolled):
    result = scan(client, holder, "obama2.jpg")
    assert matched(result) == {enrolled["id"]}
    assert _scores(result) == [None]


def test_staff_see_the_match_and_its_score(client, session, enrolled):
    moderator = promote(session, sign_up(client), "moderator")
    result = scan(client, moderator, "obama2.jpg")
    assert matched(result) == {enrolled["id"]}
    assert _scores(result)[0] >= result["threshold"]


def test_only_the_owners_own_scans_count_as_activity(client, session, holder, enrolled):
    likeness_id = uuid.UUID(enrolled["id"])
    long_ago = utcnow() - timedelta(days=400)
    key = session.get(LikenessKey, likeness_id)
    key.last_activity_at = long_ago
    session.add(key)
    session.commit()

    def last_activity():
        session.commit()  # a new read, after the scans' writes
        return session.exec(
            select(LikenessKey.last_activity_at).where(LikenessKey.likeness_id == likeness_id)
        ).one()

    moderator = promote(session, sign_up(client), "moderator")
    scan(client, sign_up(client), "obama2.jpg")
    scan(client, moderator, "obama2.jpg")
    assert last_activity() == long_ago
    scan(client, holder, "obama2.jpg")
    assert last_activity() > long_ago


def test_a_staff_lookup_is_in_the_audit_log_and_in_the_owners_history(
    client, session, holder, enrolled
):
    from audit.models import AuditEntry

    moderator = promote(session, sign_up(client), "moderator")
    scan(client, moderator, "obama2.jpg")
    scan(client, holder, "obama2.jpg")  # the owner's own scan is no staff lookup
    history = client.get(f"/v1/assets/{enrolled['id']}/audit", headers=holder.headers).json()
    found = [e["body"] for e in history["items"] if e["action"] == "likeness.found_by_staff_scan"]
    assert [body["actor_id"] for body in found] == [str(moderator.id)]
    session.commit()
    scans = session.exec(select(AuditEntry).where(AuditEntry.action == "likeness.staff_scan")).all()
    assert [entry.body["details"] for entry in scans] == [
        {"faces": 1, "likenesses_found": [enrolled["id"]]}
    ]
