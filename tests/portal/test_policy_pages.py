"""The policy editor: saving makes the policy in force and consents to it; the preview shows
the evaluator's own decision for a sample request, without saving anything."""

import re

from clearing import decision
from factories import create_asset, granted_asset, sign_up, unverified_holder_of
from fastapi.testclient import TestClient
from portal_client import portal_sign_in, post_form

POLICY = {
    "audience": "anyone",
    "allowed_uses": ["personal", "parody"],
    "excluded_content": ["violence", "sexual"],
    "currency": "EUR",
    "per_use": "1.20",
    "per_second": "0.03",
    "daily_use_limit": "",
    "total_use_limit": "500",
    "expires_on": "",
    "withdraw_earlier": "on",
}


def _policy_in_force(client: TestClient, user, asset_id: str) -> dict:
    answer = client.get(f"/v1/assets/{asset_id}/policy", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _grants(client: TestClient, user, asset_id: str) -> list[dict]:
    return client.get(f"/v1/assets/{asset_id}/grants", headers=user.headers).json()["items"]


def test_the_saved_policy_is_the_one_the_api_shows_in_force_and_is_consented_to(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    editor = client.get(f"/assets/{asset['id']}/policy")
    assert editor.status_code == 200
    assert "Try it before you save" in editor.text

    answer = post_form(client, f"/assets/{asset['id']}/policy", POLICY)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/assets/{asset['id']}?notice=policy-saved"
    in_force = _policy_in_force(client, holder, asset["id"])
    assert in_force["version"] == 1
    policy = in_force["policy"]
    assert policy["audience"] == "anyone"
    assert policy["allowed_uses"] == ["parody", "personal"]
    assert policy["excluded_content"] == ["sexual", "violence"]
    assert policy["price"] == {"currency": "EUR", "per_use_minor": 120, "per_second_minor": 3}
    assert policy["total_use_limit"] == 500
    (grant,) = _grants(client, holder, asset["id"])
    assert grant["state"] == "active" and grant["policy_version"] == 1

    page = client.get(f"/assets/{asset['id']}")
    assert "Anyone with a Clearhouse account may use it, for parody and personal use." in page.text
    assert "EUR 1.20" in page.text


def test_a_new_version_withdraws_the_consent_to_the_old_one_unless_kept(
    client: TestClient, holder
) -> None:
    asset, _ = granted_asset(client, holder)
    portal_sign_in(client, holder)
    kept = post_form(client, f"/assets/{asset['id']}/policy", {**POLICY, "withdraw_earlier": ""})
    assert kept.status_code == 303
    states = {g["policy_version"]: g["state"] for g in _grants(client, holder, asset["id"])}
    assert states == {1: "active", 2: "active"}

    replaced = post_form(client, f"/assets/{asset['id']}/policy", POLICY)
    assert replaced.status_code == 303
    states = [(g["policy_version"], g["state"]) for g in _grants(client, holder, asset["id"])]
    assert states == [(1, "revoked"), (2, "revoked"), (3, "active")]
    assert _policy_in_force(client, holder, asset["id"])["version"] == 3


def test_saving_nobody_withdraws_every_consent(client: TestClient, holder) -> None:
    asset, _ = granted_asset(client, holder)
    portal_sign_in(client, holder)
    answer = post_form(
        client,
        f"/assets/{asset['id']}/policy",
        {**POLICY, "audience": "nobody", "allowed_uses": []},
    )
    assert answer.status_code == 303
    assert _policy_in_force(client, holder, asset["id"])["policy"]["audience"] == "nobody"
    assert {g["state"] for g in _grants(client, holder, asset["id"])} == {"revoked"}


def test_problems_show_beside_their_fields_and_nothing_is_saved(client: TestClient, holder) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    answer = post_form(
        client,
        f"/assets/{asset['id']}/policy",
        {**POLICY, "per_use": "1.234", "allowed_uses": [], "currency": "XXQ"},
    )
    assert answer.status_code == 400
    assert 'id="f-per_use-error"' in answer.text
    assert 'id="f-currency-error"' in answer.text
    assert 'value="0.03"' in answer.text  # what was typed stays
    assert _policy_in_force(client, holder, asset["id"])["version"] == 0


def test_an_unverified_holder_is_told_inline_and_nothing_is_saved(
    client: TestClient, engine
) -> None:
    unverified, asset = unverified_holder_of(client, engine)
    portal_sign_in(client, unverified)
    answer = post_form(client, f"/assets/{asset['id']}/policy", POLICY)
    assert answer.status_code == 403
    assert "Verify your email address first" in answer.text
    assert "Try it before you save" in answer.text  # the editor, with the message in it
    assert _policy_in_force(client, unverified, asset["id"])["version"] == 0
    assert _grants(client, unverified, asset["id"]) == []


def _preview(client: TestClient, asset_id: str, **sample) -> str:
    answer = post_form(
        client,
        f"/assets/{asset_id}/policy/preview",
        {**POLICY, "sample_use": "personal", "sample_seconds": "10", **sample},
        page=f"/assets/{asset_id}/policy",
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def test_the_preview_shows_the_evaluators_decision_and_price_for_an_allowed_sample(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    page = _preview(client, asset["id"], sample_prompt="a walk on the beach at sunset")
    assert "Allowed" in page
    assert (
        f"@{asset['handle']} may be used for personal use under its owner&#39;s policy version 1"
        in page
    )
    assert "EUR 1.50" in page  # 1.20 per use + 0.03 x 10 seconds
    assert _policy_in_force(client, holder, asset["id"])["version"] == 0  # nothing saved


def test_the_preview_refuses_a_sample_the_policy_refuses_and_says_why(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    page = _preview(client, asset["id"], sample_use="commercial", sample_content=["violence"])
    assert "Refused" in page
    assert "may be used for parody, personal only, not for commercial use" in page
    assert "may never appear in violent content, and this request declares it" in page
    assert "Price for" not in page

    approval = _preview(client, asset["id"], approval_required="on")
    assert "Needs your approval" in approval
    assert "approves each use; this request waits for them" in approval

    minor = _preview(client, asset["id"], sample_minor="on")
    assert "does not admit requesters under 18" in minor


def test_the_preview_reads_the_prompt_for_excluded_content(client: TestClient, holder) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    page = _preview(
        client, asset["id"], sample_prompt="he stabs the guard to death, blood everywhere"
    )
    assert "Refused" in page
    assert "violent content, and this prompt shows it" in page


def test_policy_forms_without_their_csrf_token_are_refused_and_nothing_changes(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    for path in (f"/assets/{asset['id']}/policy", f"/assets/{asset['id']}/policy/preview"):
        answer = client.post(path, data={**POLICY, "sample_use": "personal"})
        assert answer.status_code == 403, path
        assert "This form has expired" in answer.text
    assert _policy_in_force(client, holder, asset["id"])["version"] == 0
    assert _grants(client, holder, asset["id"]) == []


def test_a_policy_for_named_accounts_admits_them_only(client: TestClient, holder) -> None:
    asset = create_asset(client, holder)
    friend = sign_up(client, role="creator")
    portal_sign_in(client, holder)
    listed = {**POLICY, "audience": "listed", "listed_accounts": str(friend.id)}
    stranger = _preview(client, asset["id"], **listed)
    assert "admits only the accounts its owner listed" in stranger
    named = _preview(client, asset["id"], **listed, sample_listed="on")
    assert "Allowed" in named

    unknown = post_form(
        client,
        f"/assets/{asset['id']}/policy",
        {**listed, "listed_accounts": "00000000-0000-4000-8000-000000000000"},
    )
    assert unknown.status_code == 400
    assert "listed_accounts names accounts that do not exist" in unknown.text
    assert _policy_in_force(client, holder, asset["id"])["version"] == 0

    saved = post_form(client, f"/assets/{asset['id']}/policy", listed)
    assert saved.status_code == 303
    assert _policy_in_force(client, holder, asset["id"])["policy"]["listed_accounts"] == [
        str(friend.id)
    ]


def test_limits_in_the_owners_own_words_are_saved_one_a_line_and_shown_back(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    limits = "never drinking alcohol\r\n\r\n  don't make me swear  \r\n"
    answer = post_form(client, f"/assets/{asset['id']}/policy", {**POLICY, "restrictions": limits})
    assert answer.status_code == 303, answer.text
    policy = _policy_in_force(client, holder, asset["id"])["policy"]
    assert policy["restrictions"] == ["never drinking alcohol", "don't make me swear"]
    editor = client.get(f"/assets/{asset['id']}/policy").text
    assert "Limits in your own words" in editor
    assert "never drinking alcohol\ndon&#39;t make me swear</textarea>" in editor
    assert "In your own words: \u201cnever drinking alcohol\u201d and" in editor


def test_the_preview_quotes_the_limit_a_sample_prompt_breaks(client: TestClient, holder) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    limits = {"restrictions": "never drinking alcohol"}
    refused = _preview(
        client, asset["id"], sample_prompt="Captain Comet drinking a beer at a bar", **limits
    )
    assert "Refused" in refused
    assert "does not allow \u201cnever drinking alcohol\u201d, and this prompt breaks it" in refused
    allowed = _preview(
        client, asset["id"], sample_prompt="Captain Comet drinking water after a run", **limits
    )
    assert "Refused" not in allowed and "does not allow" not in allowed


def test_a_limit_that_says_nothing_comes_back_with_its_problem_and_nothing_is_saved(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    answer = post_form(
        client, f"/assets/{asset['id']}/policy", {**POLICY, "restrictions": "never!"}
    )
    assert answer.status_code == 400
    assert "does not say what is forbidden" in answer.text
    assert "never!</textarea>" in answer.text  # the form comes back as typed
    assert _policy_in_force(client, holder, asset["id"])["version"] == 0


def _previewed_outcome(page: str) -> str:
    """The preview's decision for the request, as a clearance's ``outcome`` says it."""
    heading = re.search(r'id="preview-result"[^>]*>\s*<h3>([^<]+)<', page)
    assert heading is not None, page
    words = {"Allowed": "cleared", "Refused": "denied", "Needs your approval": "needs_approval"}
    return words[heading.group(1).strip()]


def test_the_preview_decides_a_sample_naming_the_asset_as_a_clearance_does(
    client: TestClient, holder
) -> None:
    """A short prompt is read for what it shows beside the asset's name, as in a clearance:
    "@captain_test a video" read whole reads like harassment, and beside the name says
    nothing (rights/matching/content_check.py)."""
    asset = create_asset(client, holder, handle="captain_test")
    policy = {**POLICY, "excluded_content": ["violence", "sexual", "harassment"], "currency": "USD"}
    portal_sign_in(client, holder)
    assert post_form(client, f"/assets/{asset['id']}/policy", policy).status_code == 303
    creator = sign_up(client, role="creator")
    prompts = {
        "@captain_test a video": "cleared",
        "Captain Test, my video": "cleared",
        "@captain_test nude woman": "denied",
    }
    for prompt, expected in prompts.items():
        cleared = decision(client, creator, prompt, use="personal")
        assert cleared["outcome"] == expected, (prompt, cleared)
        page = _preview(client, asset["id"], **policy, sample_prompt=prompt)
        assert _previewed_outcome(page) == expected, prompt
