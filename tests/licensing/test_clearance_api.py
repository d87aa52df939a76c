"""POST /v1/clearances as a creator or a third-party generator calls it: the prompt's matches
decided, priced and signed; refusals as problem documents; read back only by the requester."""

import pytest
from factories import create_asset, grant, set_policy, sign_up

from clearhouse.db import utcnow
from licensing.tokens import verify_clearance_token

USD_POLICY = {
    "audience": "anyone",
    "allowed_uses": ["personal", "commercial"],
    "price": {"currency": "USD", "per_use_minor": 150, "per_second_minor": 10},
}
PARAMETERS = {"duration_ms": 4000, "width": 854, "height": 480, "steps": 20, "seed": 7}


def _body(prompt: str, **changes) -> dict:
    return {"prompt": prompt, "declared_use": "commercial", "parameters": PARAMETERS, **changes}


@pytest.fixture
def licensed(client, holder):
    asset = create_asset(client, holder, handle="captain_test")
    set_policy(client, holder, asset["id"], USD_POLICY)
    grant(client, holder, asset["id"])
    return asset


def test_a_prompt_naming_a_licensed_character_is_cleared_with_a_token(client, requester, licensed):
    answer = client.post(
        "/v1/clearances", headers=requester.headers, json=_body("Captain Test sails at dawn")
    )
    assert answer.status_code == 201, answer.text
    cleared = answer.json()
    assert cleared["outcome"] == "cleared"
    [touched] = cleared["assets"]
    assert touched["handle"] == "captain_test" and touched["outcome"] == "allow"
    assert touched["matched_by"][0]["text"] == "Captain Test"
    assert [line["item"] for line in cleared["quote"]["lines"]] == [
        "compute",
        "licence_per_use",
        "licence_per_second",
    ]
    claims = verify_clearance_token(
        cleared["token"],
        request_digest=cleared["request_digest"],
        now=utcnow(),
        settings=client.app.state.settings,
        keys=client.app.state.keys,
    )
    assert str(claims.clearance_id) == cleared["id"]

    again = client.get(f"/v1/clearances/{cleared['id']}", headers=requester.headers).json()
    assert again["outcome"] == "cleared" and again["token"] is None
    assert again["assets"][0]["handle"] == "captain_test"


def test_a_prompt_touching_nothing_pays_only_compute(client, requester):
    answer = client.post(
        "/v1/clearances", headers=requester.headers, json=_body("waves on a quiet beach")
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"] == "cleared"
    assert [line["item"] for line in answer.json()["quote"]["lines"]] == ["compute"]


def test_a_named_person_without_consent_is_denied_and_not_named(client, holder, requester):
    person = create_asset(client, holder, kind="likeness", handle="ada_person")
    answer = client.post(
        "/v1/clearances", headers=requester.headers, json=_body("Captain Test on a stage")
    )
    body = answer.json()
    assert body["outcome"] == "denied"
    assert body["assets"][0]["asset_id"] is None and body["assets"][0]["handle"] is None
    assert person["id"] not in answer.text and "ada_person" not in answer.text
    stored = client.get(f"/v1/clearances/{body['id']}", headers=requester.headers)
    assert person["id"] not in stored.text and "ada_person" not in stored.text


def test_only_the_requester_reads_a_clearance(client, requester, holder, licensed):
    made = client.post(
        "/v1/clearances", headers=requester.headers, json=_body("Captain Test")
    ).json()
    for stranger in (holder, sign_up(client)):
        read = client.get(f"/v1/clearances/{made['id']}", headers=stranger.headers)
        assert read.status_code == 404, read.text


def test_an_unverified_account_cannot_clear(client):
    unverified = sign_up(client, verified=False)
    answer = client.post("/v1/clearances", headers=unverified.headers, json=_body("a beach"))
    assert answer.status_code == 403, answer.text
    assert answer.json()["type"].endswith("/email-not-verified")


def test_an_api_key_needs_the_clearance_scope(client, requester):
    def key(scopes):
        made = client.post(
            "/v1/api-keys", headers=requester.headers, json={"name": "gen", "scopes": scopes}
        )
        return {"X-API-Key": made.json()["secret"]}

    refused = client.post("/v1/clearances", headers=key(["assets:read"]), json=_body("a beach"))
    assert refused.status_code == 403, refused.text
    allowed = client.post("/v1/clearances", headers=key(["clearance"]), json=_body("a beach"))
    assert allowed.status_code == 201, allowed.text


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"width": 854, "height": 480, "steps": 20}, "/quote-refused"),
        ({**PARAMETERS, "guidance": 7.5}, "/request-not-digestible"),
        ({**PARAMETERS, "width": 7680, "height": 4320}, "/quote-refused"),
        ({**PARAMETERS, "steps": 0}, "/quote-refused"),
    ],
)
def test_parameters_that_cannot_be_priced_or_digested_are_a_400(
    client, requester, parameters, problem
):
    answer = client.post(
        "/v1/clearances", headers=requester.headers, json=_body("a beach", parameters=parameters)
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(problem)
