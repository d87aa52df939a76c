"""The moderators' pages: face conflicts listed, read and decided; the outputs the output
check blocked, with what they showed and the generation's state. Staff only: a holder or a
creator gets a 403 page and learns nobody's identity. The real dlib model on the photos in
../shared/data/faces (still photos accepted, as in tests/likeness/test_one_face_one_owner.py).
"""

import uuid

import pytest
from clearing import check_output
from enrolling import OBAMA, enrol, photo
from factories import create_asset, promote, sign_up
from generating import ask
from portal_client import form_token, portal_sign_in, post_form
from sqlmodel import select

from likeness.models import FaceTemplateRecord

pytestmark = pytest.mark.still_photos

REVIEW_PAGES = ("/review", "/review/conflicts", "/review/flagged")


@pytest.fixture
def conflict(client, holder) -> dict:
    """A second account enrolled the holder's face: the conflict, with both sides."""
    first = create_asset(client, holder, kind="likeness", handle="barack_face")
    assert enrol(client, holder, first["id"], OBAMA).status_code == 200
    claimant = sign_up(client, email="claimant@example.org")
    second = create_asset(client, claimant, kind="likeness", handle="barack_twin")
    answer = enrol(client, claimant, second["id"], OBAMA)
    assert answer.json()["enrolment"]["status"] == "conflict", answer.text
    return {"id": answer.json()["conflict_id"], "claimant": claimant, "likeness": second}


@pytest.fixture
def moderator(client, session):
    return promote(session, sign_up(client, email="moderator@example.org"), "moderator")


def _status(client, moderator, conflict_id: str) -> str:
    read = client.get(f"/v1/likeness/conflicts/{conflict_id}", headers=moderator.headers)
    return read.json()["status"]


def _held_templates(session, likeness_id: str) -> int:
    session.rollback()  # a fresh snapshot: what the pages committed since
    rows = session.exec(
        select(FaceTemplateRecord).where(FaceTemplateRecord.likeness_id == uuid.UUID(likeness_id))
    ).all()
    return len(rows)


def test_a_moderator_sees_a_conflict_with_both_parties_and_rejects_it(
    client, session, holder, conflict, moderator
):
    portal_sign_in(client, moderator)
    home = client.get("/review")
    assert home.status_code == 200 and "open face conflict" in home.text
    queue = client.get("/review/conflicts")
    assert queue.status_code == 200
    assert f'href="/review/conflicts/{conflict["id"]}"' in queue.text
    assert "@barack_twin" in queue.text and "@barack_face" in queue.text

    page = client.get(f"/review/conflicts/{conflict['id']}")
    assert page.status_code == 200
    assert "claimant@example.org" in page.text and holder.email in page.text
    assert _held_templates(session, conflict["likeness"]["id"]) > 0

    decided = post_form(
        client,
        f"/review/conflicts/{conflict['id']}/resolve",
        {"decision": "reject", "note": "same person, enrolled first"},
        page=f"/review/conflicts/{conflict['id']}",
    )
    assert decided.status_code == 303
    assert decided.headers["location"].endswith("?notice=conflict-rejected")
    assert _status(client, moderator, conflict["id"]) == "rejected"
    assert _held_templates(session, conflict["likeness"]["id"]) == 0
    after = client.get(decided.headers["location"])
    assert "same person, enrolled first" in after.text and "Record the decision" not in after.text
    assert (
        f'href="/review/conflicts/{conflict["id"]}"'
        in client.get("/review/conflicts?show=rejected").text
    )
    assert f'href="/review/conflicts/{conflict["id"]}"' not in client.get("/review/conflicts").text


def test_an_accepted_claim_enrols_the_claimants_face(client, conflict, moderator):
    portal_sign_in(client, moderator)
    decided = post_form(
        client,
        f"/review/conflicts/{conflict['id']}/resolve",
        {"decision": "accept", "note": ""},
        page=f"/review/conflicts/{conflict['id']}",
    )
    assert decided.status_code == 303
    assert _status(client, moderator, conflict["id"]) == "accepted"
    enrolments = client.get("/v1/likeness/conflicts", headers=conflict["claimant"].headers)
    assert enrolments.json()["items"][0]["status"] == "accepted"


