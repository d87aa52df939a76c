"""The account's life past sign-up: change the password (other sessions end), sign out,
delete the account (consent withdrawn, data erased, the audit trail kept), export the data."""

import json

import pytest
from factories import PASSWORD, create_asset, granted_asset, sign_up
from inviting import invited
from sqlalchemy import text
from stored import every_stored_text

NEW_PASSWORD = "a different long passphrase"


def _sign_in(client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _me(client, headers) -> int:
    return client.get("/v1/accounts/me", headers=headers).status_code


def test_changing_the_password_ends_every_other_session(client, holder):
    laptop = _sign_in(client, holder.email)
    key = client.post(
        "/v1/api-keys",
        headers=holder.headers,
        json={"name": "generator", "scopes": ["account:read"]},
    )
    changed = client.post(
        "/v1/accounts/me/password",
        headers=holder.headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert _me(client, fresh) == 200
    for ended in (holder.headers, laptop):
        refused = client.get("/v1/accounts/me", headers=ended)
        assert refused.status_code == 401
        assert "password changed" in refused.json()["detail"]
    # Services keep working: API keys are revoked on their own.
    assert _me(client, {"X-API-Key": key.json()["secret"]}) == 200
    assert (
        client.post(
            "/v1/auth/token", data={"username": holder.email, "password": PASSWORD}
        ).status_code
        == 401
    )
    assert _me(client, _sign_in(client, holder.email, NEW_PASSWORD)) == 200


def test_the_password_is_needed_to_change_it_and_a_wrong_one_changes_nothing(client, holder):
    refused = client.post(
        "/v1/accounts/me/password",
        headers=holder.headers,
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/wrong-password")
    assert _me(client, holder.headers) == 200
    assert _me(client, _sign_in(client, holder.email)) == 200


def test_re_entered_passwords_are_counted_like_sign_ins(client, holder):
    """A stolen token cannot guess the password through these routes either."""
    for _ in range(10):
        wrong = client.post(
            "/v1/accounts/me/deletion", headers=holder.headers, json={"password": "guess" * 3}
        )
        assert wrong.status_code == 400
    limited = client.post(
        "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
    )
    assert limited.status_code == 429
    assert _me(client, holder.headers) == 200


def test_signing_out_ends_this_token_and_no_other(client, holder):
    phone = _sign_in(client, holder.email)
    out = client.post("/v1/accounts/me/sign-out", headers=holder.headers)
    assert out.status_code == 204
    refused = client.get("/v1/accounts/me", headers=holder.headers)
    assert refused.status_code == 401
    assert "signed out" in refused.json()["detail"]
    assert _me(client, phone) == 200
    # Signing out twice is refused as any ended token is, and changes nothing.
    assert client.post("/v1/accounts/me/sign-out", headers=holder.headers).status_code == 401


def test_an_api_key_cannot_sign_out(client, holder):
    key = client.post(
        "/v1/api-keys",
        headers=holder.headers,
        json={"name": "generator", "scopes": ["account:read"]},
    )
    secret = {"X-API-Key": key.json()["secret"]}
    refused = client.post("/v1/accounts/me/sign-out", headers=secret)
    assert refused.status_code == 403
    assert "sign in" in refused.json()["detail"]
    assert _me(client, secret) == 200


def test_deleting_the_account_withdraws_consent_erases_data_and_keeps_the_trail(client, engine):
    holder = sign_up(client, email="ada.deleted@example.org")
    asset, created = granted_asset(client, holder)
    key = client.post(
        "/v1/api-keys",
        headers=holder.headers,
        json={"name": "generator", "scopes": ["account:read"]},
    )
    wrong = client.post(
        "/v1/accounts/me/deletion", headers=holder.headers, json={"password": "not it at all"}
    )
    assert wrong.status_code == 400
    assert _me(client, holder.headers) == 200

    deleted = client.post(
        "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["grants_revoked"] == 1

    # Consent is withdrawn, provably: the receipt now verifies as withdrawn.
    verified = client.post("/v1/receipts/verify", json={"token": created["receipt"]["token"]})
    assert verified.json()["valid"] is True
    assert verified.json()["consent"]["state"] == "withdrawn"
    assert verified.json()["consent"]["withdrawal_receipt_id"]
    # Every way in is closed.
    assert _me(client, holder.headers) == 401
    assert _me(client, {"X-API-Key": key.json()["secret"]}) == 401
    with engine.connect() as connection:  # revoked, not only shut out with the account
        revoked_at = connection.execute(
            text("SELECT revoked_at FROM api_key WHERE prefix = :prefix"),
            {"prefix": key.json()["prefix"]},
        ).scalar_one()
    assert revoked_at is not None
    assert (
        client.post(
            "/v1/auth/token", data={"username": holder.email, "password": PASSWORD}
        ).status_code
        == 401
    )
    # Personal data is gone from every table but the audit log; the chain still holds.
    # The audit log is kept, immutable: the trail of what happened.
    stored = every_stored_text(engine, except_tables=("audit_entry",))
    for personal in (holder.email, "Test Person", "1990, 5, 17", "Captain Test", "The Tester"):
        assert personal not in stored
    admin = _admin(client, engine)
    assert client.get("/v1/audit/verify", headers=admin.headers).json()["ok"] is True
    # Not even an admin brings a deleted account back.
    revived = client.patch(
        f"/v1/admin/accounts/{holder.id}", headers=admin.headers, json={"disabled": False}
    )
    assert revived.status_code == 404
    # The address is free: the person may come back as a new account.
    again = sign_up(client, email=holder.email)
    assert again.id != holder.id
    assert client.get(f"/v1/assets/{asset['id']}", headers=again.headers).status_code == 404


def _admin(client, engine):
    from factories import promote
    from sqlmodel import Session

    with Session(engine) as session:
        return promote(session, sign_up(client), "admin")


def test_deleting_the_account_erases_its_address_from_invitations_and_ends_them(client, engine):
    holder = sign_up(client, email="ida.deleted@example.org")
    inviter = sign_up(client)
    invited(client, inviter, "/v1/accounts/me/agents", {"email": holder.email})
    invited(client, holder, "/v1/accounts/me/agents", {"email": inviter.email})

    deleted = client.post(
        "/v1/accounts/me/deletion", headers=holder.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text

    assert client.get("/v1/invitations", headers=inviter.headers).json() == []
    assert client.get("/v1/invitations/sent", headers=inviter.headers).json() == []
    assert holder.email not in every_stored_text(engine, except_tables=("audit_entry",))


def test_export_holds_everything_about_the_account_and_nothing_of_others(
    client, holder, other_holder
):
    asset, created = granted_asset(client, holder)
    client.post(f"/v1/grants/{created['grant']['id']}/revoke", headers=holder.headers, json={})
    gone = create_asset(client, holder, kind="style")
    client.delete(f"/v1/assets/{gone['id']}", headers=holder.headers)
    client.post(
        "/v1/api-keys",
        headers=holder.headers,
        json={"name": "generator", "scopes": ["account:read"]},
    )
    theirs, their_grant = granted_asset(client, other_holder, name="Their Test")

    export = client.get("/v1/accounts/me/export", headers=holder.headers)
    assert export.status_code == 200
    document = export.json()
    assert document["account"]["email"] == holder.email
    assert [key["name"] for key in document["api_keys"]] == ["generator"]
    assert "secret" not in json.dumps(document["api_keys"])
    by_id = {exported["id"]: exported for exported in document["assets"]}
    assert set(by_id) == {asset["id"], gone["id"]}
    assert by_id[gone["id"]]["deleted_at"]
    mine = by_id[asset["id"]]
    assert [p["version"] for p in mine["policies"]] == [1]
    assert [g["state"] for g in mine["grants"]] == ["revoked"]
    assert [r["event"] for r in mine["receipts"]] == ["consent_given", "consent_withdrawn"]
    actions = [entry["action"] for entry in document["audit_entries"]]
    assert actions.count("grant.revoked") == 1 and "asset.deleted" in actions
    # Another holder's objects appear nowhere.
    text = export.text
    for theirs_id in (str(other_holder.id), theirs["id"], their_grant["grant"]["id"]):
        assert theirs_id not in text


@pytest.mark.parametrize("path", ["/v1/accounts/me/export", "/v1/accounts/me/sign-out"])
def test_lifecycle_routes_need_a_caller(client, path):
    method = client.get if path.endswith("export") else client.post
    assert method(path).status_code == 401
