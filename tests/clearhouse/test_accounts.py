"""Sign-up, sign-in, API keys, roles, and what a body may not set."""

from datetime import date

import pytest
from factories import PASSWORD, create_asset, granted_asset, promote, sign_up
from stored import every_stored_text


def test_sign_up_and_sign_in(client):
    user = sign_up(client, role="creator")
    me = client.get("/v1/accounts/me", headers=user.headers).json()
    assert me["role"] == "creator"
    assert "password" not in str(me).lower()


def test_wrong_password_and_unknown_email_look_the_same(client, holder):
    wrong = client.post("/v1/auth/token", data={"username": holder.email, "password": "nope" * 4})
    unknown = client.post(
        "/v1/auth/token", data={"username": "ghost@example.org", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


@pytest.mark.parametrize("born,expected", [(date(2030, 1, 1), "future"), (date.today(), "13")])
def test_date_of_birth_is_checked(client, born, expected):
    response = client.post(
        "/v1/accounts",
        json={
            "email": "kid@example.org",
            "password": PASSWORD,
            "display_name": "Kid",
            "date_of_birth": born.isoformat(),
        },
    )
    assert response.status_code == 400
    assert expected in response.json()["detail"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("role", "admin"),
        ("role", "moderator"),
        ("revenue_share_bps", 10_000),
        ("id", "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_sign_up_cannot_set_staff_roles_or_terms(client, field, value):
    response = client.post(
        "/v1/accounts",
        json={
            "email": "sneaky@example.org",
            "password": PASSWORD,
            "display_name": "Sneaky",
            "date_of_birth": "1990-01-01",
            field: value,
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "field,value",
    [
        ("owner_id", "00000000-0000-0000-0000-000000000001"),
        ("kind", "likeness"),
        ("deleted_at", "2020-01-01T00:00:00Z"),
        ("id", "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_asset_update_cannot_set_owner_kind_or_status(client, holder, field, value):
    asset = create_asset(client, holder)
    response = client.patch(
        f"/v1/assets/{asset['id']}", headers=holder.headers, json={field: value}
    )
    assert response.status_code == 422
    after = client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()
    assert after == asset


@pytest.mark.parametrize(
    "body",
    [
        {"audience": "nobody", "revenue_share_bps": 10_000},
        {"audience": "nobody", "version": 9},
        {"audience": "nobody", "asset_id": "00000000-0000-0000-0000-000000000001"},
    ],
)
def test_policy_body_cannot_set_revenue_share_or_version(client, holder, body):
    asset = create_asset(client, holder)
    response = client.post(f"/v1/assets/{asset['id']}/policies", headers=holder.headers, json=body)
    assert response.status_code == 422


def test_grant_body_cannot_set_status(client, holder):
    asset = create_asset(client, holder)
    response = client.post(
        f"/v1/assets/{asset['id']}/grants", headers=holder.headers, json={"status": "active"}
    )
    assert response.status_code == 422


def test_only_admins_change_roles_and_revenue_share(client, holder, session):
    admin = promote(session, sign_up(client), "admin")

    url = f"/v1/admin/accounts/{holder.id}"
    refused = client.patch(url, headers=holder.headers, json={"role": "admin"})
    assert refused.status_code == 403
    changed = client.patch(
        url, headers=admin.headers, json={"revenue_share_bps": 7000, "role": "moderator"}
    )
    assert changed.status_code == 200
    assert changed.json()["revenue_share_bps"] == 7000
    assert client.get("/v1/accounts/me", headers=holder.headers).json()["role"] == "moderator"


def test_creators_cannot_register_assets(client):
    creator = sign_up(client, role="creator")
    response = client.post(
        "/v1/assets",
        headers=creator.headers,
        json={"kind": "style", "handle": "mystyle", "name": "Mine"},
    )
    assert response.status_code == 403


def test_api_key_authenticates_until_revoked(client, holder):
    created = client.post(
        "/v1/api-keys",
        headers=holder.headers,
        json={"name": "generator", "scopes": ["account:read"]},
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("chk_")
    assert client.get("/v1/accounts/me", headers={"X-API-Key": secret}).status_code == 200
    listed = client.get("/v1/api-keys", headers=holder.headers).json()
    assert "secret" not in listed[0]

    client.post(f"/v1/api-keys/{created.json()['id']}/revoke", headers=holder.headers)
    refused = client.get("/v1/accounts/me", headers={"X-API-Key": secret})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


def test_disabled_accounts_cannot_sign_in(client, holder, session):
    from clearhouse.accounts.models import Account
    from clearhouse.db import utcnow

    account = session.get(Account, holder.id)
    account.disabled_at = utcnow()
    session.add(account)
    session.commit()
    assert client.get("/v1/accounts/me", headers=holder.headers).status_code == 401
    token = client.post("/v1/auth/token", data={"username": holder.email, "password": PASSWORD})
    assert token.status_code == 401


@pytest.mark.parametrize("name", ["   ", "\u200b", "\u202ekey.exe"])
def test_an_api_key_name_must_be_visible_and_in_reading_order(client, holder, name):
    """As display names: a key listed as blank, or as text reordered by a bidirectional
    control, cannot be told apart from another in the list of keys."""
    response = client.post(
        "/v1/api-keys", headers=holder.headers, json={"name": name, "scopes": ["assets:read"]}
    )
    assert response.status_code == 422, response.text
    assert client.get("/v1/api-keys", headers=holder.headers).json() == []


def test_api_keys_are_stored_as_sha256_hashes_only(client, holder, engine):
    import hashlib

    created = client.post(
        "/v1/api-keys",
        headers=holder.headers,
        json={"name": "generator", "scopes": ["account:read"]},
    )
    secret = created.json()["secret"]
    assert client.get("/v1/accounts/me", headers={"X-API-Key": secret}).status_code == 200

    # The owner is shown the prefix to tell keys apart; the rest of the secret is nowhere.
    prefix = created.json()["prefix"]
    assert secret.startswith(prefix) and len(secret) - len(prefix) >= 32
    stored = every_stored_text(engine)
    assert secret[len(prefix) :] not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored


NUL = "\x00"


def test_nul_characters_are_refused_in_every_body_and_stored_nowhere(client, holder, engine):
    asset = create_asset(client, holder)
    _, created = granted_asset(client, holder)
    grant_id = created["grant"]["id"]
    refused = [
        client.post(
            "/v1/accounts",
            json={
                "email": "nul@example.org",
                "password": PASSWORD,
                "display_name": f"Ada{NUL}",
                "date_of_birth": "1990-01-01",
            },
        ),
        client.post(
            "/v1/assets",
            headers=holder.headers,
            json={"kind": "style", "handle": "nulstyle", "name": "A style", "aliases": [NUL]},
        ),
        client.patch(
            f"/v1/assets/{asset['id']}", headers=holder.headers, json={"name": f"Cap{NUL}tain"}
        ),
        client.post(
            f"/v1/grants/{grant_id}/revoke", headers=holder.headers, json={"reason": f"x{NUL}"}
        ),
    ]
    for response in refused:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "NUL" in str(response.json()["errors"])
    assert client.get(f"/v1/grants/{grant_id}", headers=holder.headers).json()["state"] == "active"
    assert client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json() == asset
    assert NUL not in every_stored_text(engine)
    # A NUL in the sign-in form is a wrong password, not a database error.
    signed_in = client.post(
        "/v1/auth/token", data={"username": holder.email, "password": PASSWORD + NUL}
    )
    assert signed_in.status_code == 401


def test_a_new_access_token_key_signs_everyone_out_and_keeps_the_old_public_half(
    settings, holder, client
):
    """Rotating the access-token key (CLEARHOUSE_ACCESS_TOKEN_KEY_PEM) is what an operator
    does when the old key may have leaked: tokens it signed stop opening the API at once."""
    from fastapi.testclient import TestClient
    from jose import jws
    from sqlmodel import Session, select

    from clearhouse.app import create_app
    from clearhouse.key_history import PublishedKey
    from clearhouse.keys import generate_private_pem

    old_kid = jws.get_unverified_header(holder.headers["Authorization"].split()[1])["kid"]
    rotated = settings.model_copy(update={"access_token_key_pem": generate_private_pem()})
    with TestClient(create_app(rotated)) as after:
        refused = after.get("/v1/accounts/me", headers=holder.headers)
        assert refused.status_code == 401
        assert "unknown signing key" in refused.json()["detail"]

        token = after.post("/v1/auth/token", data={"username": holder.email, "password": PASSWORD})
        fresh = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert after.get("/v1/accounts/me", headers=fresh).json()["id"] == str(holder.id)
        new_kid = jws.get_unverified_header(token.json()["access_token"])["kid"]
        assert new_kid != old_kid
        assert new_kid in {key["kid"] for key in after.get("/.well-known/jwks.json").json()["keys"]}
        with Session(after.app.state.engine) as session:
            kept = session.exec(
                select(PublishedKey.kid).where(PublishedKey.purpose == "access-token")
            ).all()
        assert {old_kid, new_kid} <= set(kept)
    # The process still holding the old key does not accept the new key's tokens either.
    assert client.get("/v1/accounts/me", headers=fresh).status_code == 401
