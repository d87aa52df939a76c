"""Enrolling a face on the portal: the liveness challenge shown in words, a video sent from
the page, the face enrolled (the API lists the likeness) or each fault of the frames shown
and nothing stored; only a verified holder enrols, only their own enrolment. The real dlib
model on the photos in ../shared/data/faces.

No recording of a real head turning is at hand (tests/faces.py makes only landmarks), so the
video that enrols is taken under the operator's setting that accepts still photos
(``still_photos``), as tests/likeness/test_enrolment.py does; with the liveness challenge on,
the page shows the challenge and refuses a video of a still photo, frame by frame.
"""

import re
import uuid

import numpy as np
import pytest
from enrolling import OBAMA, photo, picture, video
from faces import FACES_DIR
from factories import create_asset, sign_up
from PIL import Image
from portal_client import form_token, portal_sign_in, post_form
from sqlmodel import select

from clearhouse.portal.enrol_pages import POSE_WORDS
from likeness.models import EnrolmentSession, EnrolmentStatus, FaceTemplateRecord

ENROLMENT_PAGE = re.compile(r"^/enrol/([0-9a-f-]{36})$")


def _start(client, *, handle: str = "ada_face") -> str:
    """Register a likeness on the page and open its enrolment; the enrolment's id."""
    answer = post_form(client, "/enrol", {"name": "Ada Lovelace", "handle": handle})
    assert answer.status_code == 303, answer.text
    found = ENROLMENT_PAGE.match(answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def _send(client, enrolment_id: str, clip: bytes, *, token: str | None = None):
    token = token if token is not None else form_token(client, f"/enrol/{enrolment_id}")
    data = {"csrf_token": token} if token else {}
    return client.post(
        f"/enrol/{enrolment_id}/frames",
        data=data,
        files=[("files", ("me.mp4", clip, "video/mp4"))],
        follow_redirects=False,
    )


def _two_people() -> np.ndarray:
    """Barack Obama and Joe Biden side by side in one picture (Biden's face cropped from his
    tall portrait, so that it stays large enough to detect)."""
    portrait = Image.open(FACES_DIR / "biden.jpg").convert("RGB")
    biden = np.asarray(portrait.crop((300, 80, 900, 760)).resize((320, 400)))
    return np.hstack([picture("obama.jpg", size=(320, 400)), biden])


def _templates(session) -> list[FaceTemplateRecord]:
    session.rollback()  # a fresh snapshot: what the pages committed since
    return list(session.exec(select(FaceTemplateRecord)).all())


def test_the_challenge_shows_in_words_and_a_still_photo_video_is_refused_frame_by_frame(
    client, holder, session
):
    portal_sign_in(client, holder)
    enrolment_id = _start(client)
    page = client.get(f"/enrol/{enrolment_id}")
    assert page.status_code == 200
    opened = client.get(f"/v1/enrolments/{enrolment_id}", headers=holder.headers).json()
    assert opened["liveness_required"] is True
    steps = [POSE_WORDS[pose] for pose in opened["challenge"]]
    positions = [page.text.index(step) for step in steps]
    assert positions == sorted(positions)  # in the challenge's order
    assert "This challenge expires at" in page.text and "3 attempts left" in page.text

    still = video([picture("obama.jpg")] * 4)  # a photo held up: no head ever turns
    refused = _send(client, enrolment_id, still)
    assert refused.status_code == 400
    assert "Not enrolled: your frames did not pass" in refused.text
    assert "Liveness check failed" in refused.text
    assert f"no frame shows {opened['challenge'][1]}" in refused.text
    # The pose read in each frame of the video, one row each.
    assert re.search(r"<td>upload 1 at 0\.0 s</td><td>frontal</td>", refused.text)
    assert "2 attempts left" in refused.text
    assert _templates(session) == []


@pytest.mark.still_photos
def test_a_holder_enrols_a_face_from_a_video_and_the_api_lists_the_likeness(
    client, holder, session
):
    portal_sign_in(client, holder)
    enrolment_id = _start(client)
    blank = np.full_like(picture("obama.jpg"), 90)
    clip = video([blank] * 2 + [picture("obama.jpg")] * 3 + [picture("obama2.jpg")] * 3)

    answer = _send(client, enrolment_id, clip)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/enrol/{enrolment_id}?notice=face-enrolled"
    likenesses = client.get("/v1/assets?kind=likeness", headers=holder.headers).json()["items"]
    [likeness] = likenesses
    assert (likeness["handle"], likeness["name"]) == ("ada_face", "Ada Lovelace")
    done = client.get(answer.headers["location"])
    assert "Your face is enrolled" in done.text
    assert f'href="/assets/{likeness["id"]}"' in done.text
    read = client.get(f"/v1/enrolments/{enrolment_id}", headers=holder.headers).json()
    assert read["status"] == "enrolled"
    assert {str(t.likeness_id) for t in _templates(session)} == {likeness["id"]}


@pytest.mark.still_photos
def test_a_video_of_two_people_names_the_frame_and_enrols_nothing(client, holder, session):
    portal_sign_in(client, holder)
    enrolment_id = _start(client)
    clip = video([_two_people()] * 3)

    refused = _send(client, enrolment_id, clip)
    assert refused.status_code == 400
    assert "<dt>Frame</dt><dd>upload 1 at 0.0 s</dd>" in refused.text
    assert "shows 2 faces" in refused.text
    assert _templates(session) == []
    enrolling = session.get(EnrolmentSession, uuid.UUID(enrolment_id))
    session.refresh(enrolling)
    assert (enrolling.status, enrolling.failed_attempts) == (EnrolmentStatus.open, 1)


@pytest.mark.still_photos
def test_frames_sent_without_the_csrf_token_are_refused_and_change_nothing(client, holder, session):
    portal_sign_in(client, holder)
    enrolment_id = _start(client)
    clip = video([picture("obama.jpg")] * 3 + [picture("obama2.jpg")] * 3)
    for token in ("", "0" * 64):
        refused = _send(client, enrolment_id, clip, token=token)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    assert _templates(session) == []
    enrolling = session.get(EnrolmentSession, uuid.UUID(enrolment_id))
    session.refresh(enrolling)
    assert (enrolling.status, enrolling.failed_attempts) == (EnrolmentStatus.open, 0)


def test_starting_without_the_csrf_token_registers_nothing(client, holder):
    portal_sign_in(client, holder)
    form_token(client, "/enrol")  # the page is there, but the form goes without its token
    refused = client.post(
        "/enrol", data={"name": "Ada", "handle": "ada_face"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert client.get("/v1/assets", headers=holder.headers).json()["items"] == []


def test_an_unverified_holder_is_told_to_verify_and_nothing_is_registered(client):
    unverified = sign_up(client, verified=False)
    portal_sign_in(client, unverified)
    page = client.get("/enrol")
    assert page.status_code == 200
    assert "Verify your email address before you enrol a face" in page.text
    assert 'action="/enrol"' not in page.text

    token = form_token(client, "/dashboard")
    refused = client.post(
        "/enrol",
        data={"csrf_token": token, "name": "Ada", "handle": "ada_face"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "Email address not verified" in refused.text
    assert client.get("/v1/assets", headers=unverified.headers).json()["items"] == []


def test_a_minor_is_told_how_their_face_is_protected(client):
    from datetime import date

    minor = sign_up(client, born=date(date.today().year - 15, 1, 1))
    portal_sign_in(client, minor)
    page = client.get("/enrol")
    assert "You are under 18." in page.text
    assert "nobody but you may ever use it" in page.text


def test_a_bad_handle_is_shown_beside_its_field_and_registers_nothing(client, holder):
    portal_sign_in(client, holder)
    answer = post_form(client, "/enrol", {"name": "Ada", "handle": "a!"})
    assert answer.status_code == 400
    assert 'id="f-handle-error"' in answer.text and 'value="Ada"' in answer.text
    taken = create_asset(client, holder, kind="likeness", handle="ada_face")
    again = post_form(client, "/enrol", {"name": "Ada", "handle": "ada_face"})
    assert again.status_code == 409
    assert 'id="f-handle-error"' in again.text
    listed = client.get("/v1/assets", headers=holder.headers).json()["items"]
    assert [asset["id"] for asset in listed] == [taken["id"]]


def test_another_holder_cannot_open_or_send_to_an_enrolment(client, holder, other_holder):
    portal_sign_in(client, holder)
    enrolment_id = _start(client)
    likeness_id = client.get(f"/v1/enrolments/{enrolment_id}", headers=holder.headers).json()[
        "likeness_id"
    ]
    client.cookies.clear()
    portal_sign_in(client, other_holder)
    assert client.get(f"/enrol/{enrolment_id}").status_code == 404
    token = form_token(client, "/enrol")
    sent = _send(client, enrolment_id, b"not even a video", token=token)
    assert sent.status_code == 404
    restart = client.post(
        f"/enrol/likeness/{likeness_id}", data={"csrf_token": token}, follow_redirects=False
    )
    assert restart.status_code == 404


def test_a_creator_gets_a_403_page(client):
    creator = sign_up(client, role="creator")
    portal_sign_in(client, creator)
    page = client.get("/enrol")
    assert page.status_code == 403
    assert "These pages are for rights holders" in page.text


def test_the_upload_takes_media_past_the_form_limit_but_not_past_the_media_limit(
    client, holder, settings
):
    portal_sign_in(client, holder)
    enrolment_id = _start(client)
    token = form_token(client, f"/enrol/{enrolment_id}")
    past_forms = b"\0" * (settings.body_max_bytes + 1)  # more than a form may carry: media
    read = _send(client, enrolment_id, past_forms, token=token)
    assert read.status_code == 400  # read, and refused as media that do not decode
    assert "Not enrolled" not in read.text
    over = client.post(
        f"/enrol/{enrolment_id}/frames",
        content=b"x",
        headers={"Content-Length": str(settings.scan_max_bytes + 1)},
    )
    assert over.status_code == 413


@pytest.mark.still_photos
def test_photos_enrol_too_and_a_thirteenth_file_is_refused_before_any_is_read(
    client, holder, session
):
    portal_sign_in(client, holder)
    enrolment_id = _start(client)
    token = form_token(client, f"/enrol/{enrolment_id}")
    too_many = [("files", (f"{n}.jpg", b"x", "image/jpeg")) for n in range(13)]
    refused = client.post(
        f"/enrol/{enrolment_id}/frames", data={"csrf_token": token}, files=too_many
    )
    assert refused.status_code == 400 and "Upload refused" in refused.text
    assert _templates(session) == []

    photos = [("files", (name, photo(name), "image/jpeg")) for name in OBAMA]
    answer = client.post(
        f"/enrol/{enrolment_id}/frames",
        data={"csrf_token": token},
        files=photos,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("?notice=face-enrolled")
    assert len(_templates(session)) == 3
