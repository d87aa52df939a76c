"""Signing up, in and out on the portal; the session cookie and the CSRF tokens."""

from collections.abc import Iterator
from mailbox import mail_to

import pytest
from factories import PASSWORD, sign_up
from fastapi.testclient import TestClient
from portal_client import form_token, portal_sign_in, post_form

from clearhouse.app import create_app
from clearhouse.portal import ROUTERS, UPLOAD_ROUTES
from clearhouse.portal.sessions import check_csrf
from clearhouse.settings import Settings


def test_a_new_holder_signs_up_verifies_and_lands_on_the_dashboard(client: TestClient) -> None:
    answer = post_form(
        client,
        "/sign-up",
        {
            "display_name": "Ada Lovelace",
            "email": "ada@example.org",
            "password": PASSWORD,
            "date_of_birth": "1990-01-02",
            "role": "holder",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?notice=signed-up"
    (mail,) = mail_to(client, "ada@example.org")
    link = next(word for word in mail["body"].split() if "verify-email?token=" in word)

    # A person follows the link in a browser: verified, and sent on to sign in.
    followed = client.get(link, headers={"Accept": "text/html"}, follow_redirects=False)
    assert followed.status_code == 303
    assert followed.headers["location"] == "/sign-in?notice=email-verified"

    signed_in = post_form(
        client,
        "/sign-in",
        {"email": "ada@example.org", "password": PASSWORD, "next": "/dashboard"},
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/dashboard"
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "Hello, Ada Lovelace" in dashboard.text
    assert "Verify your email address" not in dashboard.text


def test_sign_up_shows_each_problem_beside_its_field_and_keeps_what_was_typed(
    client: TestClient,
) -> None:
    answer = post_form(
        client,
        "/sign-up",
        {
            "display_name": "Grace",
            "email": "not an address",
            "password": "short",
            "date_of_birth": "1990-01-02",
        },
    )
    assert answer.status_code == 400
    assert 'id="f-email-error"' in answer.text
    assert 'value="Grace"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert mail_to(client, "not an address") == []


def test_the_session_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    user = sign_up(client)
    answer = post_form(client, "/sign-in", {"email": user.email, "password": PASSWORD})
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("clearhouse_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # served over plain HTTP here; see the next test


def test_over_https_the_session_cookie_is_secure(settings: Settings) -> None:
    https = settings.model_copy(update={"public_url": "https://clearhouse.example"})
    with TestClient(create_app(https)) as client:
        user = sign_up(client)
        answer = post_form(client, "/sign-in", {"email": user.email, "password": PASSWORD})
    assert "secure" in answer.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "path", ["/sign-in", "/sign-up", "/sign-out", "/account/verification-email"]
)
def test_a_form_posted_without_its_csrf_token_is_refused(client: TestClient, path: str) -> None:
    user = sign_up(client, verified=False)
    portal_sign_in(client, user)

    for token in (None, "", "0" * 64):
        data = {"email": user.email, "password": PASSWORD}
        if token is not None:
            data["csrf_token"] = token
        answer = client.post(path, data=data, follow_redirects=False)
        assert answer.status_code == 403, (path, token)
        assert "This form has expired" in answer.text
    # Nothing happened: still signed in, no new mail.
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    assert len(mail_to(client, user.email)) == 1


def test_another_browsers_token_does_not_pass(client: TestClient, settings: Settings) -> None:
    """A token is bound to its browser's session: one read off another session is refused."""
    victim, attacker = sign_up(client), sign_up(client)
    with TestClient(create_app(settings)) as other:
        portal_sign_in(other, attacker)
        attackers_token = form_token(other, "/dashboard")
    portal_sign_in(client, victim)

    answer = client.post("/sign-out", data={"csrf_token": attackers_token}, follow_redirects=False)

    assert answer.status_code == 403
    assert client.get("/dashboard", follow_redirects=False).status_code == 200


def test_signing_out_ends_the_session_everywhere(client: TestClient) -> None:
    user = sign_up(client)
    portal_sign_in(client, user)
    stolen = client.cookies["clearhouse_session"]

    answer = post_form(client, "/sign-out", {}, page="/dashboard")

    assert answer.headers["location"] == "/sign-in?notice=signed-out"
    client.cookies.set("clearhouse_session", stolen)  # a copy of the cookie taken before
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    # The same token no longer works on the API either.
    me = client.get("/v1/accounts/me", headers={"Authorization": f"Bearer {stolen}"})
    assert me.status_code == 401


def test_pages_send_strangers_to_sign_in_and_back(client: TestClient) -> None:
    answer = client.get("/dashboard?x=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fdashboard%3Fx%3D1"

    user = sign_up(client)
    page = client.get("/sign-in?next=%2Fdashboard%3Fx%3D1")
    assert 'name="next" value="/dashboard?x=1"' in page.text
    back = post_form(
        client, "/sign-in", {"email": user.email, "password": PASSWORD, "next": "/dashboard?x=1"}
    )
    assert back.headers["location"] == "/dashboard?x=1"


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/", "//evil.example/", "/\\evil.example", "dashboard"]
)
def test_after_sign_in_nobody_is_sent_to_another_host(client: TestClient, elsewhere: str) -> None:
    user = sign_up(client)
    answer = post_form(
        client, "/sign-in", {"email": user.email, "password": PASSWORD, "next": elsewhere}
    )
    assert answer.headers["location"] == "/dashboard"


def test_a_wrong_password_is_said_once_without_saying_which(client: TestClient) -> None:
    user = sign_up(client)
    wrong = post_form(client, "/sign-in", {"email": user.email, "password": "not it at all"})
    unknown = post_form(client, "/sign-in", {"email": "nobody@example.org", "password": "x"})
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "The email or the password is wrong." in answer.text
    assert "clearhouse_session" not in client.cookies


def test_a_creator_sees_no_holder_pages(client: TestClient) -> None:
    creator = sign_up(client, role="creator")
    portal_sign_in(client, creator)
    dashboard = client.get("/dashboard")
    assert "signed in as a creator" in dashboard.text
    assert 'href="/assets"' not in dashboard.text


def test_pages_carry_no_store_and_a_policy_that_sends_forms_only_here(
    client: TestClient,
) -> None:
    page = client.get("/sign-in")
    assert page.headers["cache-control"] == "no-store"
    policy = page.headers["content-security-policy"]
    assert "form-action 'self'" in policy
    assert "default-src 'none'" in policy


def test_the_stylesheet_is_served_from_here(client: TestClient) -> None:
    css = client.get("/static/portal.css")
    assert css.status_code == 200
    assert "http" not in css.text  # no font or image from another host


def _dependencies(dependant) -> Iterator:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependencies(sub)


def test_every_form_a_page_posts_to_checks_its_csrf_token() -> None:
    """A new page that takes a POST without the check fails here, not in an attacker's hands."""
    unchecked = {
        route.path
        for router in ROUTERS
        for route in router.routes
        if "POST" in route.methods and check_csrf not in set(_dependencies(route.dependant))
    }
    # An upload checks the token itself, on the form it parses with the upload's limits
    # (test_asset_pages.py and test_enrol_pages.py refuse an upload without it).
    assert unchecked == {path for _, path in UPLOAD_ROUTES}
