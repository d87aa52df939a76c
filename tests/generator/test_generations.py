"""Generations end to end on the CPU with the tiny pipeline: asked for through the API,
cleared, run by the job, checked (a registered character's picture or a registered face put
into the frames), released with its licences and charge, and its clip's C2PA manifest read
back; and what a creator, and nobody else, reads of it."""

import io
import uuid
from collections import Counter
from dataclasses import replace

import pytest
from clearing import character_with_reference, licensed, usage
from drawn_characters import draw_character, png_bytes
from enrolling import OBAMA, enrol, open_enrolment, photo
from faces import FACES_DIR
from factories import create_asset, grant, set_policy, sign_up
from fastapi.testclient import TestClient
from generating import (
    USD_POLICY,
    ShowingPicture,
    ask,
    charges_and_licences,
    generation_body,
    generator_runtime,
    job,
    queued,
)
from PIL import Image, ImageOps
from sqlmodel import select

from clearhouse.app import create_app
from generator.models import GenerationJob
from generator.provenance import read_provenance
from generator.signing_identity import CA_CERTIFICATE
from generator.tasks import run_job
from licensing.models import OutputCheck
from likeness.errors import FaceIndexUnavailable

pytestmark = pytest.mark.still_photos


@pytest.fixture
def face(client, holder) -> dict:
    """The holder's face @barack_face, enrolled from three photos and licensed to anyone."""
    asset = create_asset(client, holder, kind="likeness", handle="barack_face")
    assert enrol(client, holder, asset["id"], OBAMA).status_code == 200
    set_policy(client, holder, asset["id"], USD_POLICY)
    grant(client, holder, asset["id"])
    return asset


def test_a_cleared_generation_is_released_licensed_charged_and_signed(
    client, engine, settings, holder, requester, character, face, clip_pipeline, tmp_path
):
    asked = ask(client, requester, "Nova Knight guarding a lighthouse", cameos=["@Barack_Face"])
    clearance, generation = asked["clearance"], asked["generation"]
    assert clearance["outcome"] == "cleared" and clearance["token"] is None
    assert {a["handle"] for a in clearance["assets"]} == {"nova_knight", "barack_face"}
    assert generation["state"] == "queued"
    assert generation["parameters"]["cameos"] == ["barack_face"]

    state = run_job(uuid.UUID(generation["id"]), runtime=generator_runtime(client, clip_pipeline))

    assert state == "released"
    read = client.get(f"/v1/generations/{generation['id']}", headers=requester.headers).json()
    assert read["state"] == "released" and read["reasons"] == [] and read["attempts"] == 1
    assert read["progress"]["steps_done"] == read["progress"]["steps_total"] > 0
    fees = Counter()
    for line in clearance["quote"]["lines"]:
        fees[line["asset_id"]] += line["amount_minor"]
    licensed = {(i["handle"], i["policy_version"], i["price_minor"]) for i in read["licences"]}
    assert licensed == {
        ("nova_knight", 1, fees[character["id"]]),
        ("barack_face", 1, fees[face["id"]]),
    }
    assert read["charge"] == {"amount_minor": clearance["quote"]["total_minor"], "currency": "USD"}

    video = client.get(_path(read["video_url"], settings), headers=requester.headers)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = tmp_path / "clip.mp4"
    path.write_bytes(video.content)
    provenance = read_provenance(
        path, trust_anchors_pem=(settings.key_dir / CA_CERTIFICATE).read_bytes()
    )
    assert provenance.trusted and provenance.ai_generated
    stated = provenance.clearance
    assert stated["generation_id"] == generation["id"]
    assert stated["clearance_id"] == clearance["id"]
    assert stated["status_url"] == read["status_url"]
    assert sorted(stated["licences"], key=lambda lic: lic["asset_id"]) == sorted(
        (
            {
                "asset_id": lic["asset_id"],
                "grant_id": lic["grant_id"],
                "policy_version": lic["policy_version"],
                "price": {"amount_minor": lic["price_minor"], "currency": "USD"},
            }
            for lic in read["licences"]
        ),
        key=lambda lic: lic["asset_id"],
    )

    status = client.get(_path(read["status_url"], settings))
    assert status.status_code == 200, status.text
    assert status.json() == {
        "generation_id": generation["id"],
        "status": "released",
        "revoked_at": None,
    }
    assert charges_and_licences(engine, generation["id"]) == (1, 2)
    # Each owner sees the generation their asset was used in, and that it was released.
    for asset in (character, face):
        [use] = usage(client, holder, asset["id"])
        assert (use["generation_id"], use["generation_state"]) == (generation["id"], "released")


