"""Squatters for tests: someone signs up with an address that is not theirs and never
verifies it; its real owner later signs up with it and follows the mailed link, which hands
them the account (accounts.service.sign_up)."""

from mailbox import mail_to, verification_link

import httpx
from factories import PASSWORD


def signed_in(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    token = client.post("/v1/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def takeover_link(
    client: httpx.Client, email: str, *, name: str = "Victim", born: str = "1991-02-03"
) -> str:
    """Sign up again with a squatted address, as its real owner: the link mailed to it."""
    answer = client.post(
        "/v1/accounts",
        json={"email": email, "password": PASSWORD, "display_name": name, "date_of_birth": born},
    )
    assert answer.status_code == 202, answer.text
    return verification_link(mail_to(client, email)[-1]["body"])


def take_address(
    client: httpx.Client, email: str, *, name: str = "Victim", born: str = "1991-02-03"
) -> dict[str, str]:
    """Sign up with an unverified account's address and follow the mailed link, as its real
    owner would; signed in as them."""
    taken = client.get(takeover_link(client, email, name=name, born=born))
    assert taken.status_code == 200, taken.text
    return signed_in(client, email, PASSWORD)
