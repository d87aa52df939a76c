"""A moderator's API key carries no staff powers: it neither reads the conflict queue nor
scans as staff, where the moderator signed in does both. The real dlib model on the photos in
../shared/data/faces."""

import pytest
from enrolling import OBAMA, enrol, matched, scan
from factories import User, create_asset, promote, sign_up

pytestmark = pytest.mark.still_photos


def _key_as_user(client, user: User, scopes: list[str]) -> User:
    created = client.post(
        "/v1/api-keys", headers=user.headers, json={"name": "service", "scopes": scopes}
    )
    assert created.status_code == 201, created.text
    return User(id=user.id, email=user.email, headers={"X-API-Key": created.json()["secret"]})


def test_a_moderators_key_neither_reads_the_queue_nor_scans_as_staff(client, holder, session):
    first = create_asset(client, holder, kind="likeness")
    assert enrol(client, holder, first["id"], OBAMA).status_code == 200
    claimant = sign_up(client)
    second = create_asset(client, claimant, kind="likeness")
    assert enrol(client, claimant, second["id"], OBAMA).json()["enrolment"]["status"] == "conflict"

    moderator = promote(session, sign_up(client), "moderator")
    key = _key_as_user(client, moderator, ["assets:read", "likeness:scan"])

    queue = client.get("/v1/likeness/conflicts", headers=moderator.headers).json()
    assert queue["total"] == 1 and queue["items"][0]["similarity"] >= 0.9
    assert client.get("/v1/likeness/conflicts", headers=key.headers).json()["total"] == 0
    conflict_id = queue["items"][0]["id"]
    assert client.get(f"/v1/likeness/conflicts/{conflict_id}", headers=key.headers).status_code == (
        404
    )

    assert matched(scan(client, moderator, "obama2.jpg")) == {first["id"]}
    refused = client.post(
        "/v1/likeness/scan",
        headers=key.headers,
        files={"file": ("media", b"not read", "application/octet-stream")},
    )
    # Without the staff role a moderator is no holder: the key may not scan at all.
    assert refused.status_code == 403, refused.text