def test_the_output_check_ran_on_the_clip_before_release(client, session, requester, clip_pipeline):
    generation_id = queued(client, requester)
    run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline))
    released = job(client.app.state.engine, generation_id)
    assert released.state == "released"
    [check] = session.exec(
        select(OutputCheck).where(OutputCheck.clearance_id == released.clearance_id)
    ).all()
    assert check.verdict == "release_allowed" and check.frames_checked >= 1


class FaceSearchReloading:
    """The app's likeness runtime, but its first ``failures`` media work find the face index
    reloading a shard (likeness/index/sharded.py)."""

    def __init__(self, likeness, *, failures: int) -> None:
        self.likeness, self.failures = likeness, failures

    def __getattr__(self, name: str):
        return getattr(self.likeness, name)

    def run_media_split(self, items, work_for):  # how the generator's output check runs
        if self.failures:
            self.failures -= 1
            raise FaceIndexUnavailable("a face index shard is reloading")
        return self.likeness.run_media_split(items, work_for)


@pytest.mark.parametrize(("failures", "outcome"), [(2, "released"), (5, "queued")])
def test_an_output_check_that_cannot_run_for_now_is_tried_again_never_skipped(
    client, session, requester, clip_pipeline, failures, outcome
):
    generation_id = queued(client, requester)
    runtime = generator_runtime(client, clip_pipeline)
    runtime = replace(runtime, likeness=FaceSearchReloading(runtime.likeness, failures=failures))

    run_job(uuid.UUID(generation_id), runtime=runtime)

    after = job(client.app.state.engine, generation_id)
    assert after.state == outcome  # five tries failed: the attempt ends, the job waits its retry
    checks = session.exec(
        select(OutputCheck).where(OutputCheck.clearance_id == after.clearance_id)
    ).all()
    assert len(checks) == (outcome == "released")


def test_an_output_showing_what_the_clearance_does_not_cover_is_blocked_and_its_owner_sees_it(
    client, engine, settings, holder, requester, clip_pipeline
):
    drawn = draw_character(7)
    character = character_with_reference(client, holder, png_bytes(drawn), handle="drawn_seven")
    licensed(client, holder, character["id"])
    generation_id = queued(client, requester, width=128, height=128)
    runtime = generator_runtime(client, ShowingPicture(clip_pipeline, drawn))

    assert run_job(uuid.UUID(generation_id), runtime=runtime) == "blocked"

    read = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    assert read["state"] == "blocked" and read["charge"] is None and read["licences"] == []
    assert read["reasons"][0].startswith("Release blocked: the output shows 1 registered asset")
    [use] = usage(client, holder, character["id"])
    assert (use["found_in"], use["outcome"], use["clearance_id"], use["generation_state"]) == (
        "output",
        "deny",
        read["clearance_id"],
        "blocked",
    )
    assert charges_and_licences(engine, generation_id) == (0, 0)
    video = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert video.status_code == 409
    # Only the held clip is kept, never served, for a licence its owner may offer.
    assert sorted(path.name for path in settings.generations_dir.glob(f"{generation_id}*")) == [
        f"{generation_id}.held.json",
        f"{generation_id}.held.mp4",
    ]


# Barack Obama's face in obama2.jpg, a photo no enrolment below uses, with a margin around it.
PLANTED_FACE = ("obama2.jpg", (37, 157, 571, 691))


def _planted_face():
    name, box = PLANTED_FACE
    return Image.open(FACES_DIR / name).convert("RGB").crop(box)


@pytest.fixture
def unshared_face(client, holder) -> dict:
    """The holder's face @barack_face, enrolled from two other photos of him (one of them
    mirrored, for a third frame), with no grant: nobody may use it."""
    asset = create_asset(client, holder, kind="likeness", handle="barack_face")
    mirrored = io.BytesIO()
    ImageOps.mirror(Image.open(FACES_DIR / "obama.jpg")).save(mirrored, format="JPEG")
    opened = open_enrolment(client, holder, asset["id"])
    files = [
        ("files", (name, photo(name), "image/jpeg"))
        for name in ("obama.jpg", "obama_partial_face.jpg")
    ] + [("files", ("mirrored.jpg", mirrored.getvalue(), "image/jpeg"))]
    enrolled = client.post(
        f"/v1/enrolments/{opened['id']}/frames", headers=holder.headers, files=files
    )
    assert enrolled.status_code == 200, enrolled.text
    return asset


