"""Invitations: naming an agent or adding a member answers the same for every address, and
sets nothing up until the account at that address, verified, accepts; declined, withdrawn,
expired or ended by a takeover, it sets nothing up at all."""

import uuid
from datetime import datetime, timedelta

import pytest
from clearing import notice_kinds
from factories import refused_as_unverified, sign_up
from inviting import accepted, invited
from organising import invite, organisation
from sqlalchemy import update
from squatting import take_address

from clearhouse.db import utcnow, write_session
from rights.models import Invitation

SQUATTED = "invitee@example.org"
AGENTS = "/v1/accounts/me/agents"


def _members(client, owner, studio) -> list[str]:
    listed = client.get(f"/v1/organisations/{studio}/members", headers=owner.headers)
    return [member["email"] for member in listed.json()]


def _sent(client, inviter) -> list[str]:
    return [i["id"] for i in client.get("/v1/invitations/sent", headers=inviter.headers).json()]


def _received(client, invitee) -> list[str]:
    return [i["id"] for i in client.get("/v1/invitations", headers=invitee.headers).json()]


def _answer(client, user, invitation, verb: str):
    return client.post(f"/v1/invitations/{invitation['id']}/{verb}", headers=user.headers)


@pytest.mark.parametrize("kind", ["agent", "member"])
def test_the_answer_is_the_same_whether_or_not_an_account_signs_in_with_the_address(
    client, holder, kind
):
    """A stranger probing addresses learns nothing: an address with a verified account, one
    with an unverified sign-up and one nobody signed up with are answered alike, and none of
    them is told who the account is."""
    studio = organisation(client, holder)
    known, unverified = sign_up(client), sign_up(client, verified=False)
    unknown = f"{uuid.uuid4().hex[:12]}@example.org"
    answers = []
    for email in (known.email, unverified.email, unknown):
        path, body = (
            (AGENTS, {"email": email})
            if kind == "agent"
            else (f"/v1/organisations/{studio}/members", {"email": email, "role": "manager"})
        )
        answers.append(client.post(path, headers=holder.headers, json=body))
    assert [answer.status_code for answer in answers] == [202, 202, 202]
    bodies = [answer.json() for answer in answers]
    assert len({tuple(sorted(body)) for body in bodies}) == 1
    assert [body["email"] for body in bodies] == [known.email, unverified.email, unknown]
    moments = {"id", "email", "created_at", "expires_at"}
    for body in bodies:
        assert body["state"] == "pending" and body["kind"] == kind
        assert {k: v for k, v in body.items() if k not in moments} == {
            k: v for k, v in bodies[0].items() if k not in moments
        }
        assert str(known.id) not in str(body) and str(unverified.id) not in str(body)
    # Nothing is set up until they accept.
    assert client.get(AGENTS, headers=holder.headers).json() == []
    assert _members(client, holder, studio) == [holder.email]
    assert client.get("/v1/organisations", headers=known.headers).json() == []
    # Only the verified account is told, and it alone lists the invitation.
    assert notice_kinds(client, known) == ["invitation.received"]
    assert notice_kinds(client, unverified) == []
    assert _received(client, known) == [bodies[0]["id"]]
    assert _sent(client, holder) == [body["id"] for body in bodies]


def test_the_notice_says_who_invites_to_what(client, holder):
    studio = organisation(client, holder, "Lumen Studio")
    invitee = sign_up(client)
    sent = invite(client, holder, studio, invitee.email, "viewer")
    [notice] = client.get("/v1/notices", headers=invitee.headers).json()["items"]
    assert notice["facts"]["invitation_id"] == sent["id"]
    assert notice["facts"]["organisation"] == "Lumen Studio"
    assert notice["facts"]["role"] == "viewer"
    assert notice["facts"]["invited_by"] == sent["invited_by"]


