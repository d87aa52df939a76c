"""Nobody reads, adds to or removes another holder's reference pictures: every route answers
404, as if the asset or the picture did not exist, and nothing changes."""

import pytest
from drawn_characters import draw_character, png_bytes
from factories import create_asset


def _upload(client, user, asset_id: str, data: bytes):
    return client.post(
        f"/v1/assets/{asset_id}/references",
        headers=user.headers,
        files=[("files", ("picture.png", data, "image/png"))],
    )


@pytest.fixture
def victim(client, holder) -> dict:
    asset = create_asset(client, holder, kind="character")
    (reference,) = _upload(client, holder, asset["id"], png_bytes(draw_character(40))).json()
    return {"asset_id": asset["id"], "reference_id": reference["id"]}


def _references(client, user, asset_id: str) -> list[str]:
    response = client.get(f"/v1/assets/{asset_id}/references", headers=user.headers)
    assert response.status_code == 200
    return [reference["id"] for reference in response.json()]


def test_another_holder_cannot_list_the_pictures(client, other_holder, victim):
    response = client.get(
        f"/v1/assets/{victim['asset_id']}/references", headers=other_holder.headers
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert victim["reference_id"] not in response.text


def test_another_holder_cannot_add_pictures(client, holder, other_holder, victim):
    response = _upload(client, other_holder, victim["asset_id"], png_bytes(draw_character(41)))
    assert response.status_code == 404
    assert _references(client, holder, victim["asset_id"]) == [victim["reference_id"]]


def test_another_holder_cannot_delete_a_picture(client, holder, other_holder, victim):
    url = f"/v1/assets/{victim['asset_id']}/references/{victim['reference_id']}"
    assert client.delete(url, headers=other_holder.headers).status_code == 404
    assert _references(client, holder, victim["asset_id"]) == [victim["reference_id"]]


def test_a_picture_cannot_be_deleted_through_the_callers_own_asset(
    client, holder, other_holder, victim
):
    own = create_asset(client, other_holder, kind="character")
    url = f"/v1/assets/{own['id']}/references/{victim['reference_id']}"
    response = client.delete(url, headers=other_holder.headers)
    assert response.status_code == 404
    assert _references(client, holder, victim["asset_id"]) == [victim["reference_id"]]


def test_the_owners_api_key_needs_the_scope_of_each_route(client, holder, victim):
    key = client.post(
        "/v1/api-keys", headers=holder.headers, json={"name": "reader", "scopes": ["assets:read"]}
    ).json()
    reader = {"X-API-Key": key["secret"]}
    listed = client.get(f"/v1/assets/{victim['asset_id']}/references", headers=reader)
    assert listed.status_code == 200
    url = f"/v1/assets/{victim['asset_id']}/references/{victim['reference_id']}"
    refused = client.delete(url, headers=reader)
    assert refused.status_code == 403
    assert "assets:write" in refused.json()["detail"]
    assert _references(client, holder, victim["asset_id"]) == [victim["reference_id"]]
