"""Sign-up, sign-in, API keys, roles, and what a body may not set."""

from datetime import date

import pytest
from factories import PASSWORD, create_asset, promote, sign_up


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


def test_an_email_signs_up_once(client, holder):
    response = client.post(
        "/v1/accounts",
        json={
            "email": holder.email.upper(),
            "password": PASSWORD,
            "display_name": "Again",
            "date_of_birth": "1990-01-01",
        },
    )
    assert response.status_code == 409


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
    created = client.post("/v1/api-keys", headers=holder.headers, json={"name": "generator"})
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
