"""The IP image check by CLIP embeddings, with a CLIP model directory configured: a
reference's embedding is computed at upload and kept beside its fingerprint, every API
process loads it with the row, and an input picture that no fingerprint matches is found by
its embedding's cosine. The model is a tiny random one (tests/clip_models.py): its cosines
mean nothing, so the bound is set between two measured here."""

import json
import shutil
from dataclasses import dataclass

import numpy as np
import pytest
from clearing import check_output, clear
from clip_models import build_random_clip
from drawn_characters import EDITS, draw_character, png_bytes
from factories import create_asset, sign_up
from fastapi.testclient import TestClient
from portal_client import portal_sign_in
from sqlmodel import select

from clearhouse.app import create_app
from clearhouse.db import read_session
from rights.matching.clip_embeddings import (
    ClipModelUnavailable,
    embed_pictures,
    embedding_from_bytes,
    load_clip_encoder,
)
from rights.references.models import ReferenceImage

PROMPT = "a watercolour of a lighthouse at dawn"
ALIKE_FOUND = "pictures alike in content are found too"  # the portal, of an embedded picture


@dataclass(frozen=True)
class Pictures:
    reference: bytes  # drawn character 3
    rotated: bytes  # it, turned 10 degrees: the fingerprints miss it
    other: bytes  # drawn character 1
    min_cosine: float


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_random_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def pictures(clip_dir) -> Pictures:
    drawn = draw_character(3)
    reference = png_bytes(drawn)
    rotated = png_bytes(EDITS["rotate_10"](drawn, np.random.default_rng(1)))
    other = png_bytes(draw_character(1))
    encoder = load_clip_encoder(clip_dir)
    to_reference, to_rotated, to_other = embed_pictures(
        encoder, [reference, rotated, other]
    ).vectors
    near, far = float(to_reference @ to_rotated), float(to_reference @ to_other)
    assert near - far > 0.1, (near, far)  # measured: 0.997 and 0.742
    return Pictures(reference, rotated, other, min_cosine=(near + far) / 2)


@pytest.fixture
def clip_settings(settings, clip_dir, pictures):
    return settings.model_copy(
        update={"clip_model_dir": clip_dir, "clip_min_cosine": pictures.min_cosine}
    )


@pytest.fixture
def clip_client(clip_settings):
    with TestClient(create_app(clip_settings)) as test_client:
        yield test_client


def _upload(client, owner, asset_id: str, data: bytes):
    return client.post(
        f"/v1/assets/{asset_id}/references",
        headers=owner.headers,
        files=[("files", ("reference.png", data, "image/png"))],
    )


def _found(client, data: bytes) -> dict[str, tuple[str, float]]:
    """Asset id -> (method, score) of what this app's catalogue finds in the picture."""
    with read_session(client.app.state.engine) as session:
        matches = client.app.state.reference_catalogue.match(session, [data])
    return {str(match.asset_id): (match.method, match.score) for match in matches}


def _stored(client) -> list[ReferenceImage]:
    with read_session(client.app.state.engine) as session:
        return list(session.exec(select(ReferenceImage)).all())


def test_an_upload_keeps_the_pictures_embedding_by_its_model(clip_client, clip_dir, pictures):
    owner = sign_up(clip_client)
    asset = create_asset(clip_client, owner, kind="character")
    response = _upload(clip_client, owner, asset["id"], pictures.reference)
    assert response.status_code == 201, response.text
    model_key = clip_client.app.state.reference_catalogue.clip.model_key
    assert response.json()[0]["embedding_model"] == model_key

    [row] = _stored(clip_client)
    assert row.embedding_model == model_key
    expected = embed_pictures(load_clip_encoder(clip_dir), [pictures.reference]).vectors[0]
    assert np.allclose(embedding_from_bytes(row.embedding), expected, atol=1e-5)
    portal_sign_in(clip_client, owner)
    assert ALIKE_FOUND in clip_client.get(f"/assets/{asset['id']}").text