def test_an_output_showing_a_registered_face_that_did_not_consent_is_blocked_unnamed(
    client, engine, settings, holder, requester, unshared_face, clip_pipeline
):
    generation_id = queued(client, requester, width=128, height=128)
    runtime = generator_runtime(client, ShowingPicture(clip_pipeline, _planted_face()))

    assert run_job(uuid.UUID(generation_id), runtime=runtime) == "blocked"

    answer = client.get(f"/v1/generations/{generation_id}", headers=requester.headers)
    read = answer.json()
    assert read["state"] == "blocked" and read["charge"] is None and read["licences"] == []
    [found] = read["found"]
    assert (found["asset_id"], found["handle"], found["kind"], found["outcome"]) == (
        None,
        None,
        "likeness",
        "deny",
    )
    assert found["reasons"] == ["The request shows a registered person who has not consented."]
    assert {evidence["kind"] for evidence in found["matched_by"]} == {"face"}
    # Nothing names the person or scores the face, here or in the clearance.
    clearance = client.get(f"/v1/clearances/{read['clearance_id']}", headers=requester.headers)
    for told in (answer.text, clearance.text):
        assert unshared_face["id"] not in told and "barack" not in told.lower()
        assert '"score"' not in told
    assert charges_and_licences(engine, generation_id) == (0, 0)
    # Only the held clip is kept, never served, for a licence its owner may offer.
    assert sorted(path.name for path in settings.generations_dir.glob(f"{generation_id}*")) == [
        f"{generation_id}.held.json",
        f"{generation_id}.held.mp4",
    ]
    # Its owner sees the attempt, with the face's score, among their likeness's usage.
    [use] = usage(client, holder, unshared_face["id"])
    assert (use["found_in"], use["outcome"], use["generation_id"], use["generation_state"]) == (
        "output",
        "deny",
        generation_id,
        "blocked",
    )
    assert use["requester_id"] == str(requester.id)
    assert [evidence["kind"] for evidence in use["matched_by"]] == ["face"] * len(use["matched_by"])
    assert all("score" in evidence for evidence in use["matched_by"])


def test_the_same_face_is_released_when_its_owner_consented_and_the_request_names_it(
    client, holder, requester, unshared_face, clip_pipeline
):
    licensed(client, holder, unshared_face["id"])
    generation_id = queued(client, requester, width=128, height=128, cameos=["@barack_face"])
    runtime = generator_runtime(client, ShowingPicture(clip_pipeline, _planted_face()))

    assert run_job(uuid.UUID(generation_id), runtime=runtime) == "released"

    read = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()
    assert [licence["handle"] for licence in read["licences"]] == ["barack_face"]
    assert read["found"] == [] and read["charge"]["amount_minor"] > 0
    video = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert video.status_code == 200
    [use] = usage(client, holder, unshared_face["id"])
    assert (use["found_in"], use["outcome"], use["generation_state"]) == (
        "request",
        "allow",
        "released",
    )


def _path(url: str, settings) -> str:
    return url.removeprefix(settings.public_url)


def test_a_denied_request_queues_nothing_and_says_why(client, engine, holder, requester):
    asset = create_asset(client, holder, handle="quiet_fox")
    set_policy(client, holder, asset["id"], {**USD_POLICY, "allowed_uses": ["personal"]})
    client.post(f"/v1/assets/{asset['id']}/grants", headers=holder.headers, json={})

    asked = ask(client, requester, "a cat", cameos=["@quiet_fox"])

    assert asked["generation"] is None
    assert asked["clearance"]["outcome"] == "denied"
    assert any("commercial" in reason for reason in asked["clearance"]["reasons"])
    with engine.connect() as connection:
        assert connection.execute(select(GenerationJob.id)).all() == []


def test_a_request_that_waits_for_approval_queues_nothing(client, holder, requester):
    asset = create_asset(client, holder, handle="shy_otter")
    set_policy(client, holder, asset["id"], {**USD_POLICY, "approval_required": True})
    client.post(f"/v1/assets/{asset['id']}/grants", headers=holder.headers, json={})

    asked = ask(client, requester, "an otter", cameos=["@shy_otter"])

    assert asked["generation"] is None
    assert asked["clearance"]["outcome"] == "needs_approval"
    assert asked["clearance"]["reasons"]


