"""An owner is asked one request of a requester's at a time for each asset: while one waits,
the requester's other requests for the asset are refused, naming the one that waits, without
a new approval or a notice to the owner; the waiting one sent again still waits. Once the owner
answers it, or it expires, another may be asked."""

import threading

import httpx
import pytest
from clearing import (
    APPROVAL_POLICY,
    approval_rows,
    clear,
    clearance_body,
    decision,
    licensed,
    notice_kinds,
    usage,
)
from factories import create_asset, refused_as_unverified, sign_up, verify_email
from organising import waiting_for_an_unverified_manager
from sqlalchemy import update

from clearhouse.db import utcnow, write_session
from licensing.models import UseApproval

ASKED = "Captain Test sails at dawn"
CHANGED = "Captain Test sails at dusk"  # a word changed: another request


def _waiting(client, holder, requester) -> dict:
    """The requester's request waiting for the owner of the approval-required @captain_test."""
    asset = create_asset(client, holder, handle="captain_test")
    licensed(client, holder, asset["id"], APPROVAL_POLICY)
    first = decision(client, requester, ASKED)
    assert first["outcome"] == "needs_approval", first
    return {**first, "asset": asset}


def _refused_for(answer: dict, waiting_id: str) -> None:
    """``answer`` was refused because the request ``waiting_id`` waits for the owner."""
    assert answer["outcome"] == "denied", answer
    assert answer["token"] is None
    [reason] = answer["reasons"]
    assert reason.startswith(
        f"Your request {waiting_id} still waits for the owner of @captain_test, who is asked one "
        "request of yours at a time, so this one was not sent to them"
    )
    [judged] = answer["assets"]
    assert judged["outcome"] == "deny"


def test_another_request_while_one_waits_is_refused_naming_the_one_that_waits(
    client, holder, requester
):
    waiting = _waiting(client, holder, requester)

    for changed in (CHANGED, "Captain Test sails at noon"):
        _refused_for(decision(client, requester, changed), waiting["id"])
    _refused_for(decision(client, requester, ASKED, use="commercial"), waiting["id"])

    assert approval_rows(client) == 1
    queue = client.get("/v1/approvals", headers=holder.headers).json()
    assert [item["clearance_id"] for item in queue["items"]] == [waiting["id"]]
    assert notice_kinds(client, holder) == ["approval.pending"]
    # The requester reads the refusal back; the owner sees each attempt in the asset's usage.
    refused = decision(client, requester, CHANGED)
    stored = client.get(f"/v1/clearances/{refused['id']}", headers=requester.headers).json()
    assert stored["reasons"] == refused["reasons"]
    blocked = [
        use for use in usage(client, holder, waiting["asset"]["id"]) if use["state"] == "blocked"
    ]
    codes = [reason["code"] for use in blocked for reason in use["reasons"]]
    assert codes == ["earlier_request_waiting"] * 4


def test_the_waiting_request_sent_again_unchanged_still_waits(client, holder, requester):
    waiting = _waiting(client, holder, requester)
    again = decision(client, requester, ASKED)
    assert again["outcome"] == "needs_approval", again
    assert again["reasons"] == waiting["reasons"]
    assert approval_rows(client) == 1
    assert notice_kinds(client, holder) == ["approval.pending"]


def test_once_the_owner_answers_another_request_may_be_asked(client, holder, requester):
    waiting = _waiting(client, holder, requester)
    _refused_for(decision(client, requester, CHANGED), waiting["id"])
    [pending] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    approved = client.post(f"/v1/approvals/{pending['id']}/approve", headers=holder.headers)
    assert approved.status_code == 200, approved.text

    assert decision(client, requester, CHANGED)["outcome"] == "needs_approval"
    assert decision(client, requester, ASKED)["outcome"] == "cleared"
    assert approval_rows(client) == 2
    assert notice_kinds(client, holder) == ["approval.pending"] * 2


