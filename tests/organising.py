"""Organisations for tests: one made by its first owner, members added in their roles, and
characters registered for it."""

import uuid

from clearing import APPROVAL_POLICY, clear, licensed
from factories import User, sign_up
from inviting import accepted, invited


def organisation(client, owner, name="Nova Studio") -> str:
    made = client.post("/v1/organisations", headers=owner.headers, json={"name": name})
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "owner"
    return made.json()["id"]


def add(client, owner, organisation_id, member, role) -> None:
    """``member`` joins in ``role``: ``owner`` invites them, and they accept."""
    accepted(client, member, invite(client, owner, organisation_id, member.email, role))


def invite(client, owner, organisation_id, email: str, role: str) -> dict:
    return invited(
        client,
        owner,
        f"/v1/organisations/{organisation_id}/members",
        {"email": email, "role": role},
    )


def character_of(
    client, member, organisation_id, *, handle: str | None = None, name: str = "Studio Knight"
) -> dict:
    """A character ``member`` registers for the organisation (an owner or a manager may)."""
    made = client.post(
        "/v1/assets",
        headers=member.headers,
        json={
            "kind": "character",
            "handle": handle or f"h{uuid.uuid4().hex[:10]}",
            "name": name,
            "organisation_id": organisation_id,
        },
    )
    assert made.status_code == 201, made.text
    return made.json()


def waiting_for_an_unverified_manager(
    client, owner, requester, *, name: str = "Studio Knight"
) -> tuple[User, dict]:
    """A studio made by an account whose address nobody verified (only a verified address
    accepts an invitation, so no other member's is unverified), ``owner`` its second owner,
    its character ``name`` whose policy asks for approval, and ``requester``'s request for it
    waiting: the unverified member, and the approval as they list it."""
    manager = sign_up(client, verified=False)
    studio = organisation(client, manager)
    add(client, manager, studio, owner, "owner")
    character = character_of(client, owner, studio, name=name)
    licensed(client, owner, character["id"], APPROVAL_POLICY)
    waiting = clear(client, requester, f"{name} rides at dawn")
    assert waiting.json()["outcome"] == "needs_approval", waiting.text
    [pending] = client.get("/v1/approvals", headers=manager.headers).json()["items"]
    return manager, pending
