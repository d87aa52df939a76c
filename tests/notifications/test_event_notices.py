"""The events owners (and requesters) hear about, through the API as they happen: a blocked
request, a request waiting for approval, a withdrawal's effect, a third-party generator
told by webhook that its clearance can no longer be used, before it tries to release, and a
creator told that a released generation of theirs was taken down."""

import json

import pytest
from clearing import USD_POLICY, clearance_body, licensed
from factories import create_asset, sign_up
from stating import licensed_asset, release
from webhook_receiver import events, register

from clearhouse.db import utcnow
from notifications.delivery import deliver_due


@pytest.fixture
def requester(client):
    return sign_up(client, role="creator")


def inbox(client, user) -> list[dict]:
    answer = client.get("/v1/notices", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_blocked_request_tells_the_owner_and_the_requester_nothing_new(client, holder, requester):
    asset = create_asset(client, holder, handle="captain_test")  # no consent given
    denied = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test sails")
    ).json()
    assert denied["outcome"] == "denied"
    [notice] = inbox(client, holder)
    assert notice["kind"] == "use.blocked"
    assert notice["facts"]["asset_id"] == asset["id"]
    assert notice["facts"]["found_in"] == "request" and notice["facts"]["reasons"]
    assert notice["subject_ids"] == [asset["id"], denied["id"]]
    assert inbox(client, requester) == []


def test_a_request_waiting_for_approval_tells_the_owner(client, holder, requester):
    asset = create_asset(client, holder, handle="captain_test")
    licensed(client, holder, asset["id"], {**USD_POLICY, "approval_required": True})
    waiting = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test sails")
    ).json()
    assert waiting["outcome"] == "needs_approval", waiting
    [notice] = inbox(client, holder)
    [approval] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    assert notice["kind"] == "approval.pending"
    assert notice["facts"]["approval_id"] == approval["id"]
    # The same request again does not ask twice.
    client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test sails")
    )
    assert len(inbox(client, holder)) == 1


def test_the_owners_endpoints_that_take_a_clearances_notices_are_sent_them(
    client, holder, requester, engine, settings, receiver
):
    blocked = create_asset(client, holder, handle="captain_test")  # no consent given
    waiting = create_asset(client, holder, handle="pilot_test", name="Pilot Test")
    licensed(client, holder, waiting["id"], {**USD_POLICY, "approval_required": True})
    register(client, holder, receiver, "/all")
    register(client, holder, receiver, "/approvals", kinds=["approval.pending"])
    register(client, requester, receiver, "/requester")
    # One request touching both: denied, so the owner of the one that waits for approval is
    # not asked, and hears nothing of it.
    both = clearance_body("Captain Test and Pilot Test sail")
    denied = client.post("/v1/clearances", headers=requester.headers, json=both).json()
    assert denied["outcome"] == "denied"
    assert {a["handle"]: a["outcome"] for a in denied["assets"]} == {
        "captain_test": "deny",
        "pilot_test": "needs_approval",
    }
    assert client.get("/v1/approvals", headers=holder.headers).json()["total"] == 0
    # A request touching the one that waits alone asks its owner.
    waits = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Pilot Test sails")
    ).json()
    assert waits["outcome"] == "needs_approval", waits
    [approval] = client.get("/v1/approvals", headers=holder.headers).json()["items"]

    assert deliver_due(engine, settings=settings) == 3
    sent = sorted((request.path, json.loads(request.body)["type"]) for request in receiver.received)
    assert sent == [
        ("/all", "approval.pending"),
        ("/all", "use.blocked"),
        ("/approvals", "approval.pending"),
    ]
    told = dict(events(receiver))
    assert told["use.blocked"]["subject_ids"] == [blocked["id"], denied["id"]]
    assert told["approval.pending"]["approval_id"] == approval["id"]