def test_a_clearance_finds_by_embedding_what_the_fingerprints_miss(clip_client, settings, pictures):
    owner, requester = sign_up(clip_client), sign_up(clip_client)
    asset = create_asset(clip_client, owner, kind="character", handle="drawn_three")
    assert _upload(clip_client, owner, asset["id"], pictures.reference).status_code == 201
    with TestClient(create_app(settings)) as without_clip:  # fingerprints only
        assert _found(without_clip, pictures.reference) == {asset["id"]: ("fingerprint", 1.0)}
        assert _found(without_clip, pictures.rotated) == {}

    answer = clear(clip_client, requester, PROMPT, [pictures.rotated]).json()
    assert answer["outcome"] == "denied", answer
    [touched] = answer["assets"]
    [evidence] = touched["matched_by"]
    assert (touched["handle"], evidence["kind"], evidence["method"]) == (
        "drawn_three",
        "reference_image",
        "embedding",
    )
    assert pictures.min_cosine <= evidence["score"] <= 1.0

    copied = clear(clip_client, requester, PROMPT, [pictures.reference]).json()
    assert copied["assets"][0]["matched_by"][0]["method"] == "fingerprint"
    assert clear(clip_client, requester, PROMPT, [pictures.other]).json()["assets"] == []


def test_an_output_alike_a_reference_is_blocked_by_embedding(clip_client, pictures):
    owner, requester = sign_up(clip_client), sign_up(clip_client)
    asset = create_asset(clip_client, owner, kind="character", handle="drawn_three")
    assert _upload(clip_client, owner, asset["id"], pictures.reference).status_code == 201
    cleared = clear(clip_client, requester, PROMPT).json()
    assert cleared["outcome"] == "cleared", cleared

    released = check_output(clip_client, requester, cleared["id"], [pictures.other]).json()
    assert released["verdict"] == "release_allowed", released
    blocked = check_output(clip_client, requester, cleared["id"], [pictures.rotated]).json()
    assert blocked["verdict"] == "release_blocked", blocked
    [found] = blocked["found"]
    assert (found["handle"], found["matched_by"][0]["method"]) == ("drawn_three", "embedding")


def test_another_process_loads_the_embedding_and_drops_it_when_removed(
    clip_settings, clip_client, pictures
):
    """Two apps on one database stand for two API processes, each with its own index."""
    with TestClient(create_app(clip_settings)) as other:
        owner = sign_up(clip_client)
        asset = create_asset(clip_client, owner, kind="character")
        (reference,) = _upload(clip_client, owner, asset["id"], pictures.reference).json()
        for process in (clip_client, other):
            [(method, score)] = _found(process, pictures.rotated).values()
            assert method == "embedding" and score >= pictures.min_cosine

        deleted = clip_client.delete(
            f"/v1/assets/{asset['id']}/references/{reference['id']}", headers=owner.headers
        )
        assert deleted.status_code == 204
        assert _found(clip_client, pictures.rotated) == {}
        assert _found(other, pictures.rotated) == {}


def test_embeddings_of_another_model_are_never_compared(
    clip_client, clip_settings, clip_dir, pictures, tmp_path
):
    """The same weights under another configuration file: another model by its key, whose
    embeddings would match if they were compared."""
    renamed = tmp_path / "renamed-clip"
    shutil.copytree(clip_dir, renamed)
    config = json.loads((renamed / "config.json").read_text())
    (renamed / "config.json").write_text(json.dumps(config | {"_name_or_path": "renamed"}))
    owner = sign_up(clip_client)
    asset = create_asset(clip_client, owner, kind="character")
    assert _upload(clip_client, owner, asset["id"], pictures.reference).status_code == 201

    with TestClient(create_app(clip_settings.model_copy(update={"clip_model_dir": renamed}))) as b:
        assert b.app.state.reference_catalogue.clip.model_key != _stored(b)[0].embedding_model
        assert _found(b, pictures.rotated) == {}
        assert _found(b, pictures.reference) == {asset["id"]: ("fingerprint", 1.0)}