def test_only_the_invitee_accepts_and_then_it_is_set_up(client, holder, other_holder):
    studio = organisation(client, holder)
    invitee, stranger = sign_up(client), sign_up(client)
    to_join = invite(client, holder, studio, invitee.email, "manager")
    to_act = invited(client, holder, AGENTS, {"email": invitee.email})
    for invitation in (to_join, to_act):
        for outsider in (stranger, other_holder, holder):
            for verb in ("accept", "decline"):
                answer = _answer(client, outsider, invitation, verb)
                assert answer.status_code == 404, answer.text
                assert answer.json()["type"].endswith("not-found")
    assert _members(client, holder, studio) == [holder.email]

    joined = accepted(client, invitee, to_join)
    assert (joined["organisation_id"], joined["role"]) == (studio, "manager")
    assert _members(client, holder, studio) == [holder.email, invitee.email]
    accepted(client, invitee, to_act)
    assert [a["agent_id"] for a in client.get(AGENTS, headers=holder.headers).json()] == [
        str(invitee.id)
    ]
    assert _answer(client, invitee, to_join, "accept").status_code == 404
    assert _sent(client, holder) == [] and _received(client, invitee) == []


def test_an_unverified_address_neither_lists_nor_accepts(client, holder):
    studio = organisation(client, holder)
    unverified = sign_up(client, verified=False)
    invitation = invite(client, holder, studio, unverified.email, "owner")
    refused_as_unverified(client.get("/v1/invitations", headers=unverified.headers))
    refused_as_unverified(_answer(client, unverified, invitation, "accept"))
    refused_as_unverified(_answer(client, unverified, invitation, "decline"))
    assert _members(client, holder, studio) == [holder.email]


def test_a_declined_invitation_sets_nothing_up(client, holder):
    invitee = sign_up(client)
    invitation = invited(client, holder, AGENTS, {"email": invitee.email})
    declined = _answer(client, invitee, invitation, "decline")
    assert declined.status_code == 204, declined.text
    assert _answer(client, invitee, invitation, "accept").status_code == 404
    assert client.get(AGENTS, headers=holder.headers).json() == []
    assert _sent(client, holder) == [] and _received(client, invitee) == []
    # The inviter may ask again.
    again = invited(client, holder, AGENTS, {"email": invitee.email})
    assert again["id"] != invitation["id"]


