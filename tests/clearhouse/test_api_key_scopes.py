"""API keys act only within their scopes, never manage keys, and never carry staff powers."""

import uuid

import pytest
from factories import User, create_asset, promote, sign_up
from sqlalchemy import text

from clearhouse.accounts.scopes import Scope

EVERY_SCOPE = [scope.value for scope in Scope]


def make_key(client, user: User, scopes: list[str], *, name: str = "service") -> dict:
    response = client.post(
        "/v1/api-keys", headers=user.headers, json={"name": name, "scopes": scopes}
    )
    assert response.status_code == 201, response.text
    return response.json()


def key_headers(key: dict) -> dict[str, str]:
    return {"X-API-Key": key["secret"]}


def assert_forbidden(response, says: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]


def test_a_key_keeps_the_scopes_it_was_made_with(client, holder):
    key = make_key(client, holder, ["assets:read", "assets:read", "account:read"])
    assert key["scopes"] == ["account:read", "assets:read"]
    listed = client.get("/v1/api-keys", headers=holder.headers).json()
    assert listed[0]["scopes"] == ["account:read", "assets:read"]


@pytest.mark.parametrize(
    "scopes", [[], ["keys"], ["admin"], ["assets:*"]], ids=["none", "keys", "admin", "wildcard"]
)
def test_a_key_needs_known_scopes_and_at_least_one(client, holder, scopes):
    response = client.post(
        "/v1/api-keys", headers=holder.headers, json={"name": "service", "scopes": scopes}
    )
    assert response.status_code == 422, response.text
    assert client.get("/v1/api-keys", headers=holder.headers).json() == []


