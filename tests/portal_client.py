"""Driving the portal's pages as a browser would, through a test client: sign in with the
session cookie, and post forms with the CSRF token the page carries."""

import re

import httpx
from factories import PASSWORD, User

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(client: httpx.Client, path: str) -> str:
    """The CSRF token of the form on the page at ``path``."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None, f"no form with a CSRF token on {path}"
    return found.group(1)


def post_form(client: httpx.Client, path: str, data: dict, *, page: str | None = None, **kwargs):
    """POST ``data`` to ``path`` with the CSRF token from ``page`` (default: ``path``)."""
    token = form_token(client, page or path)
    kwargs.setdefault("follow_redirects", False)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def portal_sign_in(client: httpx.Client, user: User, *, password: str = PASSWORD) -> None:
    """Sign ``user`` in on the portal: ``client`` then carries their session cookie."""
    answer = post_form(client, "/sign-in", {"email": user.email, "password": password})
    assert answer.status_code == 303, answer.text
    assert "clearhouse_session" in client.cookies


def refused_page_as_unverified(page: httpx.Response) -> None:
    """``page`` is the portal's answer to a form that needs a verified address: a 403 page that
    says so, with the form that sends a new link."""
    assert page.status_code == 403, page.text
    assert "Email address not verified" in page.text
    assert "Verify your email address first" in page.text
    assert 'action="/account/verification-email"' in page.text
