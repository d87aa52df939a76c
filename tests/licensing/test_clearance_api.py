"""POST /v1/clearances as a creator or a third-party generator calls it: the prompt's matches
decided, priced and signed; refusals as problem documents; read back only by the requester."""

import pytest
from clearing import PARAMETERS, clearance_body, licensed, token_claims
from factories import create_asset, sign_up

from clearhouse.accounts.models import Account
from clearhouse.db import utcnow


@pytest.fixture
def licensed_character(client, holder):
    asset = create_asset(client, holder, handle="captain_test")
    licensed(client, holder, asset["id"])
    return asset


def test_a_prompt_naming_a_licensed_character_is_cleared_with_a_token(
    client, requester, licensed_character
):
    answer = client.post(
        "/v1/clearances",
        headers=requester.headers,
        json=clearance_body("Captain Test sails at dawn"),
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
    claims = token_claims(client, cleared)
    assert str(claims.clearance_id) == cleared["id"]

    again = client.get(f"/v1/clearances/{cleared['id']}", headers=requester.headers).json()
    assert again["outcome"] == "cleared" and again["token"] is None
    assert again["assets"][0]["handle"] == "captain_test"


def test_a_prompt_touching_nothing_pays_only_compute(client, requester):
    answer = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("waves on a quiet beach")
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"] == "cleared"
    assert [line["item"] for line in answer.json()["quote"]["lines"]] == ["compute"]


def test_a_named_person_without_consent_is_denied_and_not_named(client, holder, requester):
    person = create_asset(client, holder, kind="likeness", handle="ada_person")
    answer = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test on a stage")
    )
    body = answer.json()
    assert body["outcome"] == "denied"
    assert body["assets"][0]["asset_id"] is None and body["assets"][0]["handle"] is None
    assert person["id"] not in answer.text and "ada_person" not in answer.text
    stored = client.get(f"/v1/clearances/{body['id']}", headers=requester.headers)
    assert person["id"] not in stored.text and "ada_person" not in stored.text


def test_only_the_requester_reads_a_clearance(client, requester, holder, licensed_character):
    made = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test")
    ).json()
    for stranger in (holder, sign_up(client)):
        read = client.get(f"/v1/clearances/{made['id']}", headers=stranger.headers)
        assert read.status_code == 404, read.text


def test_an_unverified_account_cannot_clear(client):
    unverified = sign_up(client, verified=False)
    answer = client.post(
        "/v1/clearances", headers=unverified.headers, json=clearance_body("a beach")
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["type"].endswith("/email-not-verified")


def test_an_api_key_needs_the_clearance_scope(client, requester):
    def key(scopes):
        made = client.post(
            "/v1/api-keys", headers=requester.headers, json={"name": "gen", "scopes": scopes}
        )
        return {"X-API-Key": made.json()["secret"]}

    refused = client.post(
        "/v1/clearances", headers=key(["assets:read"]), json=clearance_body("a beach")
    )
    assert refused.status_code == 403, refused.text
    allowed = client.post(
        "/v1/clearances", headers=key(["clearance"]), json=clearance_body("a beach")
    )
    assert allowed.status_code == 201, allowed.text


def test_an_api_key_stops_clearing_once_revoked_or_its_account_disabled(client, requester, session):
    """The caller is read anew on every clearance: a revoked key, or its account disabled, is
    refused on the next request."""

    def key():
        made = client.post(
            "/v1/api-keys", headers=requester.headers, json={"name": "gen", "scopes": ["clearance"]}
        )
        return made.json()["id"], {"X-API-Key": made.json()["secret"]}

    def clear(headers):
        return client.post("/v1/clearances", headers=headers, json=clearance_body("a beach"))

    key_id, revoked = key()
    assert clear(revoked).status_code == 201
    client.post(f"/v1/api-keys/{key_id}/revoke", headers=requester.headers)
    refused = clear(revoked)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"] == "application/problem+json"

    _, live = key()
    assert clear(live).status_code == 201
    account = session.get(Account, requester.id)
    account.disabled_at = utcnow()
    session.add(account)
    session.commit()
    assert clear(live).status_code == 401


def nested_lists(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_objects(depth):
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"width": 854, "height": 480, "steps": 20}, "/quote-refused"),
        ({**PARAMETERS, "guidance": 7.5}, "/request-not-digestible"),
        ({**PARAMETERS, "width": 7680, "height": 4320}, "/quote-refused"),
        ({**PARAMETERS, "steps": 0}, "/quote-refused"),
        # Nested past what the digest's recursion holds: a 500 before nesting was bounded.
        ({**PARAMETERS, "x": nested_lists(700)}, "/request-not-digestible"),
        ({**PARAMETERS, "x": nested_objects(500)}, "/request-not-digestible"),
    ],
)
def test_parameters_that_cannot_be_priced_or_digested_are_a_400(
    client, requester, parameters, problem
):
    answer = client.post(
        "/v1/clearances",
        headers=requester.headers,
        json=clearance_body("a beach", parameters=parameters),
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(problem)
