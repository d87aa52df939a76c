"""The holder's uses page: every request that touched their assets with what came of it, the
filters, the poster frame of a released clip (its owners only), and answering requests that
wait for approval."""

import io
import uuid

import pytest
from clearing import USD_POLICY, clear, licensed
from factories import create_asset, granted_asset, sign_up, verify_email
from generating import ask, generator_runtime
from organising import waiting_for_an_unverified_manager
from PIL import Image
from portal_browsers import browser_of
from portal_client import form_token, portal_sign_in, post_form, refused_page_as_unverified
from sqlalchemy import update

from clearhouse.db import utcnow, write_session
from clearhouse.settings import Settings
from generator.pipeline import ClipPipeline, load_configured_pipeline
from generator.tasks import run_job
from licensing.models import UseApproval

APPROVAL_POLICY = {**USD_POLICY, "approval_required": True}


@pytest.fixture(scope="module")
def clip_pipeline(tmp_path_factory: pytest.TempPathFactory) -> ClipPipeline:
    """The tiny untrained pipeline (generator/tiny_pipeline.py), built once for the module."""
    return load_configured_pipeline(Settings(data_dir=tmp_path_factory.mktemp("uses-pipeline")))


@pytest.fixture
def creator(client):
    return sign_up(client, role="creator")


def _released(client, holder, creator, clip_pipeline) -> tuple[dict, str]:
    """The holder's character @nova_knight, and a creator's generation of it, released."""
    asset, _ = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    asked = ask(client, creator, "Nova Knight guarding a lighthouse at dawn")
    generation_id = asked["generation"]["id"]
    runtime = generator_runtime(client, clip_pipeline)
    assert run_job(uuid.UUID(generation_id), runtime=runtime) == "released"
    return asset, generation_id


def _named_asset(client, holder, *, handle: str, name: str) -> dict:
    answer = client.post(
        "/v1/assets",
        headers=holder.headers,
        json={"kind": "character", "handle": handle, "name": name},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _pending_approval(client, holder, creator) -> tuple[dict, str]:
    asset = _named_asset(client, holder, handle="quiet_heron", name="Quiet Heron")
    licensed(client, holder, asset["id"], APPROVAL_POLICY)
    waiting = clear(client, creator, "Quiet Heron sailing past the harbour lights")
    assert waiting.json()["outcome"] == "needs_approval", waiting.text
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    return asset, pending["id"]


def test_a_released_generation_shows_among_the_uses_with_its_poster(
    client, holder, creator, clip_pipeline
):
    asset, generation_id = _released(client, holder, creator, clip_pipeline)
    portal_sign_in(client, holder)

    page = client.get("/uses")

    assert page.status_code == 200
    assert "Nova Knight guarding a lighthouse at dawn" in page.text
    assert 'class="state state-released"' in page.text
    assert "Test Person" in page.text  # the requester's display name
    assert "commercial use" in page.text
    assert "USD " in page.text  # the holder's fee
    poster_url = f"/uses/generations/{generation_id}/poster.jpg"
    assert poster_url in page.text
    poster = client.get(poster_url)
    assert poster.status_code == 200
    assert poster.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(poster.content)).size == (64, 64)
    # The API's usage route answers the same state from the same query.
    [use] = client.get(f"/v1/assets/{asset['id']}/usage", headers=holder.headers).json()["items"]
    assert use["state"] == "released" and use["generation_id"] == generation_id


def test_nobody_but_the_owner_of_a_used_asset_sees_its_poster(
    client, holder, other_holder, creator, clip_pipeline
):
    _, generation_id = _released(client, holder, creator, clip_pipeline)
    poster_url = f"/uses/generations/{generation_id}/poster.jpg"

    stranger = browser_of(client, other_holder)
    assert stranger.get(poster_url).status_code == 404
    assert "Nova Knight guarding" not in stranger.get("/uses").text
    the_creator = browser_of(client, creator)
    assert the_creator.get(poster_url).status_code == 403  # the holders' pages are not theirs
    assert client.get(poster_url, follow_redirects=False).status_code == 303  # to sign in
    portal_sign_in(client, holder)
    assert client.get(poster_url).status_code == 200


def test_a_taken_down_clip_shows_so_and_its_poster_is_no_longer_served(
    client, holder, creator, clip_pipeline
):
    asset, generation_id = _released(client, holder, creator, clip_pipeline)
    [grant] = client.get(f"/v1/assets/{asset['id']}/grants", headers=holder.headers).json()["items"]
    revoked = client.post(
        f"/v1/grants/{grant['id']}/revoke", headers=holder.headers, json={"reason": "enough"}
    )
    assert revoked.json()["generations_taken_down"] == 1
    portal_sign_in(client, holder)

    page = client.get("/uses?state=taken_down")

    assert 'class="state state-taken_down"' in page.text
    assert "Nova Knight guarding a lighthouse at dawn" in page.text
    assert client.get(f"/uses/generations/{generation_id}/poster.jpg").status_code == 404


