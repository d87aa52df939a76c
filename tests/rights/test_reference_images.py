"""Reference pictures of characters and styles: uploaded by their owner, kept as fingerprints
only, found again in input pictures by every API process, gone with their asset."""

import uuid

import numpy as np
import pytest
from drawn_characters import EDITS, draw_character, jpeg_bytes, png_bytes
from factories import create_asset, unverified_holder_of
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text
from stored import every_stored_text

from clearhouse.app import create_app
from clearhouse.db import read_session


def _upload(client, user, asset_id: str, *pictures: bytes):
    files = [("files", (f"picture{n}.png", data, "image/png")) for n, data in enumerate(pictures)]
    return client.post(f"/v1/assets/{asset_id}/references", headers=user.headers, files=files)


def _matches(client, pictures):
    """What the app's reference catalogue finds in ``pictures``, as a clearance would ask."""
    with read_session(client.app.state.engine) as session:
        return client.app.state.reference_catalogue.match(session, list(pictures))


def _matched(client, *pictures) -> set[str]:
    return {str(match.asset_id) for match in _matches(client, pictures)}


def test_an_owner_registers_pictures_and_an_edited_copy_is_found_as_the_character(client, holder):
    asset = create_asset(client, holder, kind="character")
    picture = draw_character(7)
    response = _upload(
        client, holder, asset["id"], png_bytes(picture), png_bytes(draw_character(8))
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert [r["asset_id"] for r in created] == [asset["id"]] * 2
    assert set(created[0]) == {
        "id",
        "asset_id",
        "sha256",
        "byte_size",
        "embedding_model",
        "created_at",
    }

    listed = client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json()
    assert [r["id"] for r in listed] == [r["id"] for r in created]

    rng = np.random.default_rng(0)
    cropped = jpeg_bytes(EDITS["crop_90"](picture, rng))
    recoloured = np.asarray(EDITS["hue_shift_180"](picture, rng))
    first, second = _matches(client, [cropped, recoloured])
    assert (first.asset_id, second.asset_id) == (uuid.UUID(asset["id"]),) * 2
    assert (first.input_index, second.input_index) == (0, 1)
    assert first.reference_id == uuid.UUID(created[0]["id"])
    assert first.kind == "reference_image"
    assert 0.85 <= first.score <= 1.0
    assert _matched(client, png_bytes(draw_character(99))) == set()


def test_only_the_fingerprint_is_kept_never_the_picture(client, holder, engine):
    asset = create_asset(client, holder, kind="style")
    data = png_bytes(draw_character(3))
    assert _upload(client, holder, asset["id"], data).status_code == 201
    stored = every_stored_text(engine)
    assert repr(data[:64])[2:-1] not in stored
    assert "IHDR" not in stored  # no PNG, of any size, anywhere


def test_deleting_a_reference_stops_matching_it_in_every_process(settings, client, holder):
    """Two apps on one database stand for two API processes, each with its own index."""
    picture = draw_character(11)
    with TestClient(create_app(settings)) as other:
        asset = create_asset(client, holder, kind="character")
        (reference,) = _upload(client, holder, asset["id"], png_bytes(picture)).json()
        assert _matched(other, png_bytes(picture)) == {asset["id"]}
        deleted = client.delete(
            f"/v1/assets/{asset['id']}/references/{reference['id']}", headers=holder.headers
        )
        assert deleted.status_code == 204
        assert _matched(other, png_bytes(picture)) == set()
        assert _matched(client, png_bytes(picture)) == set()
        assert other.app.state.reference_catalogue.index.count() == 0
        # Added again through the other process: this one loads it.
        assert _upload(other, holder, asset["id"], png_bytes(picture)).status_code == 201
        assert _matched(client, png_bytes(picture)) == {asset["id"]}


def test_deleting_the_asset_deletes_its_references_everywhere(settings, client, holder, engine):
    picture = draw_character(12)
    asset = create_asset(client, holder, kind="character")
    assert _upload(client, holder, asset["id"], png_bytes(picture)).status_code == 201
    with TestClient(create_app(settings)) as other:
        assert _matched(other, png_bytes(picture)) == {asset["id"]}
        assert client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 200
        assert _matched(other, png_bytes(picture)) == set()
        assert _matched(client, png_bytes(picture)) == set()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM asset_reference_image")).scalar() == 0


def test_a_restarted_process_loads_every_reference(settings, client, holder):
    asset = create_asset(client, holder, kind="character")
    pictures = [draw_character(n) for n in (20, 21, 22)]
    assert _upload(client, holder, asset["id"], *map(png_bytes, pictures)).status_code == 201
    with TestClient(create_app(settings)) as restarted:
        assert restarted.app.state.reference_catalogue.index.count() == 3
        assert _matched(restarted, jpeg_bytes(pictures[1], 40)) == {asset["id"]}


def test_each_asset_holds_at_most_its_limit_of_pictures(client, holder, settings):
    asset = create_asset(client, holder, kind="character")
    limit = settings.reference_images_per_asset
    pictures = [png_bytes(draw_character(100 + n)) for n in range(limit + 1)]
    for start in range(0, limit, 5):
        assert _upload(client, holder, asset["id"], *pictures[start : start + 5]).status_code == 201
    response = _upload(client, holder, asset["id"], pictures[limit])
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("/too-many-reference-images")
    assert f"holds {limit} reference pictures and may hold {limit}" in problem["detail"]
    listed = client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json()
    assert len(listed) == limit


def test_the_same_file_twice_is_refused_and_nothing_is_added(client, holder):
    asset = create_asset(client, holder, kind="character")
    data = png_bytes(draw_character(30))
    twice = _upload(client, holder, asset["id"], data, data)
    assert twice.status_code == 409
    assert "files 1 and 2 are the same file" in twice.json()["detail"]
    (first,) = _upload(client, holder, asset["id"], data).json()
    again = _upload(client, holder, asset["id"], png_bytes(draw_character(31)), data)
    assert again.status_code == 409
    assert (
        f"file 2 is already registered for this asset as reference {first['id']}"
        in (again.json()["detail"])
    )
    listed = client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json()
    assert [r["id"] for r in listed] == [first["id"]]


@pytest.mark.parametrize(
    ("data", "status", "problem", "detail"),
    [
        (b"not a picture", 415, "unsupported-media", "file 1: this file is not a supported"),
        (
            png_bytes(Image.new("RGB", (200, 200), "teal")),
            400,
            "unusable-reference-image",
            "file 1: the picture is nearly one flat colour",
        ),
        (
            png_bytes(draw_character(1).resize((20, 20))),
            400,
            "unusable-reference-image",
            "file 1: the picture is 20x20 pixels",
        ),
        (
            b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64,
            415,
            "unsupported-media",
            "file 1: it is a video",
        ),
    ],
    ids=["not-a-picture", "flat", "tiny", "video"],
)
def test_unusable_uploads_are_refused_with_what_to_send(
    client, holder, data, status, problem, detail
):
    asset = create_asset(client, holder, kind="character")
    response = _upload(client, holder, asset["id"], data)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(f"/{problem}")
    assert detail in response.json()["detail"]


def test_a_likeness_takes_no_reference_pictures(client, holder):
    asset = create_asset(client, holder, kind="likeness")
    response = _upload(client, holder, asset["id"], png_bytes(draw_character(2)))
    assert response.status_code == 400
    assert response.json()["type"].endswith("/not-a-character-or-style")
    assert "/enrolments" in response.json()["detail"]


def test_six_files_are_refused_while_parsing(client, holder):
    asset = create_asset(client, holder, kind="character")
    response = _upload(client, holder, asset["id"], *[png_bytes(draw_character(5))] * 6)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/unreadable-upload")
    assert "Send 1 to 5 pictures as `files`" in response.json()["detail"]


def test_an_unverified_holder_cannot_register_pictures(client, engine):
    unverified, asset = unverified_holder_of(client, engine, kind="character")
    response = _upload(client, unverified, asset["id"], png_bytes(draw_character(4)))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/email-not-verified")