def test_an_invitation_expires_after_the_setting(client, holder, settings):
    invitee = sign_up(client)
    invitation = invited(client, holder, AGENTS, {"email": invitee.email})
    waits = client.get("/v1/invitations", headers=invitee.headers).json()[0]
    assert datetime.fromisoformat(waits["expires_at"]) - datetime.fromisoformat(
        waits["created_at"]
    ) == timedelta(days=settings.invitation_days)
    with write_session(client.app.state.engine) as session:
        session.exec(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(invitation["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert _answer(client, invitee, invitation, "accept").status_code == 404
    assert _answer(client, invitee, invitation, "decline").status_code == 404
    withdrawn = client.delete(f"/v1/invitations/{invitation['id']}", headers=holder.headers)
    assert withdrawn.status_code == 404
    assert _sent(client, holder) == [] and _received(client, invitee) == []
    assert client.get(AGENTS, headers=holder.headers).json() == []
    invited(client, holder, AGENTS, {"email": invitee.email})  # asked again, not a conflict


def test_the_inviter_withdraws_and_nobody_else_does(client, holder, other_holder):
    studio = organisation(client, holder)
    invitee = sign_up(client)
    invitation = invite(client, holder, studio, invitee.email, "viewer")
    path = f"/v1/invitations/{invitation['id']}"
    for outsider in (other_holder, invitee):
        assert client.delete(path, headers=outsider.headers).status_code == 404
    assert _received(client, invitee) == [invitation["id"]]
    withdrawn = client.delete(path, headers=holder.headers)
    assert withdrawn.status_code == 204, withdrawn.text
    assert _answer(client, invitee, invitation, "accept").status_code == 404
    assert _members(client, holder, studio) == [holder.email]
    assert _sent(client, holder) == [] and _received(client, invitee) == []
    assert client.delete(path, headers=holder.headers).status_code == 404


def test_an_address_signed_up_later_finds_the_invitation_once_verified(client, holder):
    """An invitation to an address nobody has signed up with waits: whoever signs up with it
    and verifies it before it expires finds it."""
    email = f"{uuid.uuid4().hex[:12]}@example.org"
    invitation = invited(client, holder, AGENTS, {"email": email})
    newcomer = sign_up(client, email=email)
    assert _received(client, newcomer) == [invitation["id"]]
    accepted(client, newcomer, invitation)
    assert [a["email"] for a in client.get(AGENTS, headers=holder.headers).json()] == [email]


def test_an_invitation_from_someone_who_may_no_longer_add_members_is_refused(
    client, holder, other_holder
):
    studio = organisation(client, holder)
    invite(client, holder, studio, other_holder.email, "owner")
    [to_other] = client.get("/v1/invitations", headers=other_holder.headers).json()
    accepted(client, other_holder, to_other)
    invitee = sign_up(client)
    invitation = invite(client, other_holder, studio, invitee.email, "owner")
    demoted = client.patch(
        f"/v1/organisations/{studio}/members/{other_holder.id}",
        headers=holder.headers,
        json={"role": "viewer"},
    )
    assert demoted.status_code == 200, demoted.text
    refused = _answer(client, invitee, invitation, "accept")
    assert refused.status_code == 409, refused.text
    assert invitee.email not in _members(client, holder, studio)


def test_one_pending_invitation_per_address(client, holder):
    studio = organisation(client, holder)
    email = f"{uuid.uuid4().hex[:12]}@example.org"
    invite(client, holder, studio, email, "viewer")
    again = client.post(
        f"/v1/organisations/{studio}/members",
        headers=holder.headers,
        json={"email": email, "role": "owner"},
    )
    assert again.status_code == 409, again.text
    own = client.post(AGENTS, headers=holder.headers, json={"email": holder.email})
    assert own.status_code == 400, own.text


def test_a_takeover_ends_the_squatters_pending_invitations_sent_and_received(client, holder):
    """A squatter's invitations are not the address owner's: what it asked of an accomplice
    and what others asked of the address end when its owner takes it."""
    accomplice = sign_up(client)
    squatter = sign_up(client, email=SQUATTED, verified=False)
    squat_studio = organisation(client, squatter, "Squat Studio")
    asked = [
        invited(client, squatter, AGENTS, {"email": accomplice.email}),
        invite(client, squatter, squat_studio, accomplice.email, "manager"),
    ]
    studio = organisation(client, holder)
    received = [
        invite(client, holder, studio, SQUATTED, "owner"),
        invited(client, holder, AGENTS, {"email": SQUATTED}),
    ]
    assert len(_received(client, accomplice)) == 2 and len(_sent(client, holder)) == 2

    victim = take_address(client, SQUATTED)
    assert _received(client, accomplice) == []
    for invitation in asked:
        assert _answer(client, accomplice, invitation, "accept").status_code == 404
    assert client.get("/v1/invitations", headers=victim).json() == []
    assert client.get("/v1/invitations/sent", headers=victim).json() == []
    assert _sent(client, holder) == []
    for invitation in received:
        answer = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=victim)
        assert answer.status_code == 404, answer.text
    assert client.get("/v1/organisations", headers=accomplice.headers).json() == []
    assert client.get("/v1/organisations", headers=victim).json() == []


def test_an_account_sends_so_many_invitations_an_hour_and_no_more(settings):
    """Each invitation may tell its invitee: past the hourly limit an account's invitations,
    to be its agent or to join its organisation, are refused (429, Retry-After) and none is
    sent."""
    from fastapi.testclient import TestClient

    from clearhouse.app import create_app

    with TestClient(
        create_app(settings.model_copy(update={"invitation_limit_per_hour": 2}))
    ) as client:
        inviter = sign_up(client)
        studio = organisation(client, inviter, "Busy Studio")
        answers = [
            client.post(AGENTS, headers=inviter.headers, json={"email": "one@example.org"}),
            client.post(
                f"/v1/organisations/{studio}/members",
                headers=inviter.headers,
                json={"email": "two@example.org", "role": "viewer"},
            ),
            client.post(AGENTS, headers=inviter.headers, json={"email": "three@example.org"}),
        ]
        assert [answer.status_code for answer in answers] == [202, 202, 429]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/rate-limited")
        assert "may send within an hour (2)" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 3500
        assert len(_sent(client, inviter)) == 2
        # Another account's invitations are counted apart.
        other = sign_up(client)
        sent = client.post(AGENTS, headers=other.headers, json={"email": "three@example.org"})
        assert sent.status_code == 202, sent.text
