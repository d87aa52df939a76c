"""Consent receipts: signed, verifiable with the published key, tamper-evident."""

import base64
import json

from factories import granted_asset
from jose import jwk, jws


def _verify_with_published_key(client, token: str) -> dict:
    """Check a receipt the way an outside party would: only with /.well-known/jwks.json."""
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    kid = jws.get_unverified_header(token)["kid"]
    published = next(key for key in keys if key["kid"] == kid)
    key = jwk.construct(published, algorithm="ES256")
    return json.loads(jws.verify(token, key, algorithms=["ES256"]))


def test_grant_and_revocation_receipts_verify_with_the_published_key(client, holder):
    asset, created = granted_asset(client, holder)
    given = _verify_with_published_key(client, created["receipt"]["token"])
    assert given["event"] == "consent_given"
    assert given["state"] == "given"
    assert given["piiPrincipalId"] == str(holder.id)
    assert given["asset"] == {"id": asset["id"], "handle": asset["handle"], "kind": "character"}
    assert given["grant"] == {"id": created["grant"]["id"], "policyVersion": 1}
    purposes = given["services"][0]["purposes"]
    assert sorted(p["purposeCategory"][0] for p in purposes) == ["parody", "personal"]
    assert given["consentReceiptID"] == created["receipt"]["id"]

    revoked = client.post(
        f"/v1/grants/{created['grant']['id']}/revoke", headers=holder.headers, json={}
    ).json()
    withdrawn = _verify_with_published_key(client, revoked["receipts"][0]["token"])
    assert withdrawn["event"] == "consent_withdrawn"
    assert withdrawn["state"] == "withdrawn"


def test_verify_endpoint_accepts_a_receipt_and_refuses_a_tampered_one(client, holder):
    _, created = granted_asset(client, holder)
    token = created["receipt"]["token"]
    ok = client.post("/v1/receipts/verify", json={"token": token}).json()
    assert ok["valid"] is True
    assert ok["claims"]["consentReceiptID"] == created["receipt"]["id"]

    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["state"] = "given"
    claims["grant"]["policyVersion"] = 99
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    refused = client.post("/v1/receipts/verify", json={"token": forged}).json()
    assert refused["valid"] is False
    assert refused["claims"] is None
    assert refused["reason"]

    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert (
        client.post("/v1/receipts/verify", json={"token": f"{header}.{payload}.{flipped}"}).json()[
            "valid"
        ]
        is False
    )


def test_an_access_token_is_not_a_receipt(client, holder):
    access_token = holder.headers["Authorization"].removeprefix("Bearer ")
    result = client.post("/v1/receipts/verify", json={"token": access_token}).json()
    assert result["valid"] is False


def test_a_holder_reads_their_receipt(client, holder):
    _, created = granted_asset(client, holder)
    read = client.get(f"/v1/receipts/{created['receipt']['id']}", headers=holder.headers)
    assert read.status_code == 200
    assert read.json()["token"] == created["receipt"]["token"]


def test_receipts_still_verify_after_the_receipt_key_is_rotated(settings, holder):
    from fastapi.testclient import TestClient

    from clearhouse.app import create_app
    from clearhouse.keys import generate_private_pem

    before = settings.model_copy(update={"receipt_key_pem": generate_private_pem()})
    with TestClient(create_app(before)) as client:
        _, created = granted_asset(client, holder)
        old_kid = jws.get_unverified_header(created["receipt"]["token"])["kid"]
        checkpoint = client.get("/v1/audit/checkpoint", headers=holder.headers).json()

    after = settings.model_copy(update={"receipt_key_pem": generate_private_pem()})
    with TestClient(create_app(after)) as client:
        kids = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
        assert old_kid in kids
        assert _verify_with_published_key(client, created["receipt"]["token"])["state"] == "given"
        old = client.post("/v1/receipts/verify", json={"token": created["receipt"]["token"]})
        assert old.json()["valid"] is True
        kept = client.post(
            "/v1/audit/checkpoint/verify",
            headers=holder.headers,
            json={"token": checkpoint["token"]},
        ).json()
        assert kept["valid"] is True and kept["consistent"] is True
        revoked = client.post(
            f"/v1/grants/{created['grant']['id']}/revoke", headers=holder.headers, json={}
        ).json()
        new_kid = jws.get_unverified_header(revoked["receipts"][0]["token"])["kid"]
        assert new_kid != old_kid
        assert new_kid in kids
