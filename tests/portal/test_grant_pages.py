"""The holder's grants page: withdrawing one grant, an asset's or everything, each confirmed
and answered with its signed receipt, shown and downloadable; nobody else's grants."""

import uuid

import pytest
from factories import create_asset, granted_asset, set_policy, sign_up
from generating import USD_POLICY, ask, generator_runtime
from portal_browsers import browser_of
from portal_client import form_token, portal_sign_in, post_form

from clearhouse.settings import Settings
from generator.pipeline import ClipPipeline, load_configured_pipeline
from generator.tasks import run_job


@pytest.fixture(scope="module")
def clip_pipeline(tmp_path_factory: pytest.TempPathFactory) -> ClipPipeline:
    return load_configured_pipeline(Settings(data_dir=tmp_path_factory.mktemp("grants-pipeline")))


def _grant(client, user, asset_id) -> dict:
    answer = client.post(f"/v1/assets/{asset_id}/grants", headers=user.headers, json={})
    assert answer.status_code == 201, answer.text
    return answer.json()["grant"]


def _state(client, user, grant_id) -> str:
    return client.get(f"/v1/grants/{grant_id}", headers=user.headers).json()["state"]


def _row(handle: str) -> str:
    """How a grant's row names its asset (the filter and the buttons name it otherwise)."""
    return f'<span class="handle">@{handle}</span>'


def test_the_holder_sees_their_grants_across_assets(client, holder, other_holder):
    first, given = granted_asset(client, holder, handle="first_light")
    granted_asset(client, holder, handle="second_wind")
    granted_asset(client, other_holder, handle="not_mine", name="Not Mine")
    portal_sign_in(client, holder)

    page = client.get("/grants")

    assert page.status_code == 200
    assert _row("first_light") in page.text and _row("second_wind") in page.text
    assert "@not_mine" not in page.text
    assert f'action="/grants/{given["grant"]["id"]}/revoke"' in page.text
    assert "data-confirm=" in page.text
    assert f'href="/receipts/{given["receipt"]["id"]}"' in page.text
    only_first = client.get(f"/grants?asset={first['id']}").text
    assert _row("first_light") in only_first and _row("second_wind") not in only_first
    assert "No grant matches" in client.get("/grants?status=revoked").text


def test_withdrawing_one_grant_takes_effect_at_once_with_a_receipt_that_verifies(
    client, holder, clip_pipeline
):
    _, given = granted_asset(client, holder, handle="nova_knight", policy=USD_POLICY)
    grant_id = given["grant"]["id"]
    creator = sign_up(client, role="creator")
    generation = ask(client, creator, "Nova Knight guarding a lighthouse")["generation"]
    runtime = generator_runtime(client, clip_pipeline)
    assert run_job(uuid.UUID(generation["id"]), runtime=runtime) == "released"
    portal_sign_in(client, holder)

    answer = post_form(
        client, f"/grants/{grant_id}/revoke", {"reason": "no longer"}, page="/grants"
    )

    assert answer.status_code == 303
    assert _state(client, holder, grant_id) == "revoked"
    receipt_path = answer.headers["location"].split("?")[0]
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    assert "Consent withdrawn for @nova_knight" in page.text
    assert "1 released clip was taken down" in page.text
    assert "The signature checks out" in page.text
    download = client.get(f"{receipt_path}/download")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    token = download.text
    assert token in page.text
    verified = client.post("/v1/receipts/verify", json={"token": token}).json()
    assert verified["valid"] is True
    assert verified["claims"]["event"] == "consent_withdrawn"
    assert verified["claims"]["grant"]["id"] == grant_id
    assert verified["consent"]["state"] == "withdrawn"
    # A clearance now is denied: the consent is gone.
    again = client.post(
        "/v1/clearances",
        headers=creator.headers,
        json={
            "prompt": "Nova Knight guarding a lighthouse",
            "declared_use": "commercial",
            "parameters": {"duration_ms": 500, "width": 64, "height": 64, "steps": 2},
        },
    )
    assert again.json()["outcome"] == "denied"
    # Withdrawing again is a clear error page, and nothing changes.
    twice = post_form(client, f"/grants/{grant_id}/revoke", {}, page="/grants")
    assert twice.status_code == 409


def test_withdrawing_an_assets_grants_or_everything(client, holder):
    asset = create_asset(client, holder, handle="twin_peaks")
    set_policy(client, holder, asset["id"])
    first, second = _grant(client, holder, asset["id"]), _grant(client, holder, asset["id"])
    _, other_given = granted_asset(client, holder, handle="lone_pine")
    portal_sign_in(client, holder)

    answer = post_form(client, f"/assets/{asset['id']}/revoke", {}, page="/grants")

    assert answer.status_code == 303
    assert {_state(client, holder, g["id"]) for g in (first, second)} == {"revoked"}
    assert _state(client, holder, other_given["grant"]["id"]) == "active"
    page = client.get(answer.headers["location"])
    assert page.text.count("Consent withdrawn for @twin_peaks") == 2
    assert "2 grants were withdrawn" in page.text

    everything = post_form(client, "/grants/revoke-all", {"reason": "stop"}, page="/grants")
    assert everything.status_code == 303
    assert _state(client, holder, other_given["grant"]["id"]) == "revoked"
    assert "@lone_pine" in client.get(everything.headers["location"]).text
    nothing_left = post_form(client, "/grants/revoke-all", {}, page="/grants")
    assert nothing_left.headers["location"] == "/grants?notice=nothing-to-revoke"


def test_another_holder_gets_404_for_everything_of_yours_and_changes_nothing(
    client, holder, other_holder
):
    asset, given = granted_asset(client, holder, handle="guarded")
    grant_id, receipt_id = given["grant"]["id"], given["receipt"]["id"]
    stranger = browser_of(client, other_holder)
    token = form_token(stranger, "/grants")

    for path in (
        f"/receipts/{receipt_id}",
        f"/receipts/{receipt_id}/download",
        f"/receipts?receipt={receipt_id}",
        f"/grants?asset={asset['id']}",
    ):
        assert stranger.get(path).status_code == 404, path
    for path in (f"/grants/{grant_id}/revoke", f"/assets/{asset['id']}/revoke"):
        refused = stranger.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert refused.status_code == 404, path
    stranger_all = stranger.post("/grants/revoke-all", data={"csrf_token": token})
    assert stranger_all.status_code == 200  # "nothing to withdraw": only their own grants

    assert _state(client, holder, grant_id) == "active"
    assert "@guarded" not in stranger.get("/grants").text


def test_a_form_without_its_csrf_token_withdraws_nothing(client, holder):
    asset, given = granted_asset(client, holder, handle="kept_safe")
    portal_sign_in(client, holder)

    for path in (
        f"/grants/{given['grant']['id']}/revoke",
        f"/assets/{asset['id']}/revoke",
        "/grants/revoke-all",
    ):
        for data in ({}, {"csrf_token": "0" * 64}):
            refused = client.post(path, data=data, follow_redirects=False)
            assert refused.status_code == 403, path
            assert "This form has expired" in refused.text

    assert _state(client, holder, given["grant"]["id"]) == "active"