def test_an_unknown_cameo_is_refused_with_its_handle(client, requester):
    answer = client.post(
        "/v1/generations",
        headers=requester.headers,
        json={
            "prompt": "a walk",
            "declared_use": "personal",
            "cameos": ["@nobody_here"],
            "duration_ms": 500,
            "width": 64,
            "height": 64,
        },
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("/unknown-cameo")
    assert "@nobody_here" in answer.json()["detail"]


@pytest.mark.parametrize(
    "change", [{"duration_ms": "1000"}, {"steps": True}, {"width": 64.0}, {"seed": "7"}]
)
def test_a_number_sent_as_text_or_a_boolean_is_malformed_not_guessed_at(
    client, engine, requester, change
):
    """A generator that sends `"steps": true` or `"duration_ms": "1000"` is told, not run
    for 1 step or a second it did not write as one."""
    answer = client.post(
        "/v1/generations", headers=requester.headers, json=generation_body(**change)
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["location"] == ["body", *change]
    with engine.connect() as connection:
        assert connection.execute(select(GenerationJob.id)).all() == []


def test_only_its_creator_reads_a_generation_and_its_clip(client, holder, requester, clip_pipeline):
    generation_id = queued(client, requester)
    strangers = [holder, sign_up(client, role="creator")]
    for path in (f"/v1/generations/{generation_id}", f"/v1/generations/{generation_id}/video"):
        for stranger in strangers:
            answer = client.get(path, headers=stranger.headers)
            assert answer.status_code == 404, answer.text
    # Not released yet: its clip is refused to its creator too, and it has no public status.
    early = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert early.status_code == 409 and early.json()["type"].endswith("/generation-not-released")
    assert client.get(f"/v1/generations/{generation_id}/status").status_code == 404

    run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline))
    for stranger in strangers:
        for suffix in ("", "/video"):
            answer = client.get(
                f"/v1/generations/{generation_id}{suffix}", headers=stranger.headers
            )
            assert answer.status_code == 404, answer.text
    mine = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert mine.status_code == 200


def test_a_clip_is_taken_down_once_a_consent_it_used_is_withdrawn(
    client, engine, holder, requester, character, clip_pipeline
):
    generation_id = queued(client, requester, "Nova Knight at dawn")
    run_job(uuid.UUID(generation_id), runtime=generator_runtime(client, clip_pipeline))
    grant_id = client.get(f"/v1/generations/{generation_id}", headers=requester.headers).json()[
        "licences"
    ][0]["grant_id"]

    revoked = client.post(f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={})
    assert revoked.status_code == 200, revoked.text

    video = client.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert video.status_code == 410 and video.json()["type"].endswith("/clip-taken-down")
    status = client.get(f"/v1/generations/{generation_id}/status").json()
    assert status["status"] == "revoked" and status["revoked_at"] is not None
    # What was released stays released and charged: the use happened.
    assert charges_and_licences(engine, generation_id) == (1, 1)


def test_a_clip_released_on_one_machine_is_served_by_another_sharing_the_clip_dir(
    client, settings, requester, clip_pipeline, tmp_path
):
    shared = tmp_path / "clips"  # a network filesystem both machines mount
    generation_id = queued(client, requester, width=128, height=128)
    generating = generator_runtime(client, clip_pipeline, clip_dir=shared)
    assert run_job(uuid.UUID(generation_id), runtime=generating) == "released"
    [clip] = shared.glob(f"{generation_id}-*.mp4")

    # Another API machine: a data dir of its own, the same database, PEMs and clip folder.
    signing_keys = {
        f"{purpose.replace('-', '_')}_key_pem": (
            settings.key_dir / f"{purpose}-es256.pem"
        ).read_text()
        for purpose in ("access-token", "receipt")
    }
    other = settings.model_copy(
        update={"data_dir": tmp_path / "other", "clip_dir": shared, **signing_keys}
    )
    with TestClient(create_app(other)) as second:
        video = second.get(f"/v1/generations/{generation_id}/video", headers=requester.headers)
    assert video.status_code == 200, video.text
    assert video.content == clip.read_bytes()
    assert not list(settings.generations_dir.glob(f"{generation_id}*"))