def test_a_withdrawal_tells_the_owner_its_effect_and_the_generator_by_webhook(
    client, holder, requester, engine, settings, receiver
):
    asset = create_asset(client, holder, handle="captain_test")
    licensed(client, holder, asset["id"])
    generator_hook = register(client, requester, receiver, "/generator")
    cleared = client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test sails")
    ).json()
    assert cleared["outcome"] == "cleared"
    [grant] = client.get(f"/v1/assets/{asset['id']}/grants", headers=holder.headers).json()["items"]

    revoked = client.post(f"/v1/grants/{grant['id']}/revoke", headers=holder.headers, json={})
    assert revoked.status_code == 200, revoked.text

    [withdrawn] = inbox(client, holder)
    assert withdrawn["kind"] == "consent.withdrawn"
    assert withdrawn["facts"]["clearances_made_unusable"] == 1
    assert withdrawn["facts"]["generations_taken_down"] == []
    [told] = inbox(client, requester)
    assert told["kind"] == "clearance.revoked" and told["facts"]["clearance_id"] == cleared["id"]
    assert deliver_due(engine, settings=settings) == 1
    [(kind, data)] = events(receiver)
    assert kind == "clearance.revoked" and data["clearance_id"] == cleared["id"]
    # Nothing about the owner: the clearance's own id, and why.
    assert str(holder.id) not in str(data) and holder.email not in str(data)
    assert generator_hook["id"] not in str(data)


def test_a_clearance_made_before_an_earlier_use_ended_is_not_told_twice(client, holder, requester):
    """A second grant's withdrawal does not tell of a clearance that relied on the first."""
    asset = create_asset(client, holder, handle="captain_test")
    licensed(client, holder, asset["id"])
    client.post(
        "/v1/clearances", headers=requester.headers, json=clearance_body("Captain Test sails")
    )
    revoked = client.post(f"/v1/assets/{asset['id']}/revoke", headers=holder.headers, json={})
    assert revoked.status_code == 200, revoked.text
    licensed(client, holder, asset["id"])
    client.post(f"/v1/assets/{asset['id']}/revoke", headers=holder.headers, json={})
    assert [n["kind"] for n in inbox(client, requester)] == ["clearance.revoked"]


def test_a_takedown_tells_the_creator_which_generation_and_that_the_charge_came_back(
    client, holder, requester, engine, settings, receiver
):
    terms = licensed_asset(client, engine, holder, per_use_minor=160)
    asset = client.get(f"/v1/assets/{terms.asset_id}", headers=holder.headers).json()
    [generation_id] = release(engine, requester.id, terms, at=utcnow())
    register(client, requester, receiver, "/creator", kinds=["generation.taken_down"])
    private_reason = "Pulled after a quarrel with my agent"

    revoked = client.post(
        f"/v1/grants/{terms.grant_id}/revoke",
        headers=holder.headers,
        json={"reason": private_reason},
    )
    assert revoked.status_code == 200, revoked.text

    [told] = inbox(client, requester)
    assert told["kind"] == "generation.taken_down"
    assert told["summary"].startswith("A released generation of yours was taken down")
    facts = told["facts"]
    assert facts["generation_id"] == str(generation_id)
    assert "consent" in facts["reason"] and "withdrawn" in facts["reason"]
    # 40 of compute and the fee of 160: all of it back in the creator's wallet.
    assert (facts["charge_minor"], facts["currency"], facts["charge_returned"]) == (
        200,
        "USD",
        True,
    )
    assert facts["refund"] == "Its charge, 200 USD minor units, was returned to your credits."
    assert deliver_due(engine, settings=settings) == 1
    [(kind, data)] = events(receiver)
    assert kind == "generation.taken_down" and data["generation_id"] == str(generation_id)
    # Nothing about the holder: who they are, which asset and grant, the reason they gave.
    for shown in (json.dumps(told), json.dumps(data)):
        for hidden in (
            str(holder.id),
            holder.email,
            str(terms.asset_id),
            asset["handle"],
            asset["name"],
            str(terms.grant_id),
            private_reason,
        ):
            assert hidden not in shown, hidden
