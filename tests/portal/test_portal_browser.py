"""The portal in a real browser (Debian's Chromium): a person's path through its pages, each
page audited (axe-core, phone width, nothing from another host) and photographed under
test-artifacts/."""

import re
import time
from collections.abc import Iterator
from mailbox import mail_to
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from browser import audit, watched_page
from clearing import USD_POLICY, clearance_body
from factories import PASSWORD, grant, promote, set_policy, sign_up
from generating import generation_body
from live_server import uvicorn_in_thread
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from clearhouse.db import build_engine
from clearhouse.settings import Settings


@pytest.fixture
def portal(settings: Settings) -> Iterator[str]:
    """The app on a real HTTP server, its generation worker running; its URL."""
    with uvicorn_in_thread(settings.model_copy(update={"generation_worker": True})) as url:
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
    # A keyboard's first stop is the link past the menu, and it lands on the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.goto(f"{portal}/sign-up")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("#f-email-error")).to_be_visible()
    audit(page, "sign-up-with-errors")

    sign_up_in_the_browser(page, portal, name="Ada Lovelace", email="ada@example.org")
    follow_the_emailed_link(page, portal, "ada@example.org")
    # Signing in with the keyboard alone: the email field, Tab, the password, Enter.
    page.get_by_label("Email").focus()
    page.keyboard.type("ada@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
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
    """Anyone may use it commercially, at USD 0.55 a use, never drinking alcohol; previewed
    first (a prompt that breaks the restriction is refused in the holder's words), then
    saved."""
    page.goto(f"{asset_url}/policy")
    page.get_by_label("Anyone with an account").check()
    page.locator("input[name=allowed_uses][value=commercial]").check()
    page.get_by_label("Per use").fill("0.55")
    page.get_by_label("Limits in your own words").fill("never drinking alcohol")
    page.get_by_label("Prompt", exact=True).fill("Captain Comet drinking a beer at a bar")
    # The first prompt this server reads loads the sentence model (building its graph where
    # the data dir has none yet, a minute on a busy machine).
    page.get_by_role("button", name="Preview the decision").click(timeout=300_000)
    expect(page.get_by_role("status")).to_contain_text(
        "does not allow \u201cnever drinking alcohol\u201d"
    )
    audit(page, "policy-preview")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("status")).to_be_visible()


def send_evidence(page: Page, asset_url: str) -> None:
    """The claim form on the asset page: a link and a statement; the claim then waits."""
    page.goto(asset_url)
    page.get_by_label("A link to a public record").check()
    page.get_by_label("Registration number or link").fill("https://tm.example/captain-comet")
    page.get_by_label("In your own words").fill("I drew Captain Comet in 2019; the mark is mine.")
    page.get_by_role("button", name="Send for verification").click()
    expect(page.get_by_role("status")).to_contain_text("Your evidence is sent")
    audit(page, "asset-claim-pending")


def verify_every_claim(portal: str, settings: Settings) -> None:
    """A moderator, through the API, verifies each pending claim."""
    with httpx.Client(base_url=portal) as api:
        staff = sign_up(api)
        engine = build_engine(settings.resolved_database_url)
        with Session(engine) as session:
            promote(session, staff, "moderator")
        engine.dispose()
        for claim in api.get("/v1/claims", headers=staff.headers).json()["items"]:
            decided = api.post(
                f"/v1/claims/{claim['id']}/decision",
                headers=staff.headers,
                json={"decision": "verify", "reason": "The mark's record matches."},
            )
            assert decided.status_code == 200, decided.text


def sign_up_and_in(page: Page, portal: str, *, name: str, email: str) -> None:
    sign_up_in_the_browser(page, portal, name=name, email=email)
    follow_the_emailed_link(page, portal, email)
    sign_in_in_the_browser(page, email=email)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {name}")


def a_creator_generates(portal: str, prompt: str) -> str:
    """A creator, through the API, has a video made of ``prompt``; its generation's id, once
    released."""
    with httpx.Client(base_url=portal, timeout=60) as api:
        creator = sign_up(api, role="creator")
        asked = api.post("/v1/generations", headers=creator.headers, json=generation_body(prompt))
        assert asked.status_code == 201, asked.text
        assert asked.json()["clearance"]["outcome"] == "cleared", asked.text
        generation_id = asked.json()["generation"]["id"]
        deadline = time.monotonic() + 180
        while (state := generation_state(api, creator, generation_id)) != "released":
            assert state in {"queued", "generating", "checking_output"}, state
            assert time.monotonic() < deadline, f"the generation is still {state}"
            time.sleep(0.25)
    return generation_id


