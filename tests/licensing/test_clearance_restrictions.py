"""The owner's restrictions in their own words, through the API: a policy carries them, a
clearance whose prompt breaks one is denied quoting the owner's words, one that respects it is
cleared, and a restriction that says nothing is a clear error."""

import pytest
from clearing import clear
from factories import granted_asset

NO_ALCOHOL = {
    "audience": "anyone",
    "allowed_uses": ["commercial"],
    "restrictions": ["never drinking alcohol", "don't make me swear"],
}


def _clear(client, requester, prompt: str) -> dict:
    answer = clear(client, requester, prompt)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def restricted(client, holder):
    asset, _ = granted_asset(client, holder, handle="captain_test", policy=NO_ALCOHOL)
    return asset


def test_the_policy_keeps_the_restrictions_as_written(client, holder, restricted):
    policy = client.get(f"/v1/assets/{restricted['id']}/policy", headers=holder.headers).json()
    assert policy["policy"]["restrictions"] == NO_ALCOHOL["restrictions"]


def test_a_prompt_that_breaks_a_restriction_is_denied_in_the_owners_words(
    client, holder, requester, restricted
):
    denied = _clear(client, requester, "Captain Test drinking a beer at a bar")
    assert denied["outcome"] == "denied" and denied["token"] is None
    reason = (
        "@captain_test's owner does not allow \u201cnever drinking alcohol\u201d, and this "
        "prompt breaks it: it reads like \u201cdrinking alcohol\u201d."
    )
    assert denied["reasons"] == [reason]
    usage = client.get(f"/v1/assets/{restricted['id']}/usage", headers=holder.headers).json()
    assert [r["text"] for r in usage["items"][0]["reasons"]] == [reason]


def test_a_prompt_that_respects_it_is_cleared(client, requester, restricted):
    cleared = _clear(client, requester, "Captain Test drinking water after a run")
    assert cleared["outcome"] == "cleared", cleared["reasons"]


def test_the_same_prompt_touching_no_restricted_asset_is_cleared(client, requester, restricted):
    assert _clear(client, requester, "a sailor drinking a beer at a bar")["outcome"] == "cleared"


@pytest.mark.parametrize(
    "restrictions", [["never!"], ["no smoking", "no smoking"], ["x" * 300], ["a"] * 11]
)
def test_a_restriction_that_says_nothing_is_refused_with_a_problem(client, holder, restrictions):
    asset, _ = granted_asset(client, holder, handle="captain_other")
    answer = client.post(
        f"/v1/assets/{asset['id']}/policies",
        headers=holder.headers,
        json={**NO_ALCOHOL, "restrictions": restrictions},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
