"""An owner's no stands: the requester's further requests for the asset are refused without
asking the owner again, until the owner consents to a new policy version or approves the
declined request after all."""

from clearing import APPROVAL_POLICY, approval_rows, decision, licensed, notice_kinds
from factories import PASSWORD, create_asset, grant, set_policy, sign_up

from clearhouse.db import utcnow

ASKED = "Captain Test sails at dawn"


def _declined(client, holder, requester) -> dict:
    """The requester asked for the holder's approval-required asset, and the holder said no."""
    asset = create_asset(client, holder, handle="captain_test")
    licensed(client, holder, asset["id"], APPROVAL_POLICY)
    assert decision(client, requester, ASKED)["outcome"] == "needs_approval"
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    declined = client.post(f"/v1/approvals/{pending['id']}/decline", headers=holder.headers)
    assert declined.status_code == 200, declined.text
    return {**declined.json(), "asset": asset}


def test_after_a_decline_the_requester_is_refused_and_the_owner_not_asked_again(
    client, holder, requester
):
    declined = _declined(client, holder, requester)
    assert notice_kinds(client, holder) == ["approval.pending"]

    for prompt in (ASKED, "Captain Test sails at dusk"):  # the same request, and another
        again = decision(client, requester, prompt)
        assert again["outcome"] == "denied", again
        assert again["token"] is None
        today = utcnow().date().isoformat()
        [reason] = again["reasons"]
        assert f"The owner of @captain_test declined your request on {today}" in reason
        assert "unless they change its policy" in reason
        [judged] = again["assets"]
        assert judged["outcome"] == "deny"

    assert approval_rows(client) == 1
    pending = client.get("/v1/approvals", headers=holder.headers).json()
    assert pending["total"] == 0
    assert notice_kinds(client, holder) == ["approval.pending"]
    # The requester learns nothing of the owner: no name, no address.
    assert holder.email not in str(again)
    # The owner still sees each attempt in the asset's usage, with why it was refused.
    uses = client.get(f"/v1/assets/{declined['asset']['id']}/usage", headers=holder.headers)
    refused = [use for use in uses.json()["items"] if use["state"] == "blocked"]
    assert [r["code"] for use in refused for r in use["reasons"]] == ["owner_declined"] * 2


def test_a_new_policy_version_lets_the_requester_ask_again(client, holder, requester):
    declined = _declined(client, holder, requester)
    asset_id = declined["asset"]["id"]
    assert decision(client, requester, ASKED, use="commercial")["outcome"] == "denied"
    # Stored, not yet consented to: the requests are still judged under the declined version.
    set_policy(client, holder, asset_id, {**APPROVAL_POLICY, "allowed_uses": ["commercial"]})
    assert decision(client, requester, ASKED, use="commercial")["outcome"] == "denied"
    grant(client, holder, asset_id)

    assert decision(client, requester, ASKED, use="commercial")["outcome"] == "needs_approval"
    assert approval_rows(client) == 2
    assert client.get("/v1/approvals", headers=holder.headers).json()["total"] == 1
    assert notice_kinds(client, holder) == ["approval.pending"] * 2


def test_the_owner_may_approve_the_request_they_declined(client, holder, requester):
    declined = _declined(client, holder, requester)
    approved = client.post(f"/v1/approvals/{declined['id']}/approve", headers=holder.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    cleared = decision(client, requester, ASKED)
    assert cleared["outcome"] == "cleared", cleared
    assert cleared["token"]
    # The decline no longer stands: another request waits for the owner again.
    assert decision(client, requester, "Captain Test sails at dusk")["outcome"] == (
        "needs_approval"
    )
    # An approval is not taken back.
    again = client.post(f"/v1/approvals/{declined['id']}/decline", headers=holder.headers)
    assert again.status_code == 409, again.text


def test_a_decline_is_the_requesters_alone(client, holder, requester):
    _declined(client, holder, requester)
    assert decision(client, requester, ASKED)["outcome"] == "denied"
    someone_else = sign_up(client, role="creator")
    assert decision(client, someone_else, ASKED)["outcome"] == "needs_approval"
    assert client.get("/v1/approvals", headers=holder.headers).json()["total"] == 1


def test_a_deleted_requesters_decline_can_no_longer_be_turned_into_a_yes(client, holder, requester):
    declined = _declined(client, holder, requester)
    deleted = client.post(
        "/v1/accounts/me/deletion", headers=requester.headers, json={"password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text
    approved = client.post(f"/v1/approvals/{declined['id']}/approve", headers=holder.headers)
    assert approved.status_code == 409, approved.text
    assert "no longer stands" in approved.json()["detail"]
