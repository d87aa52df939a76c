"""Sign-up tells nobody which addresses have accounts; an address is verified by a link."""

import hashlib
from datetime import date, timedelta
from mailbox import mail_to, verification_link
from urllib.parse import parse_qs, urlsplit

import pytest
from factories import (
    OPEN_POLICY,
    PASSWORD,
    create_asset,
    made_before_verification,
    refused_as_unverified,
    set_policy,
    sign_up,
    verify_again,
    verify_email,
)
from sqlalchemy import text
from squatting import signed_in, take_address
from stored import every_stored_text

OTHER_PASSWORD = "violet submarine under a lemon tree"


def _sign_up(
    client, email: str, password: str = PASSWORD, name: str = "Someone", born: str = "1990-01-01"
):
    return client.post(
        "/v1/accounts",
        json={"email": email, "password": password, "display_name": name, "date_of_birth": born},
    )


def _accounts_with(engine, email: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM account WHERE email = :email"), {"email": email}
        ).scalar_one()


def test_a_taken_address_gets_the_same_answer_and_a_warning_mail_not_an_account(
    client, holder, engine
):
    new = _sign_up(client, "newcomer@example.org")
    taken = _sign_up(client, holder.email.upper(), OTHER_PASSWORD, "Impostor")

    assert new.status_code == taken.status_code == 202
    assert new.headers["content-type"] == taken.headers["content-type"]
    assert set(new.json()) == set(taken.json()) == {"email", "detail"}
    assert taken.json()["detail"] == new.json()["detail"].replace(
        "newcomer@example.org", holder.email
    )
    # One account, with its own password; its owner is told someone tried.
    assert _accounts_with(engine, holder.email) == 1
    warning = mail_to(client, holder.email)[-1]
    assert warning["subject"] == "Someone tried to sign up to Clearhouse with your address"
    assert verification_link(warning["body"]) is None  # a verified account: nothing to take
    assert (
        client.post(
            "/v1/auth/token", data={"username": holder.email, "password": OTHER_PASSWORD}
        ).status_code
        == 401
    )
    welcome = mail_to(client, "newcomer@example.org")[-1]
    assert welcome["subject"] == "Verify your email address for Clearhouse"
    assert verification_link(welcome["body"]) is not None


def test_both_answers_cost_one_password_hash_and_one_queued_mail(client, holder, monkeypatch):
    """The timing class: each path hashes the password once and only queues mail."""
    from argon2 import PasswordHasher

    hashed = []
    original = PasswordHasher.hash
    monkeypatch.setattr(
        PasswordHasher,
        "hash",
        lambda self, secret, **kw: hashed.append(1) or original(self, secret),
    )
    _sign_up(client, "fresh@example.org")
    new_hashes = len(hashed)
    _sign_up(client, holder.email, OTHER_PASSWORD)
    assert new_hashes == 1 and len(hashed) - new_hashes == 1
    assert len(mail_to(client, "fresh@example.org")) == 1
    assert len(mail_to(client, holder.email)) == 2  # its verification, then the warning


def test_an_unverified_account_signs_in_but_cannot_register_grant_or_enrol(client, engine):
    """Registering reserves a handle and a name against everyone else, and consent reaches
    other people: anyone can sign up with an address that is not theirs, so neither waits
    for less than the address's owner. An account made before addresses were verified may
    hold assets unverified; it still cannot consent."""
    user = sign_up(client, verified=False)
    me = client.get("/v1/accounts/me", headers=user.headers).json()
    assert me["email_verified_at"] is None
    registering = {"kind": "character", "handle": "@early_bird", "name": "Early Bird"}
    refused_as_unverified(client.post("/v1/assets", headers=user.headers, json=registering))
    assert client.get("/v1/assets", headers=user.headers).json()["total"] == 0
    verify_email(client, user.email)
    assert client.post("/v1/assets", headers=user.headers, json=registering).status_code == 201

    holder = sign_up(client)
    character = create_asset(client, holder)
    likeness = create_asset(client, holder, kind="likeness")
    set_policy(client, holder, character["id"], OPEN_POLICY)
    made_before_verification(engine, holder)
    refused_as_unverified(
        client.post(f"/v1/assets/{character['id']}/grants", headers=holder.headers, json={})
    )
    refused_as_unverified(
        client.post(f"/v1/assets/{likeness['id']}/enrolments", headers=holder.headers, json={})
    )

    verify_again(client, holder)
    assert client.get("/v1/accounts/me", headers=holder.headers).json()["email_verified_at"]
    granted = client.post(f"/v1/assets/{character['id']}/grants", headers=holder.headers, json={})
    assert granted.status_code == 201, granted.text