def test_only_a_verified_address_approves_but_any_manager_declines(client, holder, requester):
    """Approving consents to a stranger's use: a studio's manager whose address is not verified
    (anyone can sign up with one that is not theirs) cannot, and the request keeps waiting;
    saying no stays open to them, as withdrawing consent always is."""
    manager, pending = waiting_for_an_unverified_manager(client, holder, requester)

    refused_as_unverified(
        client.post(f"/v1/approvals/{pending['id']}/approve", headers=manager.headers)
    )
    [still] = client.get("/v1/approvals", headers=holder.headers).json()["items"]
    assert (still["id"], still["status"]) == (pending["id"], "pending")
    again = clear(client, requester, "Studio Knight rides at dawn").json()
    assert again["outcome"] == "needs_approval", again
    declined = client.post(f"/v1/approvals/{pending['id']}/decline", headers=manager.headers)
    assert declined.status_code == 200, declined.text

    verify_email(client, manager.email)
    approved = client.post(f"/v1/approvals/{pending['id']}/approve", headers=manager.headers)
    assert approved.status_code == 200, approved.text
    cleared = clear(client, requester, "Studio Knight rides at dawn").json()
    assert cleared["outcome"] == "cleared", cleared


def test_once_the_waiting_request_expires_another_may_be_asked(client, holder, requester):
    waiting = _waiting(client, holder, requester)
    _refused_for(decision(client, requester, CHANGED), waiting["id"])
    with write_session(client.app.state.engine) as session:  # the owner's time to answer ends
        session.exec(update(UseApproval).values(expires_at=utcnow()))

    asked = decision(client, requester, CHANGED)
    assert asked["outcome"] == "needs_approval", asked
    queue = client.get("/v1/approvals?status=pending", headers=holder.headers).json()
    assert [item["clearance_id"] for item in queue["items"]] == [asked["id"]]
    assert notice_kinds(client, holder) == ["approval.pending"] * 2


def test_one_at_a_time_is_each_requesters_for_each_asset(client, holder, requester):
    _waiting(client, holder, requester)
    someone_else = sign_up(client, role="creator")
    assert decision(client, someone_else, CHANGED)["outcome"] == "needs_approval"
    nova = create_asset(client, holder, handle="nova_knight", name="Nova Knight")
    licensed(client, holder, nova["id"], APPROVAL_POLICY)
    assert decision(client, requester, "Nova Knight at dawn")["outcome"] == "needs_approval"
    assert client.get("/v1/approvals", headers=holder.headers).json()["total"] == 3


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_different_requests_sent_at_once_ask_the_owner_once(served):
    """Against a live server: a requester's different requests for one asset, released together
    by a barrier; one waits for the owner, and the others name it."""
    http = httpx.Client(base_url=served, timeout=60)
    holder, requester = sign_up(http), sign_up(http, role="creator")
    asset = create_asset(http, holder, handle="captain_test")
    licensed(http, holder, asset["id"], APPROVAL_POLICY)
    prompts = [f"Captain Test sails at dawn, take {n}" for n in range(6)]
    barrier, answers = threading.Barrier(len(prompts)), []

    def ask(prompt: str) -> None:
        with httpx.Client(base_url=served, timeout=60) as own:
            barrier.wait()
            body = clearance_body(prompt, declared_use="personal")
            answers.append(own.post("/v1/clearances", headers=requester.headers, json=body))

    threads = [threading.Thread(target=ask, args=(prompt,)) for prompt in prompts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue = http.get("/v1/approvals", headers=holder.headers).json()
    notices = http.get("/v1/notices", headers=holder.headers).json()["items"]
    http.close()

    assert [answer.status_code for answer in answers] == [201] * len(prompts)
    outcomes = sorted(answer.json()["outcome"] for answer in answers)
    assert outcomes == ["denied"] * (len(prompts) - 1) + ["needs_approval"], outcomes
    [waits] = [a.json() for a in answers if a.json()["outcome"] == "needs_approval"]
    assert [item["clearance_id"] for item in queue["items"]] == [waits["id"]]
    assert [notice["kind"] for notice in notices] == ["approval.pending"]
    for answer in answers:
        if answer.json()["id"] != waits["id"]:
            _refused_for(answer.json(), waits["id"])
