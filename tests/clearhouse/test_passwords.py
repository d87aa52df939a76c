"""Passwords as NIST SP 800-63B asks: NFKC-normalised, long enough, not easy to guess."""

from mailbox import mail_to

import pytest
from factories import PASSWORD


def _sign_up(client, email: str, password: str):
    return client.post(
        "/v1/accounts",
        json={
            "email": email,
            "password": password,
            "display_name": "Pat",
            "date_of_birth": "1990-01-01",
        },
    )


def _sign_in(client, email: str, password: str):
    return client.post("/v1/auth/token", data={"username": email, "password": password})


@pytest.mark.parametrize(
    "password,why",
    [
        (" " * 12, "only spaces or invisible characters"),
        ("\u200b" * 12, "only spaces or invisible characters"),
        ("\u3000\u200d\u2060" * 4, "only spaces or invisible characters"),
        ("aaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess'),
        ("password1234", "This is a very common password"),
        ("qwertyuiop12", "too easy to guess"),
        ("pat@example.org!", "too easy to guess"),  # the address itself
        # Twelve code points, six characters once the accents are composed (NFKC).
        ("e\u0301" * 6, "6 characters (counted after Unicode NFKC normalisation)"),
        ("short", "use at least 12"),
    ],
)
def test_weak_passwords_are_refused_and_the_answer_says_why(client, password, why):
    response = _sign_up(client, "pat@example.org", password)
    assert response.status_code == 400, response.text
    assert why in response.json()["detail"]
    assert mail_to(client, "pat@example.org") == []


def test_long_passphrases_are_welcome(client):
    long = " ".join(["violet submarine under a lemon tree"] * 7)[:256]
    assert _sign_up(client, "long@example.org", long).status_code == 202
    assert _sign_in(client, "long@example.org", long).status_code == 200


def test_a_password_is_the_same_however_it_was_typed(client):
    # Full-width letters (an East Asian keyboard) are the ASCII ones after NFKC.
    full_width = "".join(chr(ord(c) + 0xFEE0) if c != " " else " " for c in PASSWORD)
    assert _sign_up(client, "wide@example.org", full_width).status_code == 202
    assert _sign_in(client, "wide@example.org", PASSWORD).status_code == 200
    assert _sign_in(client, "wide@example.org", full_width).status_code == 200
    assert _sign_in(client, "wide@example.org", PASSWORD.upper()).status_code == 401


def test_hashes_made_before_normalisation_still_sign_in(client, session, settings):
    from argon2 import PasswordHasher

    from clearhouse.accounts.models import Account

    # A password with ligatures, hashed as typed, as before passwords were normalised.
    typed = "\ufb01ve \ufb02ying \ufb01sh over the \ufb01eld"
    hasher = PasswordHasher(
        time_cost=settings.password_hash_time_cost, memory_cost=settings.password_hash_memory_kib
    )
    from datetime import date

    session.add(
        Account(
            email="old@example.org",
            password_hash=hasher.hash(typed),
            display_name="Old",
            date_of_birth=date(1980, 1, 1),
            revenue_share_bps=8000,
        )
    )
    session.commit()
    assert _sign_in(client, "old@example.org", typed).status_code == 200
    assert _sign_in(client, "old@example.org", typed + "x").status_code == 401
