"""Taking an address from a squatter (someone who signed up with it and never verified it)
ends what the squatter set up: its agents, its webhook endpoints, its organisations, its
memberships and its pending invitations, sent or received, and a squatter's request under way
at that moment sets none of them up after."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest
from factories import OPEN_POLICY, PASSWORD, User, grant, set_policy, sign_up
from inviting import invited, name_agent
from organising import add, character_of, invite, organisation
from sqlmodel import Session
from squatting import signed_in, take_address, takeover_link

from clearhouse.accounts.models import Account
from clearhouse.db import writer
from clearhouse.errors import Unauthenticated
from rights import invitations, members
from rights.authority import Action
from rights.models import MemberRole

SQUATTED = "victim@example.org"
AGENTS = "/v1/accounts/me/agents"


def _members(client, viewer, organisation_id: str) -> list[tuple[str, str]]:
    """The organisation's members as ``viewer`` reads them: email and role."""
    listed = client.get(f"/v1/organisations/{organisation_id}/members", headers=viewer.headers)
    assert listed.status_code == 200, listed.text
    return [(member["email"], member["role"]) for member in listed.json()]


def test_what_a_squatter_set_up_ends_when_the_address_is_taken(client):
    """A squatter with my address names an accomplice its agent and points a webhook at
    themselves; once I take the address, neither reaches my likeness nor my notices."""
    accomplice = sign_up(client)
    squatter = sign_up(client, email=SQUATTED, verified=False)
    name_agent(client, squatter, accomplice)
    hook = client.post(
        "/v1/webhooks/endpoints",
        headers=squatter.headers,
        json={"url": "https://93.184.216.34/squatter"},
    )
    assert hook.status_code == 201, hook.text

    victim = take_address(client, SQUATTED)
    assert client.get("/v1/accounts/me/agents", headers=victim).json() == []
    assert client.get("/v1/webhooks/endpoints", headers=victim).json()["items"] == []
    face = client.post(
        "/v1/assets",
        headers=victim,
        json={"kind": "likeness", "handle": "@victim_face", "name": "Victim"},
    ).json()
    assert client.get(f"/v1/assets/{face['id']}", headers=accomplice.headers).status_code == 404


def test_the_squatters_organisations_and_memberships_are_not_the_new_owners(client):
    """A squatter with my address makes a studio and makes an accomplice its manager, who
    registers a character for it and consents to the character's use; a partner invites the
    squatter to be an owner of their own studio and their agent, which the squatter, its
    address unverified, cannot accept. Once I take the address I am in no organisation and
    nobody's agent, the partner's invitations to the squatter are ended, not mine to accept,
    and the squatter's studio, left with no owner, is closed: its manager is out and the
    consent given for it is withdrawn."""
    accomplice, partner = sign_up(client), sign_up(client)
    squatter = sign_up(client, email=SQUATTED, verified=False)
    squat_studio = organisation(client, squatter, "Squat Studio")
    add(client, squatter, squat_studio, accomplice, "manager")
    knight = character_of(client, accomplice, squat_studio)
    set_policy(client, accomplice, knight["id"], OPEN_POLICY)
    receipt = grant(client, accomplice, knight["id"])["receipt"]["token"]
    partner_studio = organisation(client, partner, "Partner Studio")
    to_squatter = [
        invite(client, partner, partner_studio, SQUATTED, "owner"),
        invited(client, partner, "/v1/accounts/me/agents", {"email": SQUATTED}),
    ]
    for invitation in to_squatter:
        accepting = f"/v1/invitations/{invitation['id']}/accept"
        assert client.post(accepting, headers=squatter.headers).status_code == 403

    victim = User(id=squatter.id, email=SQUATTED, headers=take_address(client, SQUATTED))

    assert client.get("/v1/organisations", headers=victim.headers).json() == []
    assert _members(client, partner, partner_studio) == [(partner.email, "owner")]
    assert client.get("/v1/accounts/me/agents", headers=partner.headers).json() == []
    assert client.get("/v1/invitations", headers=victim.headers).json() == []
    assert client.get("/v1/invitations/sent", headers=partner.headers).json() == []
    for invitation in to_squatter:
        accepting = f"/v1/invitations/{invitation['id']}/accept"
        assert client.post(accepting, headers=victim.headers).status_code == 404
    assert client.get("/v1/organisations", headers=accomplice.headers).json() == []
    assert (
        client.get(
            f"/v1/organisations/{squat_studio}/members", headers=accomplice.headers
        ).status_code
        == 404
    )
    verified = client.post("/v1/receipts/verify", json={"token": receipt}).json()
    assert verified["consent"]["state"] == "withdrawn"
    regrant = client.post(f"/v1/assets/{knight['id']}/grants", headers=accomplice.headers, json={})
    assert regrant.status_code == 404, regrant.text


