"""POST /v1/clearances/{id}/output-check: a cleared request's generated frames or video, looked
at again before release. What the clearance does not cover blocks the release and its owner
sees the attempt; a person who has not consented to the requester is not named; only the
requester checks their own cleared clearance."""

import numpy as np
import pytest
from clearing import character_with_reference, check_output, clear, licensed, usage
from drawn_characters import EDITS, draw_character, jpeg_bytes, png_bytes
from enrolling import photo, picture, video
from factories import sign_up
from sqlmodel import select

from licensing.models import OutputCheck
from policies.decisions import NOT_CONSENTED

pytestmark = pytest.mark.still_photos

PROMPT = "waves on a quiet beach at dawn"
NOT_COVERED = "Found in the output; the clearance did not cover it."


@pytest.fixture
def cleared(client, requester) -> dict:
    """A clearance of a prompt that touches nothing registered."""
    answer = clear(client, requester, PROMPT)
    assert answer.json()["outcome"] == "cleared", answer.text
    return answer.json()


def test_an_uncovered_face_blocks_release_names_nobody_and_its_owner_sees_it(
    client, session, holder, likeness, requester, cleared
):
    frames = [picture("biden.jpg"), picture("obama2.jpg")]
    answer = check_output(client, requester, cleared["id"], [video(frames, fps=2)])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "release_blocked"
    [found] = body["found"]
    assert (found["asset_id"], found["handle"], found["outcome"]) == (None, None, "deny")
    assert found["reasons"] == [NOT_CONSENTED.text]
    assert likeness["id"] not in answer.text and likeness["handle"] not in answer.text
    assert "score" not in answer.text

    [use] = usage(client, holder, likeness["id"])
    assert (use["clearance_id"], use["found_in"], use["outcome"]) == (
        cleared["id"],
        "output",
        "deny",
    )
    assert use["reasons"] == [{"code": "not_covered", "text": NOT_COVERED}]
    [evidence] = use["matched_by"]
    assert evidence["kind"] == "face" and evidence["frame"] == 1 and evidence["score"] > 0.5

    checks = session.exec(select(OutputCheck)).all()
    assert [(str(c.clearance_id), c.verdict.value) for c in checks] == [
        (cleared["id"], "release_blocked")
    ]
    # The requester's own view of the clearance still shows what the request touched.
    stored = client.get(f"/v1/clearances/{cleared['id']}", headers=requester.headers).json()
    assert stored["outcome"] == "cleared" and stored["assets"] == []


def test_a_face_the_owner_consented_to_is_named_but_still_blocks_when_not_cleared(
    client, holder, likeness, requester, cleared
):
    licensed(client, holder, likeness["id"])
    body = check_output(client, requester, cleared["id"], [photo("obama2.jpg")]).json()
    assert body["verdict"] == "release_blocked"
    [found] = body["found"]
    assert (found["handle"], found["reasons"]) == ("barack_face", [NOT_COVERED])
    assert "score" not in found["matched_by"][0]


def test_an_uncovered_character_blocks_release_and_a_covered_one_does_not(
    client, holder, requester
):
    drawn = draw_character(7)
    covered = character_with_reference(client, holder, png_bytes(drawn), handle="drawn_seven")
    other = character_with_reference(
        client, holder, png_bytes(draw_character(8)), handle="drawn_eight"
    )
    licensed(client, holder, covered["id"])
    licensed(client, holder, other["id"])
    copied = jpeg_bytes(EDITS["crop_90"](drawn, np.random.default_rng(2)))
    clearance = clear(client, requester, PROMPT, [copied]).json()
    assert clearance["outcome"] == "cleared"
    assert [a["handle"] for a in clearance["assets"]] == ["drawn_seven"]

    allowed = check_output(client, requester, clearance["id"], [copied]).json()
    assert allowed["verdict"] == "release_allowed"
    assert [(f["handle"], f["outcome"]) for f in allowed["found"]] == [("drawn_seven", "allow")]

    shown = jpeg_bytes(EDITS["resize_50"](draw_character(8), np.random.default_rng(3)))
    blocked = check_output(client, requester, clearance["id"], [copied, shown]).json()
    assert blocked["verdict"] == "release_blocked"
    outcomes = {f["handle"]: (f["outcome"], f["matched_by"][0]["input"]) for f in blocked["found"]}
    assert outcomes == {"drawn_seven": ("allow", 0), "drawn_eight": ("deny", 1)}
    [use] = usage(client, holder, other["id"])
    assert (use["found_in"], use["outcome"]) == ("output", "deny")
    assert [u["found_in"] for u in usage(client, holder, covered["id"])] == ["request"]


def test_an_output_that_shows_nothing_registered_is_released(client, likeness, requester, cleared):
    body = check_output(client, requester, cleared["id"], [photo("biden.jpg")]).json()
    assert (body["verdict"], body["found"], body["frames_checked"]) == ("release_allowed", [], 1)


def test_only_the_requester_checks_their_clearances_output(client, holder, requester, cleared):
    for stranger in (holder, sign_up(client, role="creator")):
        answer = check_output(client, stranger, cleared["id"], [photo("biden.jpg")])
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_clearance_that_was_not_cleared_has_no_output_to_check(
    client, holder, likeness, requester
):
    denied = clear(client, requester, PROMPT, [photo("obama2.jpg")]).json()
    assert denied["outcome"] == "denied"
    answer = check_output(client, requester, denied["id"], [photo("biden.jpg")])
    assert answer.status_code == 409, answer.text
    assert answer.json()["type"].endswith("/clearance-not-cleared")


def test_unusable_output_media_get_problem_details(client, session, requester, cleared):
    corrupt = check_output(client, requester, cleared["id"], [photo("biden.jpg")[:3000]])
    assert corrupt.status_code == 400 and corrupt.json()["type"].endswith("/corrupt-media")
    text = check_output(client, requester, cleared["id"], [b"no picture here"])
    assert text.status_code == 415 and text.json()["type"].endswith("/unsupported-media")
    none = client.post(
        f"/v1/clearances/{cleared['id']}/output-check", headers=requester.headers, files={}
    )
    assert none.status_code == 422 and none.json()["type"].endswith("/malformed-body")
    assert session.exec(select(OutputCheck)).all() == []  # nothing recorded for any of them