def test_a_verification_link_works_once(client):
    user = sign_up(client, verified=False)
    link = verification_link(mail_to(client, user.email)[-1]["body"])
    assert client.get(link).status_code == 200
    again = client.get(link)
    assert again.status_code == 400
    assert "unknown, used or expired" in again.json()["detail"]


def test_a_verification_link_expires(client, engine):
    user = sign_up(client, verified=False)
    link = verification_link(mail_to(client, user.email)[-1]["body"])
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE email_verification SET expires_at = :past"),
            {"past": _now() - timedelta(seconds=1)},
        )
    assert client.get(link).status_code == 400
    me = client.get("/v1/accounts/me", headers=user.headers).json()
    assert me["email_verified_at"] is None


def test_a_guessed_token_verifies_nothing(client):
    user = sign_up(client, verified=False)
    assert client.get("/v1/accounts/verify-email?token=guess").status_code == 400
    assert client.get("/v1/accounts/me", headers=user.headers).json()["email_verified_at"] is None


def test_the_token_is_stored_only_as_its_hash_once_the_mail_is_handed_on(client, engine, session):
    from clearhouse.mail.outbox import take_outbox

    user = sign_up(client, verified=False)
    link = verification_link(mail_to(client, user.email)[-1]["body"])
    token = parse_qs(urlsplit(link).query)["token"][0]

    taken = take_outbox(session, recipient=user.email)  # what `clearhouse mail outbox` does
    session.commit()
    assert token in taken[0].body
    stored = every_stored_text(engine)
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert client.get(link).status_code == 200


def test_whoever_reads_the_mail_takes_an_address_someone_else_signed_up_with(client):
    """A squatter signs up with my address; signing up again, I get a link that makes my
    password the account's, and the squatter's stops working."""
    squatter = _sign_up(client, "victim@example.org", OTHER_PASSWORD, "Squatter")
    assert squatter.status_code == 202
    squatting = client.post(
        "/v1/auth/token", data={"username": "victim@example.org", "password": OTHER_PASSWORD}
    ).json()["access_token"]
    squatter_headers = {"Authorization": f"Bearer {squatting}"}
    squatter_key = client.post(
        "/v1/api-keys", headers=squatter_headers, json={"name": "k", "scopes": ["account:read"]}
    ).json()["secret"]
    assert _sign_up(client, "victim@example.org", PASSWORD, "Victim").status_code == 202

    mails = mail_to(client, "victim@example.org")
    assert mails[-1]["subject"] == "Someone tried to sign up to Clearhouse with your address"
    assert client.get(verification_link(mails[-1]["body"])).status_code == 200

    def token(password):
        return client.post(
            "/v1/auth/token", data={"username": "victim@example.org", "password": password}
        )

    assert token(PASSWORD).status_code == 200
    assert token(OTHER_PASSWORD).status_code == 401
    # The squatter's session and key end with their password.
    assert client.get("/v1/accounts/me", headers=squatter_headers).status_code == 401
    assert client.get("/v1/accounts/me", headers={"X-API-Key": squatter_key}).status_code == 401
    # The squatter's own link is spent with the address verified.
    assert client.get(verification_link(mails[0]["body"])).status_code == 400


def test_the_address_taken_is_the_person_who_took_it(client):
    """The squatter said they were an adult called Squatter; I, who take the address, am 15
    and called Victim: the account is mine, so my face is a minor's and protected."""
    _sign_up(client, "victim@example.org", OTHER_PASSWORD, "Squatter")
    born = date.today() - timedelta(days=15 * 365 + 10)
    victim = take_address(client, "victim@example.org", name="Victim", born=born.isoformat())
    me = client.get("/v1/accounts/me", headers=victim).json()
    assert (me["display_name"], me["date_of_birth"]) == ("Victim", born.isoformat())
    face = client.post(
        "/v1/assets",
        headers=victim,
        json={"kind": "likeness", "handle": "@victim_face", "name": "Victim"},
    ).json()
    opened = client.post(f"/v1/assets/{face['id']}/policies", headers=victim, json=OPEN_POLICY)
    assert opened.status_code == 403
    assert opened.json()["type"].endswith("/minors-likeness-protected")