def test_a_decision_without_a_choice_is_asked_again_and_changes_nothing(
    client, conflict, moderator
):
    portal_sign_in(client, moderator)
    answer = post_form(
        client,
        f"/review/conflicts/{conflict['id']}/resolve",
        {"note": "thinking"},
        page=f"/review/conflicts/{conflict['id']}",
    )
    assert answer.status_code == 400
    assert 'id="f-decision-error"' in answer.text and "thinking" in answer.text
    assert _status(client, moderator, conflict["id"]) == "open"


def test_a_decision_without_the_csrf_token_is_refused_and_changes_nothing(
    client, session, conflict, moderator
):
    portal_sign_in(client, moderator)
    for token in (None, "0" * 64):
        data = {"decision": "reject"} | ({"csrf_token": token} if token else {})
        refused = client.post(
            f"/review/conflicts/{conflict['id']}/resolve", data=data, follow_redirects=False
        )
        assert refused.status_code == 403
    assert _status(client, moderator, conflict["id"]) == "open"
    assert _held_templates(session, conflict["likeness"]["id"]) > 0


@pytest.mark.parametrize("role", ["holder", "creator"])
def test_holders_and_creators_get_403_pages_and_no_identities(
    client, holder, conflict, moderator, role
):
    visitor = holder if role == "holder" else sign_up(client, role="creator")
    portal_sign_in(client, visitor)
    for path in (*REVIEW_PAGES, f"/review/conflicts/{conflict['id']}"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "This page is for moderators." in page.text
        assert "claimant@example.org" not in page.text
    token = form_token(client, "/dashboard")
    refused = client.post(
        f"/review/conflicts/{conflict['id']}/resolve",
        data={"csrf_token": token, "decision": "accept"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert _status(client, moderator, conflict["id"]) == "open"


def test_flagged_outputs_are_listed_for_staff_with_what_was_found_and_the_generation_state(
    client, holder, moderator
):
    face = create_asset(client, holder, kind="likeness", handle="barack_face")
    assert enrol(client, holder, face["id"], OBAMA).status_code == 200
    requester = sign_up(client, role="creator", email="requester@example.org")
    asked = ask(client, requester, "waves on a quiet beach at dawn")
    assert asked["clearance"]["outcome"] == "cleared", asked
    checked = check_output(client, requester, asked["clearance"]["id"], [photo("obama2.jpg")])
    assert checked.json()["verdict"] == "release_blocked", checked.text

    portal_sign_in(client, moderator)
    page = client.get("/review/flagged")
    assert page.status_code == 200
    assert "requester@example.org" in page.text
    assert "waves on a quiet beach at dawn" in page.text
    assert "generation queued" in page.text  # no worker runs here: it waits, never released
    assert "@barack_face" in page.text
    assert "Found in the output; the clearance did not cover it." in page.text
    assert "1 flagged output" in page.text

    client.cookies.clear()
    portal_sign_in(client, holder)  # the face's owner sees the use on their own pages only
    refused = client.get("/review/flagged")
    assert refused.status_code == 403 and "requester@example.org" not in refused.text


def test_a_moderator_who_is_a_party_cannot_decide(client, session, holder, conflict):
    promote(session, holder, "moderator")  # the account that enrolled the face first
    portal_sign_in(client, holder)
    page = client.get(f"/review/conflicts/{conflict['id']}")
    assert page.status_code == 200
    assert "another moderator must decide it" in page.text
    assert "Record the decision" not in page.text
    refused = client.post(
        f"/review/conflicts/{conflict['id']}/resolve",
        data={"csrf_token": form_token(client, "/review"), "decision": "reject"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "You are a party to this conflict" in refused.text
    assert _status(client, holder, conflict["id"]) == "open"
    assert client.get(f"/review/conflicts/{uuid.uuid4()}").status_code == 404
