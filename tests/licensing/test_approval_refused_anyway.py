"""A request that another asset (or the requester's standing) denies asks no owner for their
approval: no yes could clear it. The requester is told, for each asset that would wait for its
owner, that it would and that nobody was asked; the owner's usage shows the use blocked; and
since nothing waits, the requester's next request for that asset is asked as usual."""

from clearing import APPROVAL_POLICY, approval_rows, decision, licensed, notice_kinds, usage
from factories import create_asset

BOTH = "Iron Quill and Quiet Heron sail at dawn"
HERON_ALONE = "Quiet Heron sails at dawn"


def _heron_and_quill(client, holder, other_holder) -> tuple[dict, dict]:
    """The holder's @quiet_heron, whose owner approves each use, and another holder's
    @iron_quill, consented to by nobody."""
    heron = create_asset(client, holder, handle="quiet_heron", name="Quiet Heron")
    licensed(client, holder, heron["id"], APPROVAL_POLICY)
    quill = create_asset(client, other_holder, handle="iron_quill", name="Iron Quill")
    return heron, quill


def test_a_denied_request_asks_no_owner_and_says_so(client, holder, other_holder, requester):
    heron, quill = _heron_and_quill(client, holder, other_holder)

    denied = decision(client, requester, BOTH)

    assert denied["outcome"] == "denied", denied
    assert denied["token"] is None
    judged = {asset["handle"]: asset for asset in denied["assets"]}
    assert judged["iron_quill"]["outcome"] == "deny"
    assert judged["quiet_heron"]["outcome"] == "needs_approval"
    [said] = judged["quiet_heron"]["reasons"]
    assert said.startswith(
        "The owner of @quiet_heron approves each use, and was not asked about this request: it "
        "is refused for the other reasons given"
    )
    assert said in denied["reasons"]
    assert judged["quiet_heron"]["approval"] is None
    # Nothing waits for the holder, and they are told nothing; the other owner hears of the
    # block as ever.
    assert approval_rows(client) == 0
    assert client.get("/v1/approvals", headers=holder.headers).json()["total"] == 0
    assert notice_kinds(client, holder) == []
    assert notice_kinds(client, other_holder) == ["use.blocked"]
    # The requester reads back what they were told.
    stored = client.get(f"/v1/clearances/{denied['id']}", headers=requester.headers).json()
    assert stored["reasons"] == denied["reasons"]
    assert {a["handle"]: a["reasons"] for a in stored["assets"]}["quiet_heron"] == [said]
    # The holder's usage shows the use blocked, with why, and nothing to answer.
    [use] = usage(client, holder, heron["id"])
    assert (use["state"], use["outcome"], use["clearance_outcome"]) == (
        "blocked",
        "needs_approval",
        "denied",
    )
    assert [reason["code"] for reason in use["reasons"]] == ["approval_not_asked"]
    assert use["approval_id"] is None and use["approval"] is None
    [blocked] = usage(client, other_holder, quill["id"])
    assert blocked["state"] == "blocked"


def test_a_denied_request_leaves_nothing_waiting_that_refuses_the_next(
    client, holder, other_holder, requester
):
    """One request of a requester's waits for an owner at a time: a denied one is not it."""
    _heron_and_quill(client, holder, other_holder)
    assert decision(client, requester, BOTH)["outcome"] == "denied"

    asked = decision(client, requester, HERON_ALONE)

    assert asked["outcome"] == "needs_approval", asked
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    assert pending["clearance_id"] == asked["id"]
    assert notice_kinds(client, holder) == ["approval.pending"]
    # That one now waits: the requester's other requests for the heron, the denied one sent
    # again included, are refused naming it, as ever.
    for prompt in (BOTH, "Quiet Heron sails at dusk"):
        refused = decision(client, requester, prompt)
        assert refused["outcome"] == "denied"
        heron = {a["handle"]: a for a in refused["assets"]}["quiet_heron"]
        assert heron["outcome"] == "deny"
        assert heron["reasons"][0].startswith(f"Your request {asked['id']} still waits")
    assert approval_rows(client) == 1
    assert notice_kinds(client, holder) == ["approval.pending"]


def test_a_waiting_request_denied_when_sent_again_still_waits_for_its_owner(
    client, holder, other_holder, requester
):
    """Asked while it could clear, then denied for another asset: the owner was asked, so it
    still says it waits for them, and nobody is asked twice."""
    heron, quill = _heron_and_quill(client, holder, other_holder)
    licensed(client, other_holder, quill["id"])
    waiting = decision(client, requester, BOTH)
    assert waiting["outcome"] == "needs_approval", waiting
    [grant] = client.get(f"/v1/assets/{quill['id']}/grants", headers=other_holder.headers).json()[
        "items"
    ]
    revoked = client.post(
        f"/v1/grants/{grant['id']}/revoke", headers=other_holder.headers, json={"reason": "no"}
    )
    assert revoked.status_code == 200, revoked.text

    again = decision(client, requester, BOTH)

    assert again["outcome"] == "denied", again
    judged = {a["handle"]: a for a in again["assets"]}
    assert judged["quiet_heron"]["outcome"] == "needs_approval"
    assert judged["quiet_heron"]["reasons"] == [
        "The owner of @quiet_heron approves each use; this request waits for them."
    ]
    assert approval_rows(client) == 1
    assert notice_kinds(client, holder) == ["approval.pending"]
    states = sorted(use["state"] for use in usage(client, holder, heron["id"]))
    assert states == ["blocked", "pending"]
