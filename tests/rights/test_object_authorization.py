"""Every route that takes an id answers 404 to another holder, for reads and changes alike."""

import pytest
from factories import granted_asset


@pytest.fixture
def victim_objects(client, holder):
    asset, created = granted_asset(client, holder)
    return {
        "asset_id": asset["id"],
        "grant_id": created["grant"]["id"],
        "receipt_id": created["receipt"]["id"],
    }


ROUTES = [
    ("GET", "/v1/assets/{asset_id}", None),
    ("PATCH", "/v1/assets/{asset_id}", {"name": "Stolen"}),
    ("DELETE", "/v1/assets/{asset_id}", None),
    ("GET", "/v1/assets/{asset_id}/grants", None),
    ("POST", "/v1/assets/{asset_id}/grants", {}),
    ("POST", "/v1/assets/{asset_id}/revoke", {}),
    ("GET", "/v1/assets/{asset_id}/audit", None),
    ("GET", "/v1/assets/{asset_id}/policy", None),
    ("GET", "/v1/assets/{asset_id}/policies", None),
    ("GET", "/v1/assets/{asset_id}/policies/1", None),
    ("POST", "/v1/assets/{asset_id}/policies", {"audience": "nobody"}),
    ("GET", "/v1/grants/{grant_id}", None),
    ("POST", "/v1/grants/{grant_id}/revoke", {}),
    ("GET", "/v1/receipts/{receipt_id}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_another_holder_gets_not_found_and_changes_nothing(
    client, holder, other_holder, victim_objects, method, path, body
):
    url = path.format(**victim_objects)
    response = client.request(method, url, headers=other_holder.headers, json=body)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"

    # The owner's objects are untouched.
    asset = client.get(f"/v1/assets/{victim_objects['asset_id']}", headers=holder.headers)
    assert asset.status_code == 200
    assert asset.json()["name"] == "Captain Test"
    grant = client.get(f"/v1/grants/{victim_objects['grant_id']}", headers=holder.headers)
    assert grant.json()["state"] == "active"
    versions = client.get(
        f"/v1/assets/{victim_objects['asset_id']}/policies", headers=holder.headers
    )
    assert versions.json()["total"] == 1


def test_lists_show_only_the_callers_assets(client, holder, other_holder, victim_objects):
    mine = client.get("/v1/assets", headers=other_holder.headers).json()
    assert mine["total"] == 0
    theirs = client.get("/v1/assets", headers=holder.headers).json()
    assert [a["id"] for a in theirs["items"]] == [victim_objects["asset_id"]]


def test_another_accounts_api_key_cannot_be_revoked(client, holder, other_holder):
    key = client.post(
        "/v1/api-keys",
        headers=holder.headers,
        json={"name": "generator", "scopes": ["assets:read"]},
    ).json()
    response = client.post(f"/v1/api-keys/{key['id']}/revoke", headers=other_holder.headers)
    assert response.status_code == 404
    listed = client.get("/v1/api-keys", headers=holder.headers).json()
    assert listed[0]["revoked_at"] is None