def test_a_squatters_organisation_with_another_owner_stays_theirs(client):
    """The squatter made a studio and an accomplice its second owner: I leave it when I take
    the address, and it goes on with the owner it has."""
    accomplice = sign_up(client)
    squatter = sign_up(client, email=SQUATTED, verified=False)
    studio = organisation(client, squatter, "Shared Studio")
    add(client, squatter, studio, accomplice, "owner")
    victim = take_address(client, SQUATTED)
    assert client.get("/v1/organisations", headers=victim).json() == []
    assert _members(client, accomplice, studio) == [(accomplice.email, "owner")]


ROUNDS = 6
SQUATTER_WRITES = 4
GRANTS = 2


def test_requests_under_way_at_the_takeover_set_nothing_up(served):
    """Against a live server, on both databases: a squatter's requests that name an agent,
    register a webhook endpoint, make an organisation and add a member to its studio, the
    studio's manager's grants, and two accomplices' acceptances of the squatter's invitations
    (to be its agent, to join its studio) are released by a barrier together with the
    takeover's link. Each is either done before the takeover (and ended by it) or refused;
    none lands after it, for the new owner to inherit or for the closed studio to keep."""
    with httpx.Client(base_url=served, timeout=30) as http:
        accomplices = [sign_up(http) for _ in range(SQUATTER_WRITES)]
        manager = accomplices[0]
        for round_ in range(ROUNDS):
            email = f"victim{round_}@example.org"
            squatter = sign_up(http, email=email, verified=False)
            studio = organisation(http, squatter, f"Squat Studio {round_}")
            add(http, squatter, studio, manager, "manager")
            characters = [
                character_of(http, manager, studio, name=f"Knight {round_}-{n}")["id"]
                for n in range(GRANTS)
            ]
            for character in characters:
                set_policy(http, manager, character, OPEN_POLICY)
            waiting = [
                (accomplices[1], invited(http, squatter, AGENTS, {"email": accomplices[1].email})),
                (accomplices[2], invite(http, squatter, studio, accomplices[2].email, "manager")),
            ]
            link = takeover_link(http, email)
            requests = [
                (squatter, *_squatter_write(n, studio, accomplices)) for n in range(SQUATTER_WRITES)
            ]
            requests += [(manager, f"/v1/assets/{c}/grants", {}) for c in characters]
            requests += [
                (invitee, f"/v1/invitations/{invitation['id']}/accept", {})
                for invitee, invitation in waiting
            ]
            taken, answers = _with_the_takeover(served, link, requests)
            assert taken == 200
            # Refused: 401 (the account's row, locked, was taken over), 403 or 404 (the
            # squatter's place in its studio was already ended when the request read it).
            statuses = {answer.status_code for answer in answers}
            assert statuses <= {200, 201, 202, 401, 403, 404}, answers
            victim = signed_in(http, email, PASSWORD)
            assert http.get("/v1/accounts/me/agents", headers=victim).json() == [], round_
            assert http.get("/v1/webhooks/endpoints", headers=victim).json()["items"] == []
            assert http.get("/v1/invitations/sent", headers=victim).json() == [], round_
            assert http.get("/v1/organisations", headers=victim).json() == [], round_
            for accomplice in accomplices:
                theirs = http.get("/v1/organisations", headers=accomplice.headers).json()
                assert studio not in [joined["id"] for joined in theirs], round_
            for answer in answers[SQUATTER_WRITES : SQUATTER_WRITES + GRANTS]:
                if answer.status_code == 201:
                    receipt = answer.json()["receipt"]["token"]
                    verified = http.post("/v1/receipts/verify", json={"token": receipt}).json()
                    assert verified["consent"]["state"] == "withdrawn", round_


