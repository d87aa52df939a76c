"""Enrolment, the vault, one face one owner, and the scan, with the real dlib model on real
photos (../shared/data/faces: three photos of Barack Obama, one of Joe Biden)."""

import io
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from enrolling import OBAMA, enrol, matched, photo, picture, scan, video
from factories import create_asset, promote, sign_up
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from clearhouse.app import create_app
from clearhouse.db import utcnow
from likeness import vault, vault_crypto
from likeness.models import EnrolmentMedia, FaceTemplateRecord, LikenessKey
from likeness.tasks import destroy_idle_templates


@pytest.fixture
def client(stills_settings):
    with TestClient(create_app(stills_settings)) as test_client:
        yield test_client


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


def test_a_second_account_enrolling_the_same_face_gets_a_conflict(client, holder, session):
    first = create_asset(client, holder, kind="likeness")
    assert (
        enrol(client, holder, first["id"], [*OBAMA[:2], "obama_partial_face.jpg"]).status_code
        == 200
    )
    impostor = sign_up(client)
    second = create_asset(client, impostor, kind="likeness")
    response = enrol(client, impostor, second["id"], OBAMA)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enrolment"]["status"] == "conflict"
    assert body["conflict_id"]
    # Held, not enrolled: the scan still names only the first holder's likeness.
    moderator = promote(session, sign_up(client), "moderator")
    assert matched(scan(client, moderator, "obama2.jpg")) == {first["id"]}

    mine = client.get("/v1/likeness/conflicts", headers=impostor.headers).json()["items"]
    theirs = client.get("/v1/likeness/conflicts", headers=holder.headers).json()["items"]
    assert [(c["your_part"], c["status"]) for c in mine] == [("claimant", "open")]
    assert [(c["your_part"], c["status"]) for c in theirs] == [("existing_owner", "open")]
    assert mine[0]["similarity"] is None  # only moderators see the score
    bystander = sign_up(client)
    assert (
        client.get(
            f"/v1/likeness/conflicts/{body['conflict_id']}", headers=bystander.headers
        ).status_code
        == 404
    )
    refused = client.post(
        f"/v1/likeness/conflicts/{body['conflict_id']}/resolve",
        headers=impostor.headers,
        json={"decision": "accept"},
    )
    assert refused.status_code == 403

    queue = client.get("/v1/likeness/conflicts?status=open", headers=moderator.headers).json()
    assert queue["total"] == 1
    assert queue["items"][0]["similarity"] >= 0.9
    resolved = client.post(
        f"/v1/likeness/conflicts/{body['conflict_id']}/resolve",
        headers=moderator.headers,
        json={"decision": "reject", "note": "same person, enrolled first"},
    )
    assert resolved.json()["status"] == "rejected"
    held = session.exec(
        select(FaceTemplateRecord).where(FaceTemplateRecord.likeness_id == uuid.UUID(second["id"]))
    ).all()
    assert held == []
    session.commit()
    again = client.post(
        f"/v1/likeness/conflicts/{body['conflict_id']}/resolve",
        headers=moderator.headers,
        json={"decision": "accept"},
    )
    assert again.status_code == 409


def test_an_accepted_claim_is_enrolled_and_found(client, holder, session):
    first = create_asset(client, holder, kind="likeness")
    enrol(client, holder, first["id"], OBAMA)
    twin = sign_up(client)
    second = create_asset(client, twin, kind="likeness")
    conflict_id = enrol(client, twin, second["id"], OBAMA).json()["conflict_id"]
    moderator = promote(session, sign_up(client), "moderator")
    accepted = client.post(
        f"/v1/likeness/conflicts/{conflict_id}/resolve",
        headers=moderator.headers,
        json={"decision": "accept"},
    )
    assert accepted.json()["status"] == "accepted"
    assert matched(scan(client, moderator, "obama.jpg")) == {first["id"], second["id"]}
    assert matched(scan(client, twin, "obama.jpg")) == {second["id"]}  # only their own
    claimant_view = client.get(f"/v1/likeness/conflicts/{conflict_id}", headers=twin.headers).json()
    assert claimant_view["status"] == "accepted"


def test_the_same_owner_cannot_enrol_one_face_twice(client, holder):
    first = create_asset(client, holder, kind="likeness")
    enrol(client, holder, first["id"], OBAMA)
    second = create_asset(client, holder, kind="likeness")
    response = enrol(client, holder, second["id"], OBAMA)
    assert response.status_code == 409
    assert f"@{first['handle']}" in response.json()["detail"]


