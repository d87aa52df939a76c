"""Licence offers in a real browser: the holder offers a licence from a blocked use on the
uses page, the creator accepts it on the offers page and the output is released; both pages
audited (axe-core, phone width, nothing from another host). Another holder's use and another
creator's offer are not theirs to answer."""

import pytest
from browser import audit, watched_page
from claiming import verified
from factories import PASSWORD, made_before_verification, sign_up, verify_again
from generating import job
from live_server import uvicorn_in_thread
from offering import blocked_generation
from playwright.sync_api import Browser, Page, expect
from portal_browsers import browser_of
from portal_client import post_form, refused_page_as_unverified

from generator.models import JobState
from generator.pipeline import ClipPipeline, load_configured_pipeline


@pytest.fixture(scope="module")
def clip_pipeline(tmp_path_factory: pytest.TempPathFactory) -> ClipPipeline:
    from clearhouse.settings import Settings

    return load_configured_pipeline(Settings(data_dir=tmp_path_factory.mktemp("offer-pages")))


def sign_in(page: Page, portal: str, email: str) -> None:
    page.goto(f"{portal}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_holder_offers_a_licence_and_the_creator_accepts_it(
    client, engine, session, settings, holder, clip_pipeline, browser: Browser
):
    creator = sign_up(client, role="creator")
    blocked = blocked_generation(client, holder, creator, clip_pipeline)
    verified(client, session, holder, blocked["character"]["id"])

    with uvicorn_in_thread(settings) as portal, watched_page(browser) as page:
        page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of portal.js
        sign_in(page, portal, holder.email)
        page.goto(f"{portal}/uses?state=blocked")
        audit(page, "uses-blocked-output")
        page.get_by_role("button", name="Offer a licence").click()
        expect(page.get_by_role("status")).to_contain_text("Your licence offer was sent")
        expect(page.get_by_text("waiting for the creator")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()

        sign_in(page, portal, creator.email)
        page.goto(f"{portal}/offers")
        expect(page.get_by_text("Waiting for you")).to_be_visible()
        audit(page, "offers")
        page.get_by_role("button", name="Accept").click()
        expect(page.get_by_role("status")).to_contain_text("You accepted the licence")
        expect(page.get_by_text("released", exact=True)).to_be_visible()
        audit(page, "offers-accepted")

    assert job(engine, blocked["generation_id"]).state == JobState.released


def test_nobody_offers_for_or_answers_anothers(client, holder, clip_pipeline, session):
    creator = sign_up(client, role="creator")
    blocked = blocked_generation(client, holder, creator, clip_pipeline)
    stranger, other_creator = sign_up(client), sign_up(client, role="creator")
    offered = post_form(
        browser_of(client, stranger),
        f"/uses/{blocked['use']['use_id']}/licence-offer",
        {},
        page="/uses",
    )
    assert offered.status_code == 404
    made = client.post(
        f"/v1/uses/{blocked['use']['use_id']}/licence-offer", headers=holder.headers
    ).json()
    answered = post_form(
        browser_of(client, other_creator), f"/offers/{made['id']}/accept", {}, page="/offers"
    )
    assert answered.status_code == 404
    assert "Waiting for you" not in browser_of(client, other_creator).get("/offers").text
    assert job(client.app.state.engine, blocked["generation_id"]).state == JobState.blocked


def test_an_unverified_address_is_told_to_verify_before_offering_or_accepting(
    client, holder, clip_pipeline
):
    engine = client.app.state.engine
    creator = sign_up(client, role="creator")
    blocked = blocked_generation(client, holder, creator, clip_pipeline)
    made_before_verification(engine, holder)
    offer_path = f"/uses/{blocked['use']['use_id']}/licence-offer"
    refused_page_as_unverified(post_form(browser_of(client, holder), offer_path, {}, page="/uses"))
    assert client.get("/v1/licence-offers/made", headers=holder.headers).json()["items"] == []

    verify_again(client, holder)
    offered = post_form(browser_of(client, holder), offer_path, {}, page="/uses")
    assert offered.status_code == 303, offered.text
    [made] = client.get("/v1/licence-offers/made", headers=holder.headers).json()["items"]
    made_before_verification(engine, creator)
    accept_path = f"/offers/{made['id']}/accept"
    refused_page_as_unverified(
        post_form(browser_of(client, creator), accept_path, {}, page="/offers")
    )
    assert job(engine, blocked["generation_id"]).state == JobState.blocked

    verify_again(client, creator)
    accepted = post_form(browser_of(client, creator), accept_path, {}, page="/offers")
    assert accepted.status_code == 303, accepted.text
    assert job(engine, blocked["generation_id"]).state == JobState.released
