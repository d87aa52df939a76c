"""Organisations: members act on its assets in their roles, checked on every request; a
removed member is refused at once; another organisation's objects are not found."""

import uuid

import pytest
from claiming import verified
from factories import OPEN_POLICY, sign_up
from organising import add, character_of, organisation
from sqlmodel import Session
from stating import release

from bench.ledger_rows import LicenceTerms
from clearhouse.db import utcnow
from policies.models import PolicyVersion
from rights.models import ConsentGrant


@pytest.fixture
def studio(client, holder):
    """An organisation owned by ``holder`` with a manager and a viewer, and a character."""
    organisation_id = organisation(client, holder)
    manager, viewer = sign_up(client), sign_up(client)
    add(client, holder, organisation_id, manager, "manager")
    add(client, holder, organisation_id, viewer, "viewer")
    asset = character_of(client, manager, organisation_id)
    return organisation_id, manager, viewer, asset


def test_the_organisation_holds_what_a_member_registers(client, holder, studio):
    organisation_id, manager, viewer, asset = studio
    assert asset["owner_id"] == organisation_id
    for member in (holder, manager, viewer):
        listed = client.get("/v1/assets", headers=member.headers).json()["items"]
        assert [a["id"] for a in listed] == [asset["id"]]
    history = client.get(f"/v1/assets/{asset['id']}/audit", headers=viewer.headers).json()
    created = next(e for e in history["items"] if e["action"] == "asset.created")
    assert created["body"]["actor_id"] == str(manager.id)


