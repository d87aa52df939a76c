"""POST /v1/clearances with input media: faces go through the likeness index, pictures through
the reference pictures of characters and styles; the requester learns only what the owners
made public, and the digest covers every input file, in order."""

import hashlib
import json

import numpy as np
import pytest
from clearing import (
    PARAMETERS,
    USD_POLICY,
    character_with_reference,
    clear,
    clearance_body,
    licensed,
    token_claims,
)
from drawn_characters import EDITS, draw_character, jpeg_bytes, png_bytes
from enrolling import photo, picture, video
from factories import sign_up

from licensing.digest import request_digest
from policies.decisions import NOT_CONSENTED

pytestmark = pytest.mark.still_photos

PROMPT = "a person walking on a beach at dawn"


def _assert_names_nobody(answer_text: str, likeness: dict) -> None:
    """Nothing in the answer that identifies the face or says how close it came."""
    assert likeness["id"] not in answer_text
    assert likeness["handle"] not in answer_text
    assert "score" not in answer_text and "similarity" not in answer_text


@pytest.mark.parametrize("consent", ["none", "to_someone_else"])
def test_a_face_whose_owner_has_not_consented_to_the_requester_denies_and_names_nobody(
    client, holder, likeness, requester, consent
):
    if consent == "to_someone_else":
        someone = sign_up(client, role="creator")
        licensed(
            client,
            holder,
            likeness["id"],
            {**USD_POLICY, "audience": "listed", "listed_accounts": [str(someone.id)]},
        )
    answer = clear(client, requester, PROMPT, [photo("obama2.jpg")])
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["outcome"] == "denied" and body["token"] is None
    [touched] = body["assets"]
    assert touched["asset_id"] is None and touched["handle"] is None
    assert touched["reasons"] == [NOT_CONSENTED.text]
    assert [(m["kind"], m["input"]) for m in touched["matched_by"]] == [("face", 0)]
    assert NOT_CONSENTED.text in body["reasons"]
    _assert_names_nobody(answer.text, likeness)
    stored = client.get(f"/v1/clearances/{body['id']}", headers=requester.headers)
    assert stored.json()["assets"][0]["reasons"] == [NOT_CONSENTED.text]
    _assert_names_nobody(stored.text, likeness)


def test_a_face_whose_owner_consented_is_allowed_named_and_priced(
    client, holder, likeness, requester
):
    licensed(client, holder, likeness["id"])
    answer = clear(client, requester, PROMPT, [photo("obama2.jpg")])
    body = answer.json()
    assert body["outcome"] == "cleared", answer.text
    [touched] = body["assets"]
    assert (touched["asset_id"], touched["handle"]) == (likeness["id"], "barack_face")
    assert touched["outcome"] == "allow"
    fees = {line["item"]: line for line in body["quote"]["lines"] if line["asset_id"]}
    assert fees["licence_per_use"]["amount_minor"] == 150
    assert fees["licence_per_second"]["amount_minor"] == 40
    assert all(line["asset_id"] == likeness["id"] for line in fees.values())
    # Named, yet the face's similarity stays with its owner.
    assert "score" not in answer.text


def test_the_owner_sees_the_similarity_the_requester_does_not(client, holder, likeness, requester):
    licensed(client, holder, likeness["id"])
    cleared = clear(client, requester, PROMPT, [photo("obama2.jpg")]).json()
    [use] = client.get(f"/v1/assets/{likeness['id']}/usage", headers=holder.headers).json()["items"]
    assert use["clearance_id"] == cleared["id"] and use["found_in"] == "request"
    [evidence] = use["matched_by"]
    assert evidence["kind"] == "face" and evidence["score"] > 0.5


def test_a_face_nobody_registered_changes_nothing(client, likeness, requester):
    answer = clear(client, requester, PROMPT, [photo("biden.jpg")])
    body = answer.json()
    assert body["outcome"] == "cleared", answer.text
    assert body["assets"] == []
    assert [line["item"] for line in body["quote"]["lines"]] == ["compute"]


def test_a_face_in_a_short_video_is_found_at_its_frame(client, likeness, requester):
    frames = [
        picture("biden.jpg"),
        picture("biden.jpg"),
        picture("obama2.jpg"),
        picture("obama2.jpg"),
    ]
    answer = clear(client, requester, PROMPT, [photo("biden.jpg"), video(frames, fps=2)])
    body = answer.json()
    assert body["outcome"] == "denied", answer.text
    [touched] = body["assets"]
    [evidence] = touched["matched_by"]
    assert evidence["input"] == 1 and evidence["frame"] >= 2
    _assert_names_nobody(answer.text, likeness)


