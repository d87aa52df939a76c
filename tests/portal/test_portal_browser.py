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


def register_a_character(page: Page, portal: str) -> str:
    """Captain Comet, registered through the pages; the asset page's URL."""
    page.goto(f"{portal}/dashboard")
    page.get_by_role("link", name="Register an asset").click()
    audit(page, "asset-new")
    page.get_by_label("Name", exact=True).fill("Captain Comet")
    page.get_by_label("Handle").fill("captain_comet")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Captain Comet")
    audit(page, "asset")
    return page.url.split("?")[0]


def set_a_policy(page: Page, asset_url: str) -> None:
    """Anyone may use it commercially, at USD 0.55 a use; previewed first, then saved."""
    page.goto(f"{asset_url}/policy")
    page.get_by_label("Anyone with an account").check()
    page.locator("input[name=allowed_uses][value=commercial]").check()
    page.get_by_label("Per use").fill("0.55")
    page.get_by_role("button", name="Preview the decision").click()
    audit(page, "policy-preview")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("status")).to_be_visible()


def test_a_holder_registers_a_character_and_sets_its_policy(page: Page, portal: str) -> None:
    sign_up_in_the_browser(page, portal, name="Grace Hopper", email="grace@example.org")
    follow_the_emailed_link(page, portal, "grace@example.org")
    sign_in_in_the_browser(page, email="grace@example.org")

    asset_url = register_a_character(page, portal)
    set_a_policy(page, asset_url)

    page.goto(asset_url)
    audit(page, "asset-with-policy")
    page.goto(f"{portal}/assets")
    expect(page.get_by_role("link", name="Captain Comet")).to_be_visible()
    audit(page, "assets")