def test_a_taken_address_keeps_no_other_sign_ups_details_and_deletion_erases_its_own(
    client, engine
):
    """The links a taken address was sent carry each sign-up's password hash, name and date
    of birth; once one is used the others are spent, and none keeps them."""
    _sign_up(client, "victim@example.org", OTHER_PASSWORD, "Squatter")
    _sign_up(client, "victim@example.org", PASSWORD, "Unused Attempt", "1970-07-07")
    victim = take_address(client, "victim@example.org", name="Victim", born="1991-02-03")
    stored = every_stored_text(engine, except_tables=("outbox_email",))
    assert "Unused Attempt" not in stored
    assert repr(date(1970, 7, 7)) not in stored
    deleted = client.post("/v1/accounts/me/deletion", headers=victim, json={"password": PASSWORD})
    assert deleted.status_code == 200, deleted.text
    assert repr(date(1991, 2, 3)) not in every_stored_text(engine)
    # An unverified account deleted with a later sign-up's link still unused.
    _sign_up(client, "other@example.org", OTHER_PASSWORD, "Squatter")
    _sign_up(client, "other@example.org", PASSWORD, "Never Used", "1980-08-08")
    never_used = verification_link(mail_to(client, "other@example.org")[-1]["body"])
    squatter = signed_in(client, "other@example.org", OTHER_PASSWORD)
    deleted = client.post(
        "/v1/accounts/me/deletion", headers=squatter, json={"password": OTHER_PASSWORD}
    )
    assert deleted.status_code == 200, deleted.text
    stored = every_stored_text(engine, except_tables=("outbox_email",))
    assert "Never Used" not in stored
    assert repr(date(1980, 8, 8)) not in stored
    assert client.get(never_used).status_code == 400  # spent with the account


def test_a_new_link_on_request_and_none_once_verified(client, holder):
    user = sign_up(client, verified=False)
    sent = client.post("/v1/accounts/me/verification-email", headers=user.headers)
    assert sent.status_code == 202
    assert len(mail_to(client, user.email)) == 2
    verify_email(client, user.email)
    again = client.post("/v1/accounts/me/verification-email", headers=holder.headers)
    assert again.status_code == 409


@pytest.mark.parametrize("name", ["   ", "\u200b\u200b", "\u3164", "Ada\u202e"])
def test_display_names_must_be_visible_and_in_reading_order(client, name):
    response = _sign_up(client, "named@example.org", name=name)
    assert response.status_code == 422, response.text
    assert mail_to(client, "named@example.org") == []


def test_nobody_fills_an_inbox_through_sign_up_or_new_links(client, holder):
    """Each sign-up and each new link mails its address: past the hourly limit per address
    the answer is 429 with Retry-After, alike for an address with an account and one without."""
    limit = client.app.state.settings.mail_limit_per_recipient
    # The holder's own sign-up mailed their address once already.
    for email, sent in (("nobody.yet@example.org", 0), (holder.email, 1)):
        answers = [_sign_up(client, email).status_code for _ in range(limit + 1 - sent)]
        assert answers == [202] * (limit - sent) + [429], email
    refused = _sign_up(client, holder.email)
    assert refused.headers["Retry-After"].isdigit()
    assert len(mail_to(client, "nobody.yet@example.org")) == limit

    user = sign_up(client, verified=False)
    links = [
        client.post("/v1/accounts/me/verification-email", headers=user.headers).status_code
        for _ in range(limit)
    ]
    assert links == [202] * (limit - 1) + [429]  # the sign-up's own mail counted first


def test_sign_ups_are_limited_per_client_address(settings):
    from fastapi.testclient import TestClient

    from clearhouse.app import create_app

    limited = settings.model_copy(update={"mail_limit_per_address": 3})
    with TestClient(create_app(limited)) as client:
        answers = [_sign_up(client, f"person{n}@example.org").status_code for n in range(4)]
    assert answers == [202, 202, 202, 429]


def _now():
    from clearhouse.db import utcnow

    return utcnow()


SIGNERS = 5


def test_one_address_signed_up_at_one_moment_makes_one_account(served, settings):
    """Five sign-ups of one new address at once, against a live server: five alike answers,
    one account, and the other four tell its owner someone tried."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from clearhouse.db import build_engine

    start = threading.Barrier(SIGNERS)

    def sign(n: int) -> httpx.Response:
        with httpx.Client(base_url=served, timeout=30) as http:
            start.wait()
            return _sign_up(http, "race@example.org", f"{OTHER_PASSWORD} {n}")

    with ThreadPoolExecutor(max_workers=SIGNERS) as pool:
        responses = list(pool.map(sign, range(SIGNERS)))
    assert [r.status_code for r in responses] == [202] * SIGNERS, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    engine = build_engine(settings.resolved_database_url)
    try:
        assert _accounts_with(engine, "race@example.org") == 1
    finally:
        engine.dispose()
    with httpx.Client(base_url=served, timeout=30) as http:
        subjects = sorted(m["subject"] for m in mail_to(http, "race@example.org"))
    assert subjects == ["Someone tried to sign up to Clearhouse with your address"] * (
        SIGNERS - 1
    ) + ["Verify your email address for Clearhouse"]