def test_denied_and_waiting_requests_show_and_the_filters_narrow_them(client, holder, creator):
    # No policy: nobody may use it.
    closed = _named_asset(client, holder, handle="iron_quill", name="Iron Quill")
    denied = clear(client, creator, "the Iron Quill writing on a wall of rain")
    assert denied.json()["outcome"] == "denied", denied.text
    waiting_asset, _ = _pending_approval(client, holder, creator)
    portal_sign_in(client, holder)

    everything = client.get("/uses").text
    assert "Iron Quill writing" in everything and "harbour lights" in everything
    assert 'class="state state-blocked"' in everything
    assert 'class="state state-pending"' in everything

    only_closed = client.get(f"/uses?asset={closed['id']}").text
    assert "Iron Quill writing" in only_closed and "harbour lights" not in only_closed
    only_pending = client.get("/uses?state=pending").text
    assert "harbour lights" in only_pending and "Iron Quill writing" not in only_pending
    only_denied = client.get(f"/uses?outcome=deny&asset={closed['id']}").text
    assert "Iron Quill writing" in only_denied
    none = client.get(f"/uses?state=released&asset={waiting_asset['id']}").text
    assert "No use matches these filters" in none

    assert client.get("/uses?state=everything").status_code == 400
    assert client.get("/uses?asset=not-an-id").status_code == 400


def test_another_holders_asset_filter_is_a_404_and_a_creator_gets_403(
    client, holder, other_holder, creator
):
    theirs = create_asset(client, other_holder)
    portal_sign_in(client, holder)
    assert client.get(f"/uses?asset={theirs['id']}").status_code == 404
    assert browser_of(client, creator).get("/uses").status_code == 403


@pytest.mark.parametrize(("answer", "status"), [("approve", "approved"), ("decline", "declined")])
def test_the_holder_answers_a_waiting_request_from_the_uses_page(
    client, holder, creator, answer, status
):
    _, approval_id = _pending_approval(client, holder, creator)
    portal_sign_in(client, holder)
    page = client.get("/uses?state=pending").text
    assert f'action="/approvals/{approval_id}/{answer}"' in page
    assert "data-confirm=" in page

    answered = post_form(client, f"/approvals/{approval_id}/{answer}", {}, page="/uses")

    assert answered.status_code == 303
    assert client.get(answered.headers["location"]).status_code == 200
    [read] = client.get("/v1/approvals", params={"status": status}, headers=holder.headers).json()[
        "items"
    ]
    assert read["id"] == approval_id
    assert f'class="state state-{status}"' in client.get("/uses").text


def _refused_to_a_stranger_and_to_a_form_without_its_token(
    client, holder, other_holder, approval_id: str, *, answers: tuple[str, ...]
) -> None:
    """Another holder's answers are 404s, and the holder's own without the form's token 403s."""
    stranger = browser_of(client, other_holder)
    assert "/approve" not in stranger.get("/uses").text
    token = form_token(stranger, "/uses")
    for answer in answers:
        refused = stranger.post(f"/approvals/{approval_id}/{answer}", data={"csrf_token": token})
        assert refused.status_code == 404

    portal_sign_in(client, holder)
    for data in ({}, {"csrf_token": "0" * 64}):
        refused = client.post(f"/approvals/{approval_id}/approve", data=data)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text


def test_another_holder_cannot_answer_and_a_form_without_its_token_changes_nothing(
    client, holder, other_holder, creator
):
    _, approval_id = _pending_approval(client, holder, creator)
    _refused_to_a_stranger_and_to_a_form_without_its_token(
        client, holder, other_holder, approval_id, answers=("approve", "decline")
    )
    [still] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    assert still["id"] == approval_id and still["status"] == "pending"


def _declined(client, holder, creator) -> str:
    """The creator's request for the holder's @quiet_heron, declined by the holder."""
    _, approval_id = _pending_approval(client, holder, creator)
    declined = client.post(f"/v1/approvals/{approval_id}/decline", headers=holder.headers)
    assert declined.status_code == 200, declined.text
    return approval_id


