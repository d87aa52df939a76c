"""Estates: a likeness reported as a deceased person's is never usable until an estate whose
authority a moderator verified consents; the verified estate acts as its owner."""

import pytest
from clearing import decision
from factories import FACE_POLICY, consented_likeness, create_asset, promote, sign_up
from inviting import name_agent

EVIDENCE = {"evidence": "Grant of probate 2026/1234, High Court, Family Division."}


def clear(client, user, handle: str) -> dict:
    return decision(client, user, f"@{handle} waving hello")


@pytest.fixture
def face(client, holder):
    return consented_likeness(client, holder)


@pytest.fixture
def moderator(client, session):
    return promote(session, sign_up(client), "moderator")


def _claim(client, applicant, likeness) -> dict:
    claimed = client.post(
        f"/v1/likenesses/{likeness['id']}/estate-claims", headers=applicant.headers, json=EVIDENCE
    )
    assert claimed.status_code == 201, claimed.text
    return claimed.json()


def _decide(client, moderator, claim, **body):
    return client.post(
        f"/v1/staff/estate-claims/{claim['id']}/decision",
        headers=moderator.headers,
        json={"note": "probate checked with the court", **body},
    )


def test_reported_deceased_then_only_a_verified_estate_consents(client, holder, face, moderator):
    requester = sign_up(client)
    assert clear(client, requester, face["handle"])["outcome"] == "cleared"
    estate = sign_up(client)
    claim = _claim(client, estate, face)

    # From the report on, nobody may use the face, and the answer says why.
    denied = clear(client, requester, face["handle"])
    assert denied["outcome"] == "denied"
    assert "deceased person's likeness" in str(denied), denied
    # The person's account may no longer consent, nor may the applicant before verification.
    asset = f"/v1/assets/{face['id']}"
    assert client.post(f"{asset}/grants", headers=holder.headers, json={}).status_code == 404
    assert (
        client.post(f"{asset}/policies", headers=estate.headers, json=FACE_POLICY).status_code
        == 404
    )
    # ... and the person may still withdraw.
    assert client.get(asset, headers=holder.headers).status_code == 200

    verified = _decide(client, moderator, claim, verify=True)
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"
    # The consent given before is withdrawn; until the estate consents, nothing is usable.
    assert clear(client, requester, face["handle"])["outcome"] == "denied"
    assert (
        client.post(f"{asset}/policies", headers=estate.headers, json=FACE_POLICY).status_code
        == 201
    )
    granted = client.post(f"{asset}/grants", headers=estate.headers, json={})
    assert granted.status_code == 201, granted.text
    assert clear(client, requester, face["handle"])["outcome"] == "cleared"

    history = client.get(f"{asset}/audit", headers=estate.headers).json()["items"]
    actions = [entry["action"] for entry in history]
    assert "likeness.reported_deceased" in actions and "estate.verified" in actions
    decided = next(e for e in history if e["action"] == "estate.verified")
    assert decided["body"]["actor_id"] == str(moderator.id)


def test_a_staff_report_stops_every_use_with_no_estate(client, face, moderator):
    requester = sign_up(client)
    reported = client.post(
        f"/v1/staff/likenesses/{face['id']}/deceased",
        headers=moderator.headers,
        json={"note": "death notice in the press"},
    )
    assert reported.status_code == 204, reported.text
    assert clear(client, requester, face["handle"])["outcome"] == "denied"


def test_a_rejected_claim_leaves_the_face_unusable_unless_the_person_is_living(
    client, face, moderator
):
    requester = sign_up(client)
    claim = _claim(client, sign_up(client), face)
    rejected = _decide(client, moderator, claim, verify=False)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert clear(client, requester, face["handle"])["outcome"] == "denied"
    second = _claim(client, sign_up(client), face)
    lifted = _decide(client, moderator, second, verify=False, person_is_living=True)
    assert lifted.status_code == 200
    assert clear(client, requester, face["handle"])["outcome"] == "cleared"


def test_only_staff_decide_and_never_on_their_own_claim(client, holder, face, moderator):
    claim = _claim(client, moderator, face)
    assert _decide(client, moderator, claim, verify=True).status_code == 403
    assert _decide(client, holder, claim, verify=True).status_code == 403
    assert client.get("/v1/staff/estate-claims", headers=holder.headers).status_code == 403
    listed = client.get("/v1/staff/estate-claims", headers=moderator.headers)
    assert [c["id"] for c in listed.json()] == [claim["id"]]


def test_the_persons_agent_does_not_decide_an_estate_claim(
    client, session, holder, face, moderator
):
    """The agent a person chose for their likeness acts for them: a party to who their estate
    is, even as staff."""
    name_agent(client, holder, moderator)
    claim = _claim(client, sign_up(client), face)
    refused = _decide(client, moderator, claim, verify=False)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("party-to-conflict")
    another = promote(session, sign_up(client), "moderator")
    assert _decide(client, another, claim, verify=False).status_code == 200


def test_a_character_is_no_likeness_to_report(client, holder):
    character = create_asset(client, holder)
    answer = client.post(
        f"/v1/likenesses/{character['id']}/estate-claims",
        headers=sign_up(client).headers,
        json=EVIDENCE,
    )
    assert answer.status_code == 404
