"""Withdrawing consent is always possible for the person who gave it (GDPR art. 7(3)): an
owner whose role changed still revokes, and disabling an account withdraws its consent."""

from factories import PASSWORD, granted_asset, promote, sign_up


def test_an_owner_made_a_creator_still_revokes_their_grants(client, holder, session):
    _, first = granted_asset(client, holder)
    asset, second = granted_asset(client, holder)
    promote(session, holder, "creator")
    assert client.get("/v1/assets", headers=holder.headers).status_code == 403

    revoked = client.post(
        f"/v1/grants/{first['grant']['id']}/revoke", headers=holder.headers, json={}
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["grants"][0]["state"] == "revoked"
    all_of_asset = client.post(f"/v1/assets/{asset['id']}/revoke", headers=holder.headers, json={})
    assert all_of_asset.status_code == 200, all_of_asset.text
    assert [g["id"] for g in all_of_asset.json()["grants"]] == [second["grant"]["id"]]


def test_revoking_stays_the_owners_alone_whatever_the_role(client, holder, other_holder):
    _, created = granted_asset(client, holder)
    creator = sign_up(client, role="creator")
    for stranger in (creator, other_holder):
        refused = client.post(
            f"/v1/grants/{created['grant']['id']}/revoke", headers=stranger.headers, json={}
        )
        assert refused.status_code == 404
    status = client.get(f"/v1/grants/{created['grant']['id']}/status").json()
    assert status["state"] == "given"


def test_disabling_an_account_withdraws_its_consent_with_receipts_and_a_trail(
    client, holder, session
):
    asset, first = granted_asset(client, holder)
    _, second = granted_asset(client, holder)
    admin = promote(session, sign_up(client), "admin")
    disabled = client.patch(
        f"/v1/admin/accounts/{holder.id}", headers=admin.headers, json={"disabled": True}
    )
    assert disabled.status_code == 200, disabled.text
    assert client.get("/v1/accounts/me", headers=holder.headers).status_code == 401

    for created in (first, second):
        verified = client.post(
            "/v1/receipts/verify", json={"token": created["receipt"]["token"]}
        ).json()
        assert verified["consent"]["state"] == "withdrawn"
        withdrawal = verified["consent"]["withdrawal_receipt_id"]
        assert withdrawal

    # The withdrawal receipts are signed and say who acted; the audit log names the admin.
    re_enabled = client.patch(
        f"/v1/admin/accounts/{holder.id}", headers=admin.headers, json={"disabled": False}
    )
    assert re_enabled.status_code == 200
    # Tokens from before the account was disabled stay dead: its owner signs in again.
    assert client.get("/v1/accounts/me", headers=holder.headers).status_code == 401
    token = client.post("/v1/auth/token", data={"username": holder.email, "password": PASSWORD})
    holder.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    history = client.get(f"/v1/assets/{asset['id']}/audit", headers=holder.headers).json()
    revoked = [entry for entry in history["items"] if entry["action"] == "grant.revoked"]
    assert len(revoked) == 1
    assert revoked[0]["body"]["actor_id"] == str(admin.id)
    assert revoked[0]["body"]["details"]["reason"] == "account disabled"
    receipt_id = revoked[0]["body"]["details"]["receipt_id"]
    receipt = client.get(f"/v1/receipts/{receipt_id}", headers=holder.headers).json()
    claims = client.post("/v1/receipts/verify", json={"token": receipt["token"]}).json()["claims"]
    assert claims["event"] == "consent_withdrawn"
    assert "staff" in claims["collectionMethod"]
    # Enabling the account again does not bring consent back: it must be given anew.
    grant = client.get(f"/v1/grants/{first['grant']['id']}", headers=holder.headers).json()
    assert grant["state"] == "revoked"