def test_a_reference_picture_in_the_input_touches_its_character(client, holder, requester):
    drawn = draw_character(7)
    character = character_with_reference(client, holder, png_bytes(drawn), handle="drawn_seven")
    copied = jpeg_bytes(EDITS["crop_90"](drawn, np.random.default_rng(1)))

    unlicensed = clear(client, requester, PROMPT, [photo("biden.jpg"), copied]).json()
    assert unlicensed["outcome"] == "denied"
    [touched] = unlicensed["assets"]
    assert (touched["handle"], touched["outcome"]) == ("drawn_seven", "deny")
    [evidence] = touched["matched_by"]
    assert (evidence["kind"], evidence["input"]) == ("reference_image", 1)
    assert evidence["score"] >= 0.85

    licensed(client, holder, character["id"])
    answer = clear(client, requester, PROMPT, [copied])
    assert answer.json()["outcome"] == "cleared", answer.text
    assert answer.json()["assets"][0]["asset_id"] == character["id"]
    assert clear(client, requester, PROMPT, [png_bytes(draw_character(99))]).json()["assets"] == []


def test_the_digest_covers_each_input_file_in_order(client, requester):
    first, second = photo("biden.jpg"), png_bytes(draw_character(3))
    hashes = [hashlib.sha256(data).hexdigest() for data in (first, second)]
    body = clear(client, requester, PROMPT, [first, second]).json()
    assert body["input_media_sha256"] == hashes
    assert body["request_digest"] == request_digest(
        prompt=PROMPT, declared_use="commercial", parameters=PARAMETERS, input_media_sha256=hashes
    )
    swapped = clear(client, requester, PROMPT, [second, first]).json()
    assert swapped["request_digest"] != body["request_digest"]
    claims = token_claims(client, body)
    assert str(claims.clearance_id) == body["id"]
    json_only = clear(client, requester, PROMPT).json()
    assert json_only["input_media_sha256"] == []
    assert json_only["request_digest"] == request_digest(
        prompt=PROMPT, declared_use="commercial", parameters=PARAMETERS, input_media_sha256=[]
    )


def _problem(answer, status: int, slug: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith(f"/{slug}"), problem
    return problem


def test_unusable_media_get_problem_details_naming_the_file(client, requester):
    broken = photo("biden.jpg")[:2000]
    problem = _problem(
        clear(client, requester, PROMPT, [photo("biden.jpg"), broken]), 400, "corrupt-media"
    )
    assert problem["detail"].startswith("file 2:")
    _problem(
        clear(client, requester, PROMPT, [b"just some text, no picture"]), 415, "unsupported-media"
    )


def test_a_malformed_form_is_refused_before_anything_is_decoded(client, requester):
    media = [("files", ("input.jpg", photo("biden.jpg"), "image/jpeg"))]
    missing = client.post("/v1/clearances", headers=requester.headers, files=media)
    _problem(missing, 422, "malformed-body")
    not_json = client.post(
        "/v1/clearances", headers=requester.headers, files=[("request", (None, "{prompt")), *media]
    )
    _problem(not_json, 422, "malformed-body")
    invalid = client.post(
        "/v1/clearances",
        headers=requester.headers,
        files=[("request", (None, json.dumps(clearance_body("")))), *media],
    )
    assert _problem(invalid, 422, "malformed-body")["errors"][0]["location"] == ["body", "prompt"]
    too_many = [("request", (None, json.dumps(clearance_body(PROMPT))))] + media * 9
    _problem(
        client.post("/v1/clearances", headers=requester.headers, files=too_many),
        400,
        "unreadable-upload",
    )
    stray = [
        ("request", (None, json.dumps(clearance_body(PROMPT)))),
        ("note", (None, "hi")),
        *media,
    ]
    _problem(
        client.post("/v1/clearances", headers=requester.headers, files=stray),
        400,
        "unreadable-upload",
    )


def test_a_json_body_keeps_the_limit_of_json_bodies(client, requester):
    """The route takes media, up to the upload limit, only as files of a form."""
    limit = client.app.state.settings.body_max_bytes
    padded = clearance_body(PROMPT, parameters={**PARAMETERS, "padding": "x" * limit})
    answer = client.post("/v1/clearances", headers=requester.headers, json=padded)
    _problem(answer, 413, "content-too-large")
