"""The portal in a real browser (Debian's Chromium): a person's path through its pages, each
page audited (axe-core, phone width, nothing from another host) and photographed under
test-artifacts/."""

from collections.abc import Iterator
from mailbox import mail_to
from urllib.parse import urlsplit

import httpx
import pytest
from browser import audit
from factories import PASSWORD
from live_server import uvicorn_in_thread
from playwright.sync_api import Page, expect

from clearhouse.settings import Settings


@pytest.fixture
def portal(settings: Settings) -> Iterator[str]:
    """The app on a real HTTP server; its URL."""
    with uvicorn_in_thread(settings) as url:
        yield url


def sign_up_in_the_browser(page: Page, portal: str, *, name: str, email: str) -> None:
    page.goto(f"{portal}/sign-up")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Date of birth").fill("1990-01-02")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("status")).to_contain_text("Check your email")


def follow_the_emailed_link(page: Page, portal: str, email: str) -> None:
    with httpx.Client(base_url=portal) as client:
        (mail,) = mail_to(client, email)
    link = urlsplit(next(word for word in mail["body"].split() if "verify-email?token=" in word))
    # The mail's link starts with CLEARHOUSE_PUBLIC_URL; this server's port is a free one.
    page.goto(f"{portal}{link.path}?{link.query}")
    expect(page.get_by_role("status")).to_contain_text("Your email address is verified")


def sign_in_in_the_browser(page: Page, *, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_person_signs_up_verifies_signs_in_and_out(page: Page, portal: str) -> None:
    page.goto(f"{portal}/")
    expect(page).to_have_url(f"{portal}/sign-in")
    audit(page, "sign-in")

    page.goto(f"{portal}/sign-up")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("#f-email-error")).to_be_visible()
    audit(page, "sign-up-with-errors")

    sign_up_in_the_browser(page, portal, name="Ada Lovelace", email="ada@example.org")
    follow_the_emailed_link(page, portal, "ada@example.org")
    sign_in_in_the_browser(page, email="ada@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Lovelace")
    audit(page, "dashboard")

    page.goto(f"{portal}/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    audit(page, "not-found")

    page.goto(f"{portal}/dashboard")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    page.goto(f"{portal}/dashboard")
    expect(page).to_have_url(f"{portal}/sign-in?next=%2Fdashboard")
