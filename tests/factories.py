"""Small factories for test data: accounts, assets, policies, grants, made through the API."""

import uuid
from dataclasses import dataclass
from datetime import date
from mailbox import mail_to, verification_link

import httpx

PASSWORD = "correct horse battery staple"


@dataclass
class User:
    """A signed-up account and the headers that authenticate it."""

    id: uuid.UUID
    email: str
    headers: dict[str, str]


def sign_up(
    client: httpx.Client,
    *,
    role: str = "holder",
    born: date = date(1990, 5, 17),
    email: str | None = None,
    verified: bool = True,
) -> User:
    """A new account, signed in; its email verified through the link we sent unless told not."""
    email = email or f"{uuid.uuid4().hex[:12]}@example.org"
    response = client.post(
        "/v1/accounts",
        json={
            "email": email,
            "password": PASSWORD,
            "display_name": "Test Person",
            "date_of_birth": born.isoformat(),
            "role": role,
        },
    )
    assert response.status_code == 202, response.text
    if verified:
        verify_email(client, email)
    token = client.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = client.get("/v1/accounts/me", headers=headers)
    return User(id=uuid.UUID(me.json()["id"]), email=email, headers=headers)


def verify_email(client: httpx.Client, email: str) -> None:
    """Follow the link in the latest mail to ``email``, as its owner would."""
    link = verification_link(mail_to(client, email)[-1]["body"])
    assert link is not None, "no verification link in the latest mail"
    response = client.get(link)
    assert response.status_code == 200, response.text


def made_before_verification(engine, user: User) -> None:
    """``user``'s account as one made before addresses were verified (such accounts start
    unverified): the only way an account already party to a use or an offer is unverified."""
    from sqlalchemy import update
    from sqlmodel import Session

    from clearhouse.accounts.models import Account

    with Session(engine) as session:
        session.exec(update(Account).where(Account.id == user.id).values(email_verified_at=None))
        session.commit()


def verify_again(client: httpx.Client, user: User) -> None:
    """Ask for a new verification link, as an unverified account may, and follow it."""
    sent = client.post("/v1/accounts/me/verification-email", headers=user.headers)
    assert sent.status_code == 202, sent.text
    verify_email(client, user.email)


def refused_as_unverified(response: httpx.Response) -> None:
    """``response`` is the 403 every route that needs a verified address answers, saying how
    to get a new link."""
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"].endswith("/email-not-verified"), problem
    assert "Verify your email address first" in problem["detail"]
    assert "POST /v1/accounts/me/verification-email" in problem["detail"]


def create_asset(
    client: httpx.Client,
    user: User,
    *,
    kind: str = "character",
    handle: str | None = None,
    name: str = "Captain Test",
) -> dict:
    """One of ``user``'s assets. Another holder's character of the same name is held for
    moderators (rights/overlaps/): give a second holder's asset a ``name`` of its own."""
    response = client.post(
        "/v1/assets",
        headers=user.headers,
        json={
            "kind": kind,
            "handle": handle or f"h{uuid.uuid4().hex[:10]}",
            "name": name,
            "aliases": ["The Tester"] if name == "Captain Test" else [],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


OPEN_POLICY = {
    "audience": "anyone",
    "allowed_uses": ["personal", "parody"],
    "excluded_content": ["sexual"],
    "price": {"currency": "EUR", "per_use_minor": 120, "per_second_minor": 3},
}


def unverified_holder_of(client: httpx.Client, engine, **asset) -> tuple[User, dict]:
    """A holder whose address is not verified, and an asset of theirs: an account made before
    addresses were verified (a new account verifies its address before it registers one)."""
    holder = sign_up(client)
    registered = create_asset(client, holder, **asset)
    made_before_verification(engine, holder)
    return holder, registered


def set_policy(client: httpx.Client, user: User, asset_id: str, policy: dict | None = None) -> dict:
    response = client.post(
        f"/v1/assets/{asset_id}/policies", headers=user.headers, json=policy or OPEN_POLICY
    )
    assert response.status_code == 201, response.text
    return response.json()


def grant(client: httpx.Client, user: User, asset_id: str) -> dict:
    response = client.post(f"/v1/assets/{asset_id}/grants", headers=user.headers, json={})
    assert response.status_code == 201, response.text
    return response.json()


def granted_asset(
    client: httpx.Client,
    user: User,
    *,
    handle: str | None = None,
    policy: dict | None = None,
    name: str = "Captain Test",
) -> tuple[dict, dict]:
    """An asset with a policy (open by default) and one active grant: (asset, grant-created
    body)."""
    asset = create_asset(client, user, handle=handle, name=name)
    set_policy(client, user, asset["id"], policy)
    return asset, grant(client, user, asset["id"])


FACE_POLICY = {**OPEN_POLICY, "price": {"currency": "USD", "per_use_minor": 120}}


def consented_likeness(client: httpx.Client, user: User) -> dict:
    """A likeness of ``user``'s, granted under FACE_POLICY (personal use and parody, in USD)."""
    likeness = create_asset(client, user, kind="likeness")
    set_policy(client, user, likeness["id"], FACE_POLICY)
    grant(client, user, likeness["id"])
    return likeness


def promote(session, user: User, role: str) -> User:
    """Give an account a staff role, as an operator would (sign-up cannot)."""
    from clearhouse.accounts.models import Account, Role

    account = session.get(Account, user.id)
    account.role = Role(role)
    session.add(account)
    session.commit()
    return user