def test_a_key_without_the_scope_is_refused_naming_it(client, holder):
    asset = create_asset(client, holder)
    reader = key_headers(make_key(client, holder, ["assets:read"]))
    assert client.get(f"/v1/assets/{asset['id']}", headers=reader).status_code == 200
    assert_forbidden(
        client.patch(f"/v1/assets/{asset['id']}", headers=reader, json={"name": "Renamed"}),
        "lacks the scope 'assets:write'",
    )
    assert_forbidden(client.get("/v1/accounts/me", headers=reader), "'account:read'")
    after = client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()
    assert after["name"] == asset["name"]

    writer = key_headers(make_key(client, holder, ["assets:write"]))
    renamed = client.patch(f"/v1/assets/{asset['id']}", headers=writer, json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    assert_forbidden(client.get(f"/v1/assets/{asset['id']}", headers=writer), "'assets:read'")


def test_a_clearance_key_opens_no_route_outside_clearances_and_generations(client, holder):
    """`clearance` opens the clearance and generation routes; it reads and changes nothing
    else."""
    asset = create_asset(client, holder)
    clearance = key_headers(make_key(client, holder, ["clearance"]))
    assert_forbidden(client.get("/v1/assets", headers=clearance), "'assets:read'")
    assert_forbidden(client.delete(f"/v1/assets/{asset['id']}", headers=clearance), "assets:write")


def test_no_key_manages_keys_whatever_its_scopes(client, holder):
    mine = make_key(client, holder, EVERY_SCOPE)
    other = make_key(client, holder, ["assets:read"], name="other")
    every = key_headers(mine)
    assert_forbidden(
        client.post(
            "/v1/api-keys", headers=every, json={"name": "child", "scopes": ["assets:read"]}
        ),
        "sign in",
    )
    assert_forbidden(client.get("/v1/api-keys", headers=every), "sign in")
    assert_forbidden(client.post(f"/v1/api-keys/{other['id']}/revoke", headers=every), "sign in")
    listed = client.get("/v1/api-keys", headers=holder.headers).json()
    assert sorted(key["name"] for key in listed) == ["other", "service"]
    assert all(key["revoked_at"] is None for key in listed)


def test_an_admins_key_has_no_staff_powers(client, session):
    admin = promote(session, sign_up(client), "admin")
    victim = sign_up(client)
    key = key_headers(make_key(client, admin, EVERY_SCOPE))
    assert_forbidden(
        client.patch(f"/v1/admin/accounts/{victim.id}", headers=key, json={"role": "admin"}),
        "sign in",
    )
    assert_forbidden(client.get("/v1/audit/verify", headers=key), "sign in")
    # It still acts for the admin as the holder an admin also is, without the staff role.
    assert client.get("/v1/accounts/me", headers=key).json()["role"] == "holder"
    assert (
        client.post(
            "/v1/assets",
            headers=key,
            json={"kind": "style", "handle": "adminstyle", "name": "Mine"},
        ).status_code
        == 201
    )
    assert client.get("/v1/accounts/me", headers=victim.headers).json()["role"] == "holder"
    # The admin's own role, in the database, is untouched.
    assert client.get("/v1/accounts/me", headers=admin.headers).json()["role"] == "admin"


def test_a_moderators_key_cannot_resolve_conflicts(client, session):
    moderator = promote(session, sign_up(client), "moderator")
    key = key_headers(make_key(client, moderator, EVERY_SCOPE))
    assert_forbidden(
        client.post(
            f"/v1/likeness/conflicts/{uuid.uuid4()}/resolve",
            headers=key,
            json={"decision": "accept"},
        ),
        "sign in",
    )
    assert client.get("/v1/accounts/me", headers=key).json()["role"] == "creator"


def test_every_route_a_key_may_call_declares_its_scope_in_openapi(client):
    schema = client.get("/openapi.json").json()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            security = operation.get("security")
            if security is None:
                continue
            assert {"HTTPBearer": []} in security, (method, path)
            key_scopes = [entry["APIKeyHeader"] for entry in security if "APIKeyHeader" in entry]
            if path.startswith("/v1/api-keys") or path.startswith("/v1/admin"):
                assert key_scopes == [], (method, path)
            for scopes in key_scopes:
                assert len(scopes) == 1 and scopes[0] in EVERY_SCOPE, (method, path)
    assets = schema["paths"]["/v1/assets"]
    assert {"APIKeyHeader": ["assets:write"]} in assets["post"]["security"]
    assert {"APIKeyHeader": ["assets:read"]} in assets["get"]["security"]


def test_keys_made_before_scopes_keep_what_they_could_do_but_keys_and_staff_work(database_url):
    """Migration 0008: a key from before scopes gets every scope but `clearance`."""
    from alembic import command

    from clearhouse.db import build_engine
    from clearhouse.migrations import alembic_config, upgrade_database

    config = alembic_config(database_url)
    command.downgrade(config, "0006")
    engine = build_engine(database_url)
    account_id, key_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO account (id, email, password_hash, display_name, date_of_birth, "
                "role, revenue_share_bps, created_at) VALUES (:id, 'old@example.org', 'x', "
                "'Old', '1990-01-01', 'holder', 8000, CURRENT_TIMESTAMP)"
            ),
            {"id": account_id.hex if engine.dialect.name == "sqlite" else account_id},
        )
        connection.execute(
            text(
                "INSERT INTO api_key (id, account_id, name, prefix, secret_sha256, created_at) "
                "VALUES (:id, :account_id, 'old', 'chk_old', :hash, CURRENT_TIMESTAMP)"
            ),
            {
                "id": key_id.hex if engine.dialect.name == "sqlite" else key_id,
                "account_id": account_id.hex if engine.dialect.name == "sqlite" else account_id,
                "hash": "0" * 64,
            },
        )
    upgrade_database(database_url)
    from sqlmodel import Session

    from clearhouse.accounts.models import ApiKey

    with Session(engine) as session:
        key = session.get(ApiKey, key_id)
        assert sorted(key.scopes) == [
            "account:read",
            "assets:read",
            "assets:write",
            "likeness:scan",
        ]
    engine.dispose()