def test_a_viewer_may_register_nothing(client, studio):
    organisation_id, _, viewer, _ = studio
    refused = client.post(
        "/v1/assets",
        headers=viewer.headers,
        json={
            "kind": "character",
            "handle": "viewers_own",
            "name": "X",
            "organisation_id": organisation_id,
        },
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("role-does-not-allow")


def test_roles_decide_what_each_member_may_do(client, holder, studio):
    organisation_id, manager, viewer, asset = studio
    policies = f"/v1/assets/{asset['id']}/policies"
    # A viewer sees the asset, its policies and usage, and changes nothing.
    assert client.get(f"/v1/assets/{asset['id']}", headers=viewer.headers).status_code == 200
    assert client.get(f"/v1/assets/{asset['id']}/usage", headers=viewer.headers).status_code == 200
    assert client.post(policies, headers=viewer.headers, json=OPEN_POLICY).status_code == 404
    assert (
        client.patch(
            f"/v1/assets/{asset['id']}", headers=viewer.headers, json={"name": "Renamed"}
        ).status_code
        == 404
    )
    # A manager sets the policy and consents in the organisation's name.
    assert client.post(policies, headers=manager.headers, json=OPEN_POLICY).status_code == 201
    granted = client.post(f"/v1/assets/{asset['id']}/grants", headers=manager.headers, json={})
    assert granted.status_code == 201, granted.text
    receipt = client.get(f"/v1/receipts/{granted.json()['receipt']['id']}", headers=viewer.headers)
    assert receipt.status_code == 200
    # ... but neither deletes the asset nor manages members: that is for owners.
    assert client.delete(f"/v1/assets/{asset['id']}", headers=manager.headers).status_code == 404
    outsider = sign_up(client)
    refused = client.post(
        f"/v1/organisations/{organisation_id}/members",
        headers=manager.headers,
        json={"email": outsider.email, "role": "owner"},
    )
    assert refused.status_code == 403, refused.text
    members = client.get(f"/v1/organisations/{organisation_id}/members", headers=viewer.headers)
    assert {m["role"] for m in members.json()} == {"owner", "manager", "viewer"}


def test_a_removed_member_is_refused_on_the_next_request(client, holder, studio):
    organisation_id, manager, _, asset = studio
    policies = f"/v1/assets/{asset['id']}/policies"
    assert client.post(policies, headers=manager.headers, json=OPEN_POLICY).status_code == 201
    removed = client.delete(
        f"/v1/organisations/{organisation_id}/members/{manager.id}", headers=holder.headers
    )
    assert removed.status_code == 204, removed.text
    assert client.post(policies, headers=manager.headers, json=OPEN_POLICY).status_code == 404
    assert client.get(f"/v1/assets/{asset['id']}", headers=manager.headers).status_code == 404
    assert client.get("/v1/assets", headers=manager.headers).json()["total"] == 0
    assert (
        client.get(
            f"/v1/organisations/{organisation_id}/members", headers=manager.headers
        ).status_code
        == 404
    )
    history = client.get(f"/v1/assets/{asset['id']}/audit", headers=holder.headers).json()
    assert history["total"] >= 2  # created and the policy; membership is in the account log


def test_a_demoted_manager_is_a_viewer_at_once(client, holder, studio):
    organisation_id, manager, _, asset = studio
    changed = client.patch(
        f"/v1/organisations/{organisation_id}/members/{manager.id}",
        headers=holder.headers,
        json={"role": "viewer"},
    )
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    policies = f"/v1/assets/{asset['id']}/policies"
    assert client.post(policies, headers=manager.headers, json=OPEN_POLICY).status_code == 404
    assert client.get(f"/v1/assets/{asset['id']}", headers=manager.headers).status_code == 200


def test_the_last_owner_stays(client, holder, studio):
    organisation_id, *_ = studio
    for attempt in (
        client.delete(
            f"/v1/organisations/{organisation_id}/members/{holder.id}", headers=holder.headers
        ),
        client.patch(
            f"/v1/organisations/{organisation_id}/members/{holder.id}",
            headers=holder.headers,
            json={"role": "manager"},
        ),
    ):
        assert attempt.status_code == 409, attempt.text


def test_another_organisations_objects_are_not_found(client, holder, other_holder, studio):
    organisation_id, _, _, asset = studio
    rival = organisation(client, other_holder, "Rival Pictures")
    rival_asset = character_of(client, other_holder, rival)
    routes = [
        ("GET", f"/v1/assets/{asset['id']}", None),
        ("POST", f"/v1/assets/{asset['id']}/policies", OPEN_POLICY),
        ("GET", f"/v1/organisations/{organisation_id}/members", None),
        (
            "POST",
            f"/v1/organisations/{organisation_id}/members",
            {"email": other_holder.email, "role": "owner"},
        ),
        ("PATCH", f"/v1/organisations/{organisation_id}/members/{holder.id}", {"role": "viewer"}),
        ("DELETE", f"/v1/organisations/{organisation_id}/members/{holder.id}", None),
        ("GET", f"/v1/statements?period={utcnow():%Y-%m}&organisation_id={organisation_id}", None),
    ]
    for method, url, body in routes:
        answer = client.request(method, url, headers=other_holder.headers, json=body)
        assert answer.status_code == 404, (method, url, answer.text)
    # Registering for an organisation one is not a member of is refused the same way.
    refused = client.post(
        "/v1/assets",
        headers=holder.headers,
        json={"kind": "character", "handle": "into_rival", "name": "X", "organisation_id": rival},
    )
    assert refused.status_code == 404, refused.text
    assert client.get(f"/v1/assets/{rival_asset['id']}", headers=holder.headers).status_code == 404


def test_an_organisation_is_paid_for_its_assets(client, engine, session, holder, studio):
    organisation_id, manager, viewer, asset = studio
    verified(client, session, holder, asset["id"])  # an unverified asset's shares are held
    client.post(f"/v1/assets/{asset['id']}/policies", headers=manager.headers, json=OPEN_POLICY)
    granted = client.post(f"/v1/assets/{asset['id']}/grants", headers=manager.headers, json={})
    with Session(engine) as session:
        grant = session.get(ConsentGrant, uuid.UUID(granted.json()["grant"]["id"]))
        share = session.get(PolicyVersion, grant.policy_version_id).revenue_share_bps
    terms = LicenceTerms(
        uuid.UUID(asset["id"]),
        grant.id,
        grant.policy_version_id,
        uuid.UUID(organisation_id),
        400,
        share,
    )
    creator = sign_up(client, role="creator")
    release(engine, creator.id, terms, at=utcnow(), currency="EUR")
    period = f"{utcnow():%Y-%m}"
    theirs = client.get(
        "/v1/statements",
        headers=viewer.headers,
        params={"period": period, "organisation_id": organisation_id},
    )
    assert theirs.status_code == 200, theirs.text
    (statement,) = theirs.json()["statements"]
    assert statement["totals"]["uses"] == 1
    assert statement["totals"]["earned_minor"] == 400 * share // 10_000
    # The member who consented earned nothing themselves: the organisation is paid.
    mine = client.get("/v1/statements", headers=manager.headers, params={"period": period})
    assert mine.json()["statements"] == []
    as_studio = {"organisation_id": organisation_id}
    csv = client.get(f"/v1/statements/{period}.csv", headers=viewer.headers, params=as_studio)
    assert csv.status_code == 200, csv.text
    assert asset["handle"] in csv.text
    pdf = client.get(f"/v1/statements/{period}.pdf", headers=viewer.headers, params=as_studio)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    stranger = sign_up(client)
    for suffix in ("", ".csv", ".pdf"):
        path = f"/v1/statements{'' if not suffix else '/' + period}{suffix}"
        query = {"period": period, **as_studio} if not suffix else as_studio
        hidden = client.get(path, headers=stranger.headers, params=query)
        assert hidden.status_code == 404, (path, hidden.text)


def test_an_organisation_never_signs_in(client, studio):
    organisation_id, *_ = studio
    listed = client.get("/v1/organisations", headers=studio[1].headers).json()
    assert [o["id"] for o in listed] == [organisation_id]
    from sqlmodel import select

    from clearhouse.accounts.models import Account

    engine = client.app.state.engine
    with Session(engine) as session:
        email = session.exec(
            select(Account.email).where(Account.id == uuid.UUID(organisation_id))
        ).one()
    for password in ("!organisation", "", "correct horse battery staple"):
        answer = client.post("/v1/auth/token", data={"username": email, "password": password})
        assert answer.status_code in (401, 422), answer.text
