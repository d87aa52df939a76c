"""The scan of images and videos: an enrolled face is found and another person is not; bad
or oversized media is refused clearly. The real dlib model on the photos in
../shared/data/faces (Barack Obama three times, Joe Biden once)."""

import numpy as np
import pytest
from enrolling import OBAMA, enrol, matched, photo, picture, scan, video
from factories import create_asset, promote, sign_up
from fastapi.testclient import TestClient
from sqlmodel import select

from clearhouse.app import create_app
from likeness.models import EnrolmentMedia

pytestmark = pytest.mark.still_photos


def test_an_enrolled_face_is_found_and_another_person_is_not(client, holder, session):
    asset = create_asset(client, holder, kind="likeness")
    result = enrol(client, holder, asset["id"], OBAMA)
    assert result.status_code == 200, result.text
    assert result.json()["enrolment"]["status"] == "enrolled"
    assert result.json()["templates"] == 3
    assert session.exec(select(EnrolmentMedia)).all() == []  # the photos were not kept
    session.commit()

    found = scan(client, holder, "obama.jpg")
    assert found["model_key"] == "dlib/resnet-v1"
    assert len(found["faces"]) == 1
    assert found["faces"][0]["matches"][0]["asset_id"] == asset["id"]
    assert found["faces"][0]["matches"][0]["similarity"] is None  # moderators only
    moderator = promote(session, sign_up(client), "moderator")
    seen_by_staff = scan(client, moderator, "obama.jpg")["faces"][0]["matches"][0]
    assert seen_by_staff["similarity"] >= found["threshold"]
    biden = scan(client, holder, "biden.jpg")
    assert len(biden["faces"]) == 1
    assert biden["faces"][0]["matches"] == []


def test_a_likeness_without_an_active_grant_is_still_found(client, holder):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    client.post(
        f"/v1/assets/{asset['id']}/policies",
        headers=holder.headers,
        json={"audience": "anyone", "allowed_uses": ["personal"]},
    )
    grant = client.post(f"/v1/assets/{asset['id']}/grants", headers=holder.headers, json={})
    client.post(f"/v1/grants/{grant.json()['grant']['id']}/revoke", headers=holder.headers, json={})
    assert matched(scan(client, holder, "obama.jpg")) == {asset["id"]}


def test_a_video_is_scanned_frame_by_frame(client, holder):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    frame = picture("obama.jpg")
    clip = video([np.full_like(frame, 90)] * 4 + [frame] * 4)
    result = scan(client, holder, clip)
    assert result["frames_scanned"] == 4  # two seconds at the default 2 frames per second
    assert {face["timestamp_s"] >= 1.0 for face in result["faces"]} == {True}
    assert matched(result) == {asset["id"]}


@pytest.mark.parametrize(
    ("payload", "status", "slug"),
    [
        (b"just some text, not a picture", 415, "unsupported-media"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 400, "corrupt-media"),
        (b"", 400, "empty-media"),
    ],
)
def test_the_scan_refuses_bad_media_clearly(client, holder, payload, status, slug):
    response = client.post(
        "/v1/likeness/scan",
        headers=holder.headers,
        files={"file": ("upload", payload, "application/octet-stream")},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(slug)


def test_the_scan_refuses_oversized_uploads(stills_settings, holder):
    small = stills_settings.model_copy(update={"scan_max_bytes": 10_000})
    with TestClient(create_app(small)) as limited:
        response = limited.post(
            "/v1/likeness/scan",
            headers=holder.headers,
            files={"file": ("big.jpg", photo("obama.jpg"), "image/jpeg")},
        )
    assert response.status_code == 413
    assert "10000 bytes" in response.json()["detail"]
