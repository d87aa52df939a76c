"""Receipts that know they were revoked: verifying a receipt says whether its consent stands
now, and every receipt names a public status URL that answers the same, and nothing more."""

import uuid

from factories import granted_asset
from jose import jwt


def _revoke(client, user, grant_id: str, reason: str = "changed my mind") -> dict:
    response = client.post(
        f"/v1/grants/{grant_id}/revoke", headers=user.headers, json={"reason": reason}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_given_receipt_verifies_as_withdrawn_once_its_grant_is_revoked(client, holder):
    _, created = granted_asset(client, holder)
    token, grant_id = created["receipt"]["token"], created["grant"]["id"]
    before = client.post("/v1/receipts/verify", json={"token": token}).json()
    assert before["valid"] is True
    assert before["consent"]["state"] == "given"
    assert before["consent"]["withdrawn_at"] is None

    revocation = _revoke(client, holder, grant_id)
    after = client.post("/v1/receipts/verify", json={"token": token}).json()
    assert after["valid"] is True  # the signature still proves the consent once given
    assert after["claims"]["state"] == "given"  # what was signed does not change ...
    consent = after["consent"]  # ... but the answer says it no longer stands
    assert consent["state"] == "withdrawn"
    assert consent["withdrawn_at"] == revocation["grants"][0]["revoked_at"]
    assert consent["withdrawal_receipt_id"] == revocation["receipts"][0]["id"]


def test_every_receipt_names_a_status_url_anyone_can_query(client, holder, settings):
    _, created = granted_asset(client, holder)
    claims = jwt.get_unverified_claims(created["receipt"]["token"])
    grant_id = created["grant"]["id"]
    assert claims["statusUrl"] == f"{settings.public_url}/v1/grants/{grant_id}/status"
    path = claims["statusUrl"].removeprefix(settings.public_url)

    given = client.get(path)  # no credentials
    assert given.status_code == 200
    assert given.json()["state"] == "given"
    revocation = _revoke(client, holder, grant_id, reason="my private reason")
    withdrawn = client.get(path)
    assert withdrawn.json()["state"] == "withdrawn"
    assert withdrawn.json()["withdrawal_receipt_id"] == revocation["receipts"][0]["id"]
    # The status tells the state and nothing about the owner, the asset or the reason.
    body = withdrawn.text
    for private in (str(holder.id), holder.email, created["grant"]["asset_id"], "private reason"):
        assert private not in body
    assert set(withdrawn.json()) == {
        "grant_id",
        "state",
        "given_at",
        "withdrawn_at",
        "withdrawal_receipt_id",
        "expires_at",
        "status_url",
    }
    assert client.get(f"/v1/grants/{uuid.uuid4()}/status").status_code == 404


def test_a_receipt_signed_before_status_urls_existed_still_verifies_with_its_state(client, holder):
    """An old receipt (no statusUrl claim) keeps verifying, and learns its grant's state."""
    from clearhouse import signing

    _, created = granted_asset(client, holder)
    claims = jwt.get_unverified_claims(created["receipt"]["token"])
    del claims["statusUrl"]
    old = signing.sign(claims, key=client.app.state.keys.receipts, typ=signing.RECEIPT_TYPE)
    _revoke(client, holder, created["grant"]["id"])
    verified = client.post("/v1/receipts/verify", json={"token": old}).json()
    assert verified["valid"] is True
    assert verified["consent"]["state"] == "withdrawn"


def test_a_forged_receipt_learns_nothing_about_the_grant(client, holder):
    _, created = granted_asset(client, holder)
    header, payload, signature = created["receipt"]["token"].split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    refused = client.post("/v1/receipts/verify", json={"token": forged}).json()
    assert refused["valid"] is False
    assert refused["consent"] is None


def test_a_grant_whose_policy_expired_reads_as_expired(client, holder, session):
    """The policy's expiry passed (moved into the past here, as time would)."""
    from datetime import timedelta

    from sqlmodel import select

    from clearhouse.db import utcnow
    from policies.models import PolicyVersion

    asset, created = granted_asset(client, holder)
    version = session.exec(
        select(PolicyVersion).where(PolicyVersion.asset_id == uuid.UUID(asset["id"]))
    ).one()
    passed = (utcnow() - timedelta(days=1)).isoformat()
    version.document = {**version.document, "expires_at": passed}
    session.add(version)
    session.commit()
    status = client.get(f"/v1/grants/{created['grant']['id']}/status").json()
    assert status["state"] == "expired"
    assert status["withdrawn_at"] is None
    verified = client.post("/v1/receipts/verify", json={"token": created["receipt"]["token"]})
    assert verified.json()["consent"]["state"] == "expired"
