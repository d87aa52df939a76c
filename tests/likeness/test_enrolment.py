"""Enrolment: at least three frames with one face each, one person throughout, from photos
or a video; the liveness challenge by default; only the likeness's owner enrols it. The real
dlib model on the photos in ../shared/data/faces (Barack Obama three times, Joe Biden once)."""

import io

import numpy as np
import pytest
from enrolling import OBAMA, enrol, matched, photo, picture, scan, video
from factories import create_asset
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from clearhouse.app import create_app
from likeness.models import FaceTemplateRecord

pytestmark = pytest.mark.still_photos


def test_an_enrolment_mixing_two_people_is_refused_and_stores_nothing(client, holder, session):
    asset = create_asset(client, holder, kind="likeness")
    response = enrol(client, holder, asset["id"], ["obama.jpg", "obama2.jpg", "biden.jpg"])
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "upload 3 does not show the same person" in detail
    assert session.exec(select(FaceTemplateRecord)).all() == []


def test_too_few_frames_or_a_frame_without_a_face_is_named(client, holder):
    asset = create_asset(client, holder, kind="likeness")
    two = enrol(client, holder, asset["id"], OBAMA[:2])
    assert two.status_code == 400
    assert "at least 3 frames" in two.json()["detail"]

    blank = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 130, 140)).save(blank, format="PNG")
    opened = client.post(
        f"/v1/assets/{asset['id']}/enrolments", headers=holder.headers, json={}
    ).json()
    files = [("files", (n, photo(n), "image/jpeg")) for n in OBAMA[:2]]
    files.append(("files", ("blank.png", blank.getvalue(), "image/png")))
    response = client.post(
        f"/v1/enrolments/{opened['id']}/frames", headers=holder.headers, files=files
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("upload 3 shows no face")


def test_a_face_is_enrolled_from_a_video_skipping_frames_without_one(client, holder):
    asset = create_asset(client, holder, kind="likeness")
    blank = np.full_like(picture("obama.jpg"), 90)
    clip = video([blank] * 2 + [picture("obama.jpg")] * 3 + [picture("obama2.jpg")] * 3)
    opened = client.post(
        f"/v1/assets/{asset['id']}/enrolments", headers=holder.headers, json={}
    ).json()
    response = client.post(
        f"/v1/enrolments/{opened['id']}/frames",
        headers=holder.headers,
        files=[("files", ("me.mp4", clip, "video/mp4"))],
    )
    assert response.status_code == 200, response.text
    assert response.json()["enrolment"]["status"] == "enrolled"
    assert response.json()["templates"] == 5  # spread over the six frames with a face
    assert matched(scan(client, holder, "obama_partial_face.jpg")) == {asset["id"]}


def test_enrolment_needs_the_liveness_challenge_by_default(settings, holder):
    with TestClient(create_app(settings)) as strict:
        asset = create_asset(strict, holder, kind="likeness")
        opened = strict.post(
            f"/v1/assets/{asset['id']}/enrolments", headers=holder.headers, json={}
        ).json()
        assert opened["liveness_required"] is True
        assert opened["challenge"][0] == "frontal"
        assert sorted(opened["challenge"][1:]) == ["left", "right", "up"]
        photos = [
            ("files", (n, photo(n), "image/jpeg"))
            for n in ["obama.jpg", "obama_partial_face.jpg", "obama.jpg", "obama.jpg"]
        ]
        response = strict.post(
            f"/v1/enrolments/{opened['id']}/frames", headers=holder.headers, files=photos
        )
    assert response.status_code == 400
    assert "Liveness check failed" in response.json()["detail"]
    assert f"no frame shows {opened['challenge'][1]}" in response.json()["detail"]


def test_enrolment_is_for_likeness_assets_and_their_owner(client, holder, other_holder):
    character = create_asset(client, holder)
    refused = client.post(
        f"/v1/assets/{character['id']}/enrolments", headers=holder.headers, json={}
    )
    assert refused.status_code == 400
    likeness = create_asset(client, holder, kind="likeness")
    assert (
        client.post(
            f"/v1/assets/{likeness['id']}/enrolments", headers=other_holder.headers, json={}
        ).status_code
        == 404
    )
    opened = client.post(
        f"/v1/assets/{likeness['id']}/enrolments", headers=holder.headers, json={}
    ).json()
    assert (
        client.get(f"/v1/enrolments/{opened['id']}", headers=other_holder.headers).status_code
        == 404
    )
    files = [("files", (n, photo(n), "image/jpeg")) for n in OBAMA]
    assert (
        client.post(
            f"/v1/enrolments/{opened['id']}/frames", headers=other_holder.headers, files=files
        ).status_code
        == 404
    )