def test_the_vault_holds_no_embedding_and_deletion_shreds_it(client, holder, session, engine):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA, keep_media=True)
    runtime = client.app.state.likeness
    likeness_id = uuid.UUID(asset["id"])
    embeddings = [
        t.embedding
        for t in vault.open_templates(session, key_store=runtime.key_store, likeness_id=likeness_id)
    ]
    assert len(embeddings) == 3
    rows = session.exec(select(FaceTemplateRecord)).all()
    stored = b"".join(row.sealed for row in rows)
    for embedding in embeddings:
        raw = vault_crypto.embedding_to_bytes(embedding)
        assert not any(raw[i : i + 16] in stored for i in range(0, len(raw) - 16, 4))
    if engine.dialect.name == "sqlite":  # the whole database file, pages and WAL
        database = Path(engine.url.database)
        on_disk = database.read_bytes() + Path(f"{database}-wal").read_bytes()
        raw = vault_crypto.embedding_to_bytes(embeddings[0])
        assert raw[:16] not in on_disk
    kept = session.exec(select(EnrolmentMedia)).all()
    assert len(kept) == 3  # the owner asked to keep the photos: sealed, and only that
    key = vault.data_key(session, likeness_id=likeness_id, key_store=runtime.key_store)
    opened = {vault_crypto.open_media(data_key=key, media_id=m.id, sealed=m.sealed) for m in kept}
    assert opened == {photo(name) for name in OBAMA}
    assert all(photo("obama.jpg")[:64] not in m.sealed for m in kept)
    session.commit()

    assert client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 200
    session.expire_all()
    assert session.get(LikenessKey, likeness_id) is None
    assert session.exec(select(FaceTemplateRecord)).all() == []
    assert session.exec(select(EnrolmentMedia)).all() == []
    assert runtime.key_store.get(likeness_id) is None  # tests/likeness/test_key_store.py
    session.commit()
    assert matched(scan(client, holder, "obama.jpg")) == set()


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


def test_the_index_is_rebuilt_from_the_vault_on_start(stills_settings, holder, client):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    with TestClient(create_app(stills_settings)) as restarted:
        assert restarted.app.state.likeness.index.count() == 3
        assert matched(scan(restarted, holder, "obama.jpg")) == {asset["id"]}


def test_retention_destroys_idle_templates(client, holder, session):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    key = session.get(LikenessKey, uuid.UUID(asset["id"]))
    key.last_activity_at = utcnow() - timedelta(days=3 * 365 + 1)
    session.add(key)
    session.commit()
    destroyed = destroy_idle_templates(
        session,
        now=utcnow(),
        retention_days=3 * 365,
        key_store=client.app.state.likeness.key_store,
    )
    session.commit()
    assert destroyed == [uuid.UUID(asset["id"])]
    # Retention ran outside the API process; its index catches up by the generation.
    assert matched(scan(client, holder, "obama.jpg")) == set()
    audit = client.get(f"/v1/assets/{asset['id']}/audit", headers=holder.headers).json()
    assert audit["items"][-1]["action"] == "likeness.templates_destroyed"


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


def test_a_video_is_scanned_frame_by_frame(client, holder):
    asset = create_asset(client, holder, kind="likeness")
    enrol(client, holder, asset["id"], OBAMA)
    frame = picture("obama.jpg")
    clip = video([np.full_like(frame, 90)] * 4 + [frame] * 4)
    result = scan(client, holder, clip)
    assert result["frames_scanned"] == 4  # two seconds at the default 2 frames per second
    assert {face["timestamp_s"] >= 1.0 for face in result["faces"]} == {True}
    assert matched(result) == {asset["id"]}


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


def test_two_processes_see_each_others_enrolments_and_deletions(stills_settings, holder, client):
    """Two apps on one database stand for two API processes, each with its own index."""
    with TestClient(create_app(stills_settings)) as other:
        asset = create_asset(client, holder, kind="likeness")
        enrol(client, holder, asset["id"], OBAMA)
        assert matched(scan(other, holder, "obama.jpg")) == {asset["id"]}
        # A second account enrolling the same face through the other process is caught.
        impostor = sign_up(other)
        theirs = create_asset(other, impostor, kind="likeness")
        assert enrol(other, impostor, theirs["id"], OBAMA).json()["enrolment"]["status"] == (
            "conflict"
        )
        assert client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 200
        assert matched(scan(other, holder, "obama.jpg")) == set()
        assert other.app.state.likeness.index.count() == 0  # rebuilt, not only filtered
