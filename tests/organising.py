"""Organisations for tests: one made by its first owner, members added in their roles, and
characters registered for it."""

import uuid

from clearing import APPROVAL_POLICY, clear, licensed
from factories import User, sign_up


def organisation(client, owner, name="Nova Studio") -> str:
    made = client.post("/v1/organisations", headers=owner.headers, json={"name": name})
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "owner"
    return made.json()["id"]


def add(client, owner, organisation_id, member, role) -> None:
    added = client.post(
        f"/v1/organisations/{organisation_id}/members",
        headers=owner.headers,
        json={"email": member.email, "role": role},
    )
    assert added.status_code == 201, added.text


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
    """A studio of ``owner``'s whose manager signed up with an address nobody verified, its
    character ``name`` whose policy asks for approval, and ``requester``'s request for it
    waiting: the manager, and the approval as they list it."""
    studio = organisation(client, owner)
    manager = sign_up(client, verified=False)
    add(client, owner, studio, manager, "manager")
    character = character_of(client, owner, studio, name=name)
    licensed(client, owner, character["id"], APPROVAL_POLICY)
    waiting = clear(client, requester, f"{name} rides at dawn")
    assert waiting.json()["outcome"] == "needs_approval", waiting.text
    [pending] = client.get("/v1/approvals", headers=manager.headers).json()["items"]
    return manager, pending