def test_the_holder_approves_after_all_a_request_they_declined(client, holder, creator):
    approval_id = _declined(client, holder, creator)
    refused = clear(client, creator, "Quiet Heron sailing past the harbour lights").json()
    assert refused["outcome"] == "denied"  # their no stands
    portal_sign_in(client, holder)
    page = client.get("/uses?state=declined").text
    assert f'action="/approvals/{approval_id}/approve"' in page
    assert "Approve after all" in page and "Your no stands until" in page
    assert "further requests for this asset are refused without asking you" in page
    assert "Your no has lapsed" not in page
    assert "Why: what the requester was told" in page  # their sentences, said to them
    assert f"/approvals/{approval_id}/decline" not in page  # declined already

    answered = post_form(client, f"/approvals/{approval_id}/approve", {}, page="/uses")

    assert answered.status_code == 303
    assert "notice=use-approved" in answered.headers["location"]
    approved = client.get("/v1/approvals", params={"status": "approved"}, headers=holder.headers)
    [read] = approved.json()["items"]
    assert read["id"] == approval_id
    assert "Approve after all" not in client.get("/uses").text
    cleared = clear(client, creator, "Quiet Heron sailing past the harbour lights").json()
    assert cleared["outcome"] == "cleared", cleared


def test_a_lapsed_decline_offers_no_yes_and_a_late_one_is_refused(client, holder, creator):
    approval_id = _declined(client, holder, creator)
    portal_sign_in(client, holder)
    token = form_token(client, "/uses")
    with write_session(client.app.state.engine) as session:  # the no lapses
        session.exec(update(UseApproval).values(expires_at=utcnow()))

    page = client.get("/uses").text
    assert 'class="state state-declined"' in page
    assert "Your no has lapsed: their requests for this asset are asked of you again" in page
    assert "further requests for this asset are refused without asking you" not in page
    assert "Approve after all" not in page and "/approve" not in page
    late = client.post(f"/approvals/{approval_id}/approve", data={"csrf_token": token})
    assert late.status_code == 409
    assert "no longer stands" in late.text
    declined = client.get("/v1/approvals", params={"status": "declined"}, headers=holder.headers)
    assert [item["id"] for item in declined.json()["items"]] == [approval_id]


def test_nobody_else_approves_a_declined_request_nor_without_the_forms_token(
    client, holder, other_holder, creator
):
    approval_id = _declined(client, holder, creator)
    _refused_to_a_stranger_and_to_a_form_without_its_token(
        client, holder, other_holder, approval_id, answers=("approve",)
    )
    declined = client.get("/v1/approvals", params={"status": "declined"}, headers=holder.headers)
    assert [item["id"] for item in declined.json()["items"]] == [approval_id]


def test_a_manager_whose_address_is_unverified_is_told_to_verify_before_approving(
    client, holder, creator
):
    manager, pending = waiting_for_an_unverified_manager(client, holder, creator)
    portal_sign_in(client, manager)

    refused_page_as_unverified(
        post_form(client, f"/approvals/{pending['id']}/approve", {}, page="/uses")
    )
    [still] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    assert (still["id"], still["status"]) == (pending["id"], "pending")

    verify_email(client, manager.email)
    approved = post_form(client, f"/approvals/{pending['id']}/approve", {}, page="/uses")
    assert approved.status_code == 303, approved.text
    [read] = client.get(
        "/v1/approvals", params={"status": "approved"}, headers=holder.headers
    ).json()["items"]
    assert read["id"] == pending["id"]


def test_a_request_sent_again_while_it_waits_is_listed_once_to_answer(client, holder, creator):
    _, approval_id = _pending_approval(client, holder, creator)
    again = clear(client, creator, "Quiet Heron sailing past the harbour lights")
    assert again.json()["outcome"] == "needs_approval"
    portal_sign_in(client, holder)

    page = client.get("/uses").text

    assert page.count('class="state state-pending"') == 1
    assert page.count('class="state state-repeated"') == 1
    assert page.count("/approve") == 1 and f"/approvals/{approval_id}/approve" in page


def test_many_uses_come_in_pages_and_the_filters_stay(client, holder, creator):
    closed = _named_asset(client, holder, handle="busy_bee", name="Busy Bee")
    for number in range(21):
        assert clear(client, creator, f"Busy Bee take {number:02d}").json()["outcome"] == "denied"
    portal_sign_in(client, holder)

    first = client.get(f"/uses?asset={closed['id']}&state=blocked").text
    second = client.get(f"/uses?asset={closed['id']}&state=blocked&page=2").text

    assert "Page 1 of 2" in first
    assert f"/uses?asset={closed['id']}&amp;state=blocked&amp;page=2" in first
    assert "Busy Bee take 20" in first and "Busy Bee take 00" not in first
    assert "Busy Bee take 00" in second and "Busy Bee take 20" not in second