def generation_state(api: httpx.Client, creator, generation_id: str) -> str:
    answer = api.get(f"/v1/generations/{generation_id}", headers=creator.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["state"]


def test_a_holder_registers_consents_sees_the_use_revokes_and_reads_the_statement(
    browser: Browser, portal: str, settings: Settings
) -> None:
    """The issue's path: a holder signs up, registers a character, sends evidence of their
    claim (verified by a moderator), sets a policy, sees a creator's generation of it among the
    uses, revokes, downloads the receipt and a statement; a second holder cannot open the
    first's pages."""
    with watched_page(browser) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of portal.js
        sign_up_and_in(page, portal, name="Grace Hopper", email="grace@example.org")
        asset_url = register_a_character(page, portal)
        send_evidence(page, asset_url)
        verify_every_claim(portal, settings)
        set_a_policy(page, asset_url)
        page.goto(asset_url)
        audit(page, "asset-with-policy")
        page.goto(f"{portal}/assets")
        expect(page.get_by_role("link", name="Captain Comet")).to_be_visible()
        audit(page, "assets")

        a_creator_generates(portal, "Captain Comet flying over a quiet harbour at dawn")

        page.goto(f"{portal}/uses")
        use = page.locator("li", has_text="Captain Comet flying over a quiet harbour").first
        expect(use.locator(".state")).to_have_text("Released")
        expect(use.get_by_role("img")).to_be_visible()
        # decode() waits for the poster to load (a busy machine serves it late) and fails if
        # it cannot be decoded.
        poster = use.get_by_role("img")
        assert poster.evaluate("image => image.decode().then(() => image.naturalWidth)") > 0
        audit(page, "uses")

        page.goto(f"{portal}/dashboard")
        audit(page, "dashboard-with-earnings")
        page.goto(f"{portal}/grants")
        audit(page, "grants")
        page.get_by_role("button", name="Withdraw", exact=True).first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("receipt", ignore_case=True)
        audit(page, "receipt")
        receipt_url = page.url.split("?")[0]
        with page.expect_download() as receipt:
            page.get_by_role("link", name="Download the receipt").click()
        with httpx.Client(base_url=portal) as api:
            checked = api.post("/v1/receipts/verify", json={"token": _text(receipt.value).strip()})
        assert checked.status_code == 200, checked.text
        assert checked.json()["valid"] is True, checked.text
        assert checked.json()["consent"]["state"] == "withdrawn"

        page.goto(f"{portal}/statements")
        audit(page, "statements")
        with page.expect_download() as statement:
            page.get_by_role("link", name="Download CSV").first.click()
        assert "captain_comet" in _text(statement.value)

        for name, path in [("payouts", "/payouts"), ("audit-log", "/audit"), ("enrol", "/enrol")]:
            page.goto(f"{portal}{path}")
            audit(page, name)

        # What the holder was told: their claim verified, the release, the withdrawal's effect.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
        for told in (
            "Staff decided your claim to an asset.",
            "A generation that used your asset was released.",
            "Your withdrawal of consent took effect.",
        ):
            expect(page.get_by_text(told, exact=True)).to_be_visible()
        audit(page, "inbox")
        page.get_by_role("button", name="Mark all 3 read").click()
        expect(page.get_by_role("status")).to_contain_text("Every notice is marked read")
        page.goto(f"{portal}/notices/preferences")
        page.get_by_label("Never: I read them here").check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("Saved")
        audit(page, "notice-preferences")
        page.goto(f"{portal}/webhooks")
        page.get_by_label("URL", exact=True).fill("https://93.184.216.34/hooks")
        page.get_by_role("button", name="Add the endpoint").click()
        expect(page.get_by_label("Signing secret")).to_have_value(re.compile(r"^whsec_"))
        audit(page, "webhook-secret")
        page.get_by_role("link", name="Go to the endpoint").click()
        expect(page.get_by_text("Nothing sent yet.")).to_be_visible()
        audit(page, "webhook-endpoint")
        page.goto(f"{portal}/webhooks")
        audit(page, "webhooks")

    with watched_page(browser) as stranger:
        sign_up_and_in(stranger, portal, name="Ida Stranger", email="ida@example.org")
        for url in (asset_url, f"{asset_url}/policy", f"{asset_url}/edit", receipt_url):
            stranger.goto(url)
            expect(stranger.get_by_role("heading", level=1)).to_have_text("Not found")
        assert stranger.request.get(f"{receipt_url}/download").status == 404
        stranger.goto(f"{portal}/uses")
        expect(stranger.get_by_text("Captain Comet flying over")).to_have_count(0)
        audit(stranger, "uses-empty")


def test_a_holder_approves_after_all_a_request_they_declined(page: Page, portal: str) -> None:
    """A declined request shows among the uses with the holder's no and until when it stands,
    and a yes after all; the page passes its audit with it, and after the yes."""
    with httpx.Client(base_url=portal, timeout=300) as api:
        holder, creator = sign_up(api), sign_up(api, role="creator")
        asset = api.post(
            "/v1/assets",
            headers=holder.headers,
            json={"kind": "character", "handle": "quiet_heron", "name": "Quiet Heron"},
        ).json()
        set_policy(api, holder, asset["id"], {**USD_POLICY, "approval_required": True})
        grant(api, holder, asset["id"])
        body = clearance_body("Quiet Heron sailing past the harbour lights")
        asked = api.post("/v1/clearances", headers=creator.headers, json=body).json()
        assert asked["outcome"] == "needs_approval", asked
        [pending] = api.get("/v1/approvals", headers=holder.headers).json()["items"]
        declined = api.post(f"/v1/approvals/{pending['id']}/decline", headers=holder.headers)
        assert declined.status_code == 200, declined.text

    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation of portal.js
    page.goto(f"{portal}/sign-in")
    sign_in_in_the_browser(page, email=holder.email)
    page.goto(f"{portal}/uses?state=declined")
    use = page.locator("li", has_text="Quiet Heron sailing past the harbour lights")
    expect(use.locator(".state")).to_have_text("Declined by you")
    expect(use.get_by_text("Your no stands until")).to_be_visible()
    audit(page, "uses-declined")
    use.get_by_role("button", name="Approve after all").click()

    expect(page.get_by_role("status")).to_contain_text("You approved the request")
    expect(page.locator("li .state")).to_have_text("Approved by you")
    audit(page, "uses-approved-after-all")
    with httpx.Client(base_url=portal, timeout=300) as api:
        cleared = api.post("/v1/clearances", headers=creator.headers, json=body).json()
    assert cleared["outcome"] == "cleared", cleared


def _text(download) -> str:
    return Path(download.path()).read_text()


def test_a_moderators_pages(page: Page, portal: str, settings: Settings) -> None:
    with httpx.Client(base_url=portal) as api:
        moderator = sign_up(api)
        # Two holders register one character: the newer is held in an overlap case.
        for handle in ("nova_knight", "nova_again"):
            holder = sign_up(api)
            registered = api.post(
                "/v1/assets",
                headers=holder.headers,
                json={"kind": "character", "handle": handle, "name": "Nova Knight"},
            )
            assert registered.status_code == 201, registered.text
        [case] = api.get("/v1/overlaps", headers=holder.headers).json()["items"]
        # A creator disputes the first holder's character: a thread both parties see.
        creator = sign_up(api, role="creator")
        opened = api.post(
            "/v1/disputes",
            headers=creator.headers,
            json={
                "asset_handle": "nova_knight",
                "kind": "improper_registration",
                "statement": "Nova Knight is my studio's character, registered here by another.",
                "link": "https://example.org/nova-knight",
            },
        )
        assert opened.status_code == 201, opened.text
        dispute_id = opened.json()["id"]
    engine = build_engine(settings.resolved_database_url)
    with Session(engine) as session:
        promote(session, moderator, "moderator")
    engine.dispose()

    page.goto(f"{portal}/sign-in")
    sign_in_in_the_browser(page, email=holder.email)
    page.goto(f"{portal}/assets/{case['your_asset_id']}")
    expect(page.get_by_role("heading", level=2, name="In review")).to_be_visible()
    audit(page, "asset-in-review")
    page.context.clear_cookies()

    page.goto(f"{portal}/sign-in")
    sign_in_in_the_browser(page, email=creator.email)
    for name, path in [("disputes", "/disputes"), ("dispute", f"/disputes/{dispute_id}")]:
        page.goto(f"{portal}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        audit(page, name)
    page.context.clear_cookies()

    page.goto(f"{portal}/sign-in")
    sign_in_in_the_browser(page, email=moderator.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    audit(page, "review")
    for name, path in [
        ("review-conflicts", "/review/conflicts"),
        ("flagged", "/review/flagged"),
        ("review-overlaps", "/review/overlaps"),
        ("review-overlap", f"/review/overlaps/{case['id']}"),
        ("review-claims", "/review/claims"),
        ("review-disputes", "/review/disputes"),
        ("review-dispute", f"/disputes/{dispute_id}"),
    ]:
        page.goto(f"{portal}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        audit(page, name)


def test_an_organisations_and_an_accounts_pages(page: Page, portal: str) -> None:
    with httpx.Client(base_url=portal) as api:
        owner, member, agent = sign_up(api), sign_up(api), sign_up(api)

    page.goto(f"{portal}/sign-in")
    sign_in_in_the_browser(page, email=owner.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organisations").click()
    audit(page, "organisations")
    page.get_by_label("Its name").fill("Lumen Studio")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lumen Studio")
    page.get_by_label("Their email address").fill(member.email)
    page.get_by_label("Role", exact=True).select_option("manager")
    page.get_by_role("button", name="Invite", exact=True).click()
    invited = page.get_by_role("table", name="Your invitations to Lumen Studio")
    expect(invited).to_contain_text(member.email)
    audit(page, "organisation-invited")
    with httpx.Client(base_url=portal) as api:
        [invitation] = api.get("/v1/invitations", headers=member.headers).json()
        joined = api.post(f"/v1/invitations/{invitation['id']}/accept", headers=member.headers)
    assert joined.status_code == 200, joined.text
    page.reload()
    expect(page.get_by_role("table", name="The members of Lumen Studio")).to_contain_text(
        member.email
    )
    audit(page, "organisation")
    page.get_by_role("link", name="its audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log: Lumen Studio")
    expect(page.get_by_role("list").last).to_contain_text("Created the organisation Lumen Studio.")
    audit(page, "organisation-audit")
    organisation_id = page.url.rsplit("/", 2)[1]
    with httpx.Client(base_url=portal) as api:
        held = api.post(
            "/v1/assets",
            headers=member.headers,
            json={"kind": "character", "handle": "lumen_owl", "name": "Lumen Owl"}
            | {"organisation_id": organisation_id},
        )
    assert held.status_code == 201, held.text
    page.goto(f"{portal}/audit?asset={held.json()['id']}")
    expect(page.get_by_role("list").last).to_contain_text("Registered the character @lumen_owl.")
    audit(page, "audit-log-organisation-asset")
    page.goto(f"{portal}/organisations/{organisation_id}")
    page.get_by_role("link", name="its payouts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payouts: Lumen Studio")
    audit(page, "organisation-payouts")
    page.go_back()

    page.goto(f"{portal}/assets/new")
    expect(page.get_by_label("Who holds it")).to_contain_text("Lumen Studio")
    audit(page, "asset-new-organisation")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.get_by_label("Invite an agent: their email address").fill(agent.email)
    page.get_by_role("button", name="Invite", exact=True).click()
    expect(page.get_by_role("region", name="Your agents")).to_contain_text(agent.email)
    audit(page, "account-agent-invited")
    page.context.clear_cookies()

    page.goto(f"{portal}/sign-in")
    sign_in_in_the_browser(page, email=agent.email)
    page.goto(f"{portal}/account")
    received = page.get_by_role("region", name="Invitations to you")
    expect(received).to_contain_text("invites you to act as their agent")
    audit(page, "account-invitations")
    received.get_by_role("button", name="Accept").click()
    expect(received).to_contain_text("No invitation waits for your answer")
    page.context.clear_cookies()

    page.goto(f"{portal}/sign-in")
    sign_in_in_the_browser(page, email=owner.email)
    page.goto(f"{portal}/account")
    expect(page.get_by_role("table", name="Your agents")).to_contain_text(agent.email)
    audit(page, "account-agents")