def _with_the_takeover(
    served: str, link: str, requests: list[tuple[User, str, dict]]
) -> tuple[int, list[httpx.Response]]:
    """Follow the takeover link and send each (caller, path, body) POST at the same moment,
    from threads released by a barrier: the link's status and the answers."""
    start = threading.Barrier(len(requests) + 1)

    def post(request: tuple[User, str, dict]) -> httpx.Response:
        caller, path, body = request
        with httpx.Client(base_url=served, timeout=30) as own:
            start.wait()
            return own.post(path, headers=caller.headers, json=body)

    def take() -> int:
        with httpx.Client(base_url=served, timeout=30) as own:
            start.wait()
            return own.get(link).status_code

    with ThreadPoolExecutor(max_workers=len(requests) + 1) as pool:
        taken = pool.submit(take)
        answers = list(pool.map(post, requests))
    return taken.result(), answers


def _squatter_write(n: int, studio: str, accomplices: list[User]) -> tuple[str, dict]:
    """The squatter's n-th request: an agent, a webhook endpoint, an organisation, or a
    member of its studio."""
    if n % 4 == 0:
        return "/v1/accounts/me/agents", {"email": accomplices[n].email}
    if n % 4 == 1:
        return "/v1/webhooks/endpoints", {"url": f"https://93.184.216.34/{n}"}
    if n % 4 == 2:
        return "/v1/organisations", {"name": f"Squat {n}"}
    return f"/v1/organisations/{studio}/members", {"email": accomplices[n].email, "role": "viewer"}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_member_change_begun_before_the_takeover_is_refused_after_it(client, engine, settings):
    """The squatter's requests to add and to promote a member of its studio (which has another
    owner, so it goes on) found it an owner, then the takeover committed: both are refused.
    PostgreSQL only: SQLite's writers take turns, so no write begins before the takeover and
    ends after it."""
    partner, viewer, newcomer = sign_up(client), sign_up(client), sign_up(client)
    squatter = sign_up(client, email=SQUATTED, verified=False)
    studio = organisation(client, squatter, "Squat Studio")
    add(client, squatter, studio, partner, "owner")
    add(client, squatter, studio, viewer, "viewer")
    with Session(engine, expire_on_commit=False) as reading:
        as_authenticated = reading.get(Account, squatter.id)
    changes = [
        partial(
            invitations.invite_member,
            email=newcomer.email,
            role=MemberRole.owner,
            settings=settings,
        ),
        partial(members.change_role, account_id=viewer.id, role=MemberRole.owner),
    ]
    with Session(writer(engine)) as first, Session(writer(engine)) as second:
        studios = [
            members.organisation_for(
                session,
                account=as_authenticated,
                organisation_id=uuid.UUID(studio),
                action=Action.administer,
            )
            for session in (first, second)
        ]
        take_address(client, SQUATTED)
        for session, found, change in zip((first, second), studios, changes, strict=True):
            with pytest.raises(Unauthenticated):
                change(session, actor=as_authenticated, organisation=found)
            session.rollback()  # as the request's own session would, ending its lock
    assert _members(client, partner, studio) == [(partner.email, "owner"), (viewer.email, "viewer")]