def test_without_a_model_no_embedding_is_kept(client, holder, pictures):
    asset = create_asset(client, holder, kind="character")
    response = _upload(client, holder, asset["id"], pictures.reference)
    assert response.status_code == 201, response.text
    assert response.json()[0]["embedding_model"] is None
    [row] = _stored(client)
    assert (row.embedding_model, row.embedding) == (None, None)
    assert client.app.state.reference_catalogue.clip is None
    assert _found(client, pictures.rotated) == {}
    portal_sign_in(client, holder)
    page = client.get(f"/assets/{asset['id']}").text
    assert "Picture 1" in page and ALIKE_FOUND not in page


def test_a_reference_uploaded_before_the_model_keeps_matching_by_fingerprint(
    client, holder, clip_settings, pictures
):
    asset = create_asset(client, holder, kind="character")
    assert _upload(client, holder, asset["id"], pictures.reference).status_code == 201
    with TestClient(create_app(clip_settings)) as with_clip:
        assert _found(with_clip, pictures.reference) == {asset["id"]: ("fingerprint", 1.0)}
        assert _found(with_clip, pictures.rotated) == {}


def test_a_model_dir_that_does_not_load_stops_the_start_saying_why(settings, clip_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    empty_settings = settings.model_copy(update={"clip_model_dir": empty})
    with pytest.raises(ClipModelUnavailable, match=r"holds no config\.json, .*save_pretrained"):
        TestClient(create_app(empty_settings)).__enter__()
    broken = tmp_path / "broken"
    shutil.copytree(clip_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    broken_settings = settings.model_copy(update={"clip_model_dir": broken})
    with pytest.raises(ClipModelUnavailable, match=r"cannot load the CLIP model in .*broken"):
        TestClient(create_app(broken_settings)).__enter__()


def test_an_upload_alike_another_holders_reference_puts_it_in_review(clip_client, pictures):
    """The overlap check of new pictures looks them up as input pictures are: by embedding
    too."""
    first, second = sign_up(clip_client), sign_up(clip_client)
    theirs = create_asset(clip_client, first, kind="character")
    assert _upload(clip_client, first, theirs["id"], pictures.reference).status_code == 201
    mine = create_asset(clip_client, second, kind="character", name="Nova Knight")

    def standing() -> str:
        shown = clip_client.get(f"/v1/assets/{mine['id']}", headers=second.headers)
        return shown.json()["standing"]

    assert standing() != "in_review"
    assert _upload(clip_client, second, mine["id"], pictures.rotated).status_code == 201
    assert standing() == "in_review"
    [case] = clip_client.get("/v1/overlaps", headers=second.headers).json()["items"]
    assert case["overlaps_by"] == ["reference_image"]


def test_a_whole_clip_model_directory_embeds_as_its_image_features(tmp_path):
    """OpenAI's checkpoints are published as whole CLIPModels (text tower too): the vision
    tower and its projection are read from them, with the projection's width."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    config = CLIPConfig(
        text_config=tower | {"num_attention_heads": 2},
        vision_config=tower | {"num_attention_heads": 2, "patch_size": 32, "image_size": 224},
        projection_dim=24,
    )
    torch.manual_seed(0)
    whole = CLIPModel(config).eval()
    whole.save_pretrained(tmp_path, safe_serialization=True)
    CLIPImageProcessorPil().save_pretrained(tmp_path)
    picture = np.asarray(draw_character(3))

    ours = load_clip_encoder(tmp_path).embed([picture]).vectors[0]
    inputs = CLIPImageProcessorPil.from_pretrained(tmp_path)(images=[picture], return_tensors="pt")
    with torch.inference_mode():
        features = whole.get_image_features(**inputs)
    theirs = getattr(features, "pooler_output", features)[0].numpy()
    assert ours.shape == (24,)
    assert float(ours @ theirs / np.linalg.norm(theirs)) > 0.9999
