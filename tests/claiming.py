"""Claims in tests: evidence submitted through the API, and staff deciding it."""

from factories import User, promote, sign_up

STATEMENT = "I created this character and hold its registered trademark."


def submit_claim(client, user: User, asset_id: str, **evidence) -> dict:
    body = {
        "evidence_kind": "trademark_registration",
        "reference": "US 9,876,543",
        "statement": STATEMENT,
        **evidence,
    }
    response = client.put(f"/v1/assets/{asset_id}/claim", headers=user.headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def moderator(client, session) -> User:
    return promote(session, sign_up(client), "moderator")


def decide(client, staff: User, claim_id: str, decision: str, reason: str = "checked") -> dict:
    response = client.post(
        f"/v1/claims/{claim_id}/decision",
        headers=staff.headers,
        json={"decision": decision, "reason": reason},
    )
    assert response.status_code == 200, response.text
    return response.json()


def verified(client, session, user: User, asset_id: str) -> dict:
    """The user's asset with its claim verified by a new moderator."""
    claim = submit_claim(client, user, asset_id)["claim"]
    return decide(client, moderator(client, session), claim["id"], "verify")


def cases_opened_by(client, holders: list[User]) -> list[dict]:
    """The overlap cases the ``holders`` are the claimants of (the newer asset's side)."""
    return [
        case
        for holder in holders
        for case in client.get("/v1/overlaps", headers=holder.headers).json()["items"]
        if case["your_part"] == "claimant"
    ]
