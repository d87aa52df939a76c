"""One face, one owner: a second account enrolling an enrolled face is held as a conflict
for moderators to resolve, and an owner cannot enrol their face twice. The real dlib model
on the photos in ../shared/data/faces (Barack Obama three times, Joe Biden once)."""

import uuid

import pytest
from enrolling import OBAMA, enrol, matched, scan
from factories import create_asset, promote, sign_up
from inviting import name_agent
from sqlmodel import select

from likeness.models import FaceTemplateRecord

pytestmark = pytest.mark.still_photos


def test_a_second_account_enrolling_the_same_face_gets_a_conflict(client, holder, session):
    first = create_asset(client, holder, kind="likeness")
    assert (
        enrol(client, holder, first["id"], [*OBAMA[:2], "obama_partial_face.jpg"]).status_code
        == 200
    )
    impostor = sign_up(client)
    second = create_asset(client, impostor, kind="likeness")
    response = enrol(client, impostor, second["id"], OBAMA)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enrolment"]["status"] == "conflict"
    assert body["conflict_id"]
    # Held, not enrolled: the scan still names only the first holder's likeness.
    moderator = promote(session, sign_up(client), "moderator")
    assert matched(scan(client, moderator, "obama2.jpg")) == {first["id"]}

    mine = client.get("/v1/likeness/conflicts", headers=impostor.headers).json()["items"]
    theirs = client.get("/v1/likeness/conflicts", headers=holder.headers).json()["items"]
    assert [(c["your_part"], c["status"]) for c in mine] == [("claimant", "open")]
    assert [(c["your_part"], c["status"]) for c in theirs] == [("existing_owner", "open")]
    assert mine[0]["similarity"] is None  # only moderators see the score
    bystander = sign_up(client)
    assert (
        client.get(
            f"/v1/likeness/conflicts/{body['conflict_id']}", headers=bystander.headers
        ).status_code
        == 404
    )
    refused = client.post(
        f"/v1/likeness/conflicts/{body['conflict_id']}/resolve",
        headers=impostor.headers,
        json={"decision": "accept"},
    )
    assert refused.status_code == 403

    queue = client.get("/v1/likeness/conflicts?status=open", headers=moderator.headers).json()
    assert queue["total"] == 1
    assert queue["items"][0]["similarity"] >= 0.9
    resolved = client.post(
        f"/v1/likeness/conflicts/{body['conflict_id']}/resolve",
        headers=moderator.headers,
        json={"decision": "reject", "note": "same person, enrolled first"},
    )
    assert resolved.json()["status"] == "rejected"
    held = session.exec(
        select(FaceTemplateRecord).where(FaceTemplateRecord.likeness_id == uuid.UUID(second["id"]))
    ).all()
    assert held == []
    session.commit()
    again = client.post(
        f"/v1/likeness/conflicts/{body['conflict_id']}/resolve",
        headers=moderator.headers,
        json={"decision": "accept"},
    )
    assert again.status_code == 409


def test_an_accepted_claim_is_enrolled_and_found(client, holder, session):
    first = create_asset(client, holder, kind="likeness")
    enrol(client, holder, first["id"], OBAMA)
    twin = sign_up(client)
    second = create_asset(client, twin, kind="likeness")
    conflict_id = enrol(client, twin, second["id"], OBAMA).json()["conflict_id"]
    moderator = promote(session, sign_up(client), "moderator")
    accepted = client.post(
        f"/v1/likeness/conflicts/{conflict_id}/resolve",
        headers=moderator.headers,
        json={"decision": "accept"},
    )
    assert accepted.json()["status"] == "accepted"
    assert matched(scan(client, moderator, "obama.jpg")) == {first["id"], second["id"]}
    assert matched(scan(client, twin, "obama.jpg")) == {second["id"]}  # only their own
    claimant_view = client.get(f"/v1/likeness/conflicts/{conflict_id}", headers=twin.headers).json()
    assert claimant_view["status"] == "accepted"


def test_the_same_owner_cannot_enrol_one_face_twice(client, holder):
    first = create_asset(client, holder, kind="likeness")
    enrol(client, holder, first["id"], OBAMA)
    second = create_asset(client, holder, kind="likeness")
    response = enrol(client, holder, second["id"], OBAMA)
    assert response.status_code == 409
    assert f"@{first['handle']}" in response.json()["detail"]


def test_nobody_resolves_a_conflict_they_are_a_party_to(client, holder, session):
    """An admin who enrolled someone else's face cannot accept their own claim; nor can the
    existing owner, made a moderator, reject it. Another moderator decides, on the record."""
    first = create_asset(client, holder, kind="likeness")
    enrol(client, holder, first["id"], OBAMA)
    admin = promote(session, sign_up(client), "admin")
    claimed = create_asset(client, admin, kind="likeness")
    conflict_id = enrol(client, admin, claimed["id"], OBAMA).json()["conflict_id"]
    agent = promote(session, sign_up(client), "moderator")
    name_agent(client, holder, agent)
    promote(session, holder, "moderator")
    url = f"/v1/likeness/conflicts/{conflict_id}/resolve"

    for party, decision in ((admin, "accept"), (holder, "reject")):
        refused = client.post(url, headers=party.headers, json={"decision": decision})
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/party-to-conflict")
        assert "another moderator" in refused.json()["detail"]
    assert client.get(url.removesuffix("/resolve"), headers=admin.headers).json()["status"] == (
        "open"
    )

    # The agent the existing owner chose for their likenesses acts for them: a party too.
    refused = client.post(url, headers=agent.headers, json={"decision": "reject"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/party-to-conflict")

    moderator = promote(session, sign_up(client), "moderator")
    decided = client.post(url, headers=moderator.headers, json={"decision": "reject"})
    assert decided.status_code == 200
    trail = client.get(f"/v1/assets/{claimed['id']}/audit", headers=admin.headers).json()
    rejected = [e for e in trail["items"] if e["action"] == "likeness.conflict_rejected"]
    assert [e["body"]["actor_id"] for e in rejected] == [str(moderator.id)]
