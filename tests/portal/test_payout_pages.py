"""The payouts page: the holder's connected account and their own payouts; onboarding on
Stripe (the local Connect fake) from a form with its CSRF token; the pages Stripe sends the
holder back to; with Stripe off, a page that says so and stores nothing."""

import time
from collections.abc import Iterator
from html import unescape

import pytest
from factories import sign_up
from fastapi.testclient import TestClient
from organising import add, organisation
from paying import earn, stripe_on
from portal_client import form_token, portal_sign_in, post_form
from sqlmodel import Session, select
from stripe_connect_fake import ConnectFake

from clearhouse.app import create_app
from clearhouse.db import utcnow
from clearhouse.settings import Settings
from payouts.account_events import account_updated
from payouts.onboarding import REFRESH_PATH, RETURN_PATH
from payouts.payout_models import PayoutAccount
from payouts.runs import run_payouts
from payouts.statements import Period

SET_UP = "Set up payouts with Stripe"


@pytest.fixture
def paying_client(settings: Settings, fake: ConnectFake) -> Iterator[TestClient]:
    with TestClient(create_app(stripe_on(settings, fake))) as client:
        yield client


def _stored_accounts(client: TestClient) -> list[PayoutAccount]:
    with Session(client.app.state.engine) as session:
        return list(session.exec(select(PayoutAccount)).all())


def _page(client: TestClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return unescape(answer.text)


def _onboard(client: TestClient) -> str:
    """Press the page's button; where the browser is sent."""
    answer = post_form(client, "/payouts/onboarding", {}, page="/payouts")
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_onboarding_sends_the_holder_to_stripe_and_stores_one_account(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder = sign_up(paying_client)
    portal_sign_in(paying_client, holder)
    page = _page(paying_client, "/payouts")
    assert SET_UP in page and 'action="/payouts/onboarding"' in page
    assert '<a href="/payouts" aria-current="page">Payouts</a>' in page  # in the menu

    first = _onboard(paying_client)

    assert first.startswith(f"{fake.base_url}/connect/setup/acct_")
    [stored] = _stored_accounts(paying_client)
    assert stored.holder_id == holder.id and list(fake.accounts) == [stored.stripe_account_id]
    [link] = fake.account_links
    assert link["account"] == stored.stripe_account_id
    assert link["return_url"].endswith(RETURN_PATH)
    assert link["refresh_url"].endswith(REFRESH_PATH)
    # Back on the page: the account, not finished; pressing again goes on with the same one.
    page = _page(paying_client, "/payouts")
    assert stored.stripe_account_id in page and "Not finished" in page
    assert "Continue setting up with Stripe" in page and SET_UP not in page
    second = _onboard(paying_client)
    assert second != first and second.startswith(f"{fake.base_url}/connect/setup/")
    assert len(fake.accounts) == 1 and len(_stored_accounts(paying_client)) == 1


def test_the_return_page_shows_the_account_as_stripe_sees_it_now(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder = sign_up(paying_client)
    portal_sign_in(paying_client, holder)
    _onboard(paying_client)
    [stored] = _stored_accounts(paying_client)

    back = _page(paying_client, RETURN_PATH)
    assert "<h1>Back from Stripe</h1>" in back
    assert "Not finished" in back and "Stripe still needs some of your details" in back

    fake.accounts[stored.stripe_account_id].update(details_submitted=True, payouts_enabled=True)
    back = _page(paying_client, RETURN_PATH)
    assert "Submitted" in back and "Enabled" in back and "You are all set" in back
    assert 'action="/payouts/onboarding"' not in back  # nothing left to set up


def test_an_expired_link_is_replaced_at_once_or_the_button_is_offered(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder = sign_up(paying_client)
    portal_sign_in(paying_client, holder)

    # No account yet: a GET makes none; the page offers the button.
    page = _page(paying_client, REFRESH_PATH)
    assert "had expired" in page and SET_UP in page
    assert fake.accounts == {} and _stored_accounts(paying_client) == []

    _onboard(paying_client)
    renewed = paying_client.get(REFRESH_PATH, follow_redirects=False)

    assert renewed.status_code == 303
    assert renewed.headers["location"].startswith(f"{fake.base_url}/connect/setup/")
    assert len(fake.account_links) == 2 and len(fake.accounts) == 1
    assert fake.account_links[1]["account"] == fake.account_links[0]["account"]


def test_a_form_without_its_csrf_token_is_refused_and_nothing_changes(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder = sign_up(paying_client)
    portal_sign_in(paying_client, holder)
    token = form_token(paying_client, "/payouts")
    # The real token with its last digit changed (setting it to a fixed one left it unchanged
    # whenever it ended so: one run in 256).
    tampered = token[:-1] + ("1" if token[-1] == "0" else "0")

    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": tampered}):
        refused = paying_client.post("/payouts/onboarding", data=data, follow_redirects=False)
        assert refused.status_code == 403, data
        assert "This form has expired" in refused.text

    assert fake.accounts == {} and fake.account_links == []
    assert _stored_accounts(paying_client) == []


def test_a_holder_sees_their_own_payouts_and_nobody_else_s(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder, other = sign_up(paying_client), sign_up(paying_client)
    for person in (holder, other):
        paying_client.cookies.clear()
        portal_sign_in(paying_client, person)
        _onboard(paying_client)
    earn(paying_client.app.state.engine, holder.id, 2_400)
    period = str(Period.containing(utcnow()).previous())  # a run is for a month that ended
    app = paying_client.app
    report = run_payouts(app.state.engine, settings=app.state.settings, period=period)
    [payout_id] = report.paid
    [transfer] = fake.transfers.values()

    paying_client.cookies.clear()
    portal_sign_in(paying_client, holder)
    mine = _page(paying_client, "/payouts")
    row = mine[mine.index(f'href="/statements?period={period}"') :].split("</tr>")[0]
    assert "USD 24.00" in row and "paid" in row and transfer["id"] in row

    paying_client.cookies.clear()
    portal_sign_in(paying_client, other)
    theirs = _page(paying_client, "/payouts")
    assert "No payouts yet" in theirs
    assert "USD 24.00" not in theirs and transfer["id"] not in theirs
    assert str(payout_id) not in theirs
    assert paying_client.get("/v1/payouts").status_code == 401  # the API ignores the cookie


def test_with_stripe_off_the_page_says_so_and_onboarding_stores_nothing(
    client: TestClient,
) -> None:
    holder = sign_up(client)
    portal_sign_in(client, holder)

    page = _page(client, "/payouts")
    assert "Payouts are off on this platform" in page
    assert "Your earnings are still recorded" in page
    assert SET_UP not in page and 'action="/payouts/onboarding"' not in page

    # A form sent anyway (with this browser's token) is refused by the service: nothing stored.
    refused = client.post(
        "/payouts/onboarding",
        data={"csrf_token": form_token(client, "/payouts")},
        follow_redirects=False,
    )
    assert refused.status_code == 503
    assert "Stripe is off on this server" in refused.text and "nothing was" in refused.text
    assert _stored_accounts(client) == []
    expired = _page(client, REFRESH_PATH)
    assert "Payouts are off on this platform" in expired and SET_UP not in expired
    assert "Payouts are off on this platform" in _page(client, RETURN_PATH)


def test_a_creator_gets_a_forbidden_page_and_a_stranger_is_sent_to_sign_in(
    client: TestClient,
) -> None:
    for path in ("/payouts", RETURN_PATH, REFRESH_PATH):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    creator = sign_up(client, role="creator")
    portal_sign_in(client, creator)
    for path in ("/payouts", RETURN_PATH, REFRESH_PATH):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "These pages are for rights holders" in answer.text
    refused = client.post(
        "/payouts/onboarding",
        data={"csrf_token": form_token(client, "/dashboard")},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and _stored_accounts(client) == []


def _account_updated(engine, account_id: str, *, created: int, **state: object) -> None:
    """Stripe's account.updated, applied as the webhook applies it (its signature and storage
    are tested in tests/payouts/test_payout_api.py)."""
    event = {
        "id": f"evt_{created}",
        "type": "account.updated",
        "created": created,
        "data": {"object": {"id": account_id, "object": "account", **state}},
    }
    with Session(engine) as session:
        account_updated(session, event, utcnow())
        session.commit()


def test_the_page_shows_the_state_stripes_last_account_event_gave(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    holder = sign_up(paying_client)
    portal_sign_in(paying_client, holder)
    _onboard(paying_client)
    [stored] = _stored_accounts(paying_client)
    engine = paying_client.app.state.engine
    now = int(time.time())
    _account_updated(
        engine,
        stored.stripe_account_id,
        created=now,
        details_submitted=True,
        payouts_enabled=False,
        requirements={
            "currently_due": ["external_account"],
            "disabled_reason": "requirements.past_due",
        },
    )
    page = _page(paying_client, "/payouts")
    assert "Stripe still needs" in page and "external_account" in page
    assert "requirements.past_due" in page and "payout runs skip you" in page

    # Stripe's newer word (the fake itself still says not enabled: the page shows the event's).
    _account_updated(
        engine,
        stored.stripe_account_id,
        created=now + 1,
        details_submitted=True,
        payouts_enabled=True,
    )
    assert fake.accounts[stored.stripe_account_id]["payouts_enabled"] is False
    page = _page(paying_client, "/payouts")
    assert "You are all set" in page and "external_account" not in page


def test_an_organisations_payouts_page_lets_only_its_owners_set_it_up(
    paying_client: TestClient, fake: ConnectFake
) -> None:
    owner, viewer, stranger = (sign_up(paying_client) for _ in range(3))
    studio = organisation(paying_client, owner, name="Nova Studio")
    add(paying_client, owner, studio, viewer, "viewer")
    path = f"/payouts?organisation_id={studio}"

    portal_sign_in(paying_client, owner)
    page = _page(paying_client, path)
    assert "Payouts: Nova Studio" in page and SET_UP in page
    answer = post_form(
        paying_client, f"/payouts/onboarding?organisation_id={studio}", {}, page=path
    )
    assert answer.status_code == 303, answer.text
    [stored] = _stored_accounts(paying_client)
    assert str(stored.holder_id) == studio
    assert fake.account_links[-1]["return_url"].endswith(f"{RETURN_PATH}?organisation_id={studio}")
    assert "Its payout account" in _page(paying_client, f"{RETURN_PATH}?organisation_id={studio}")

    paying_client.cookies.clear()
    portal_sign_in(paying_client, viewer)
    page = _page(paying_client, path)
    assert stored.stripe_account_id in page and "your role lets you see its payouts" in page
    assert "/payouts/onboarding" not in page  # no button for a viewer
    refused = post_form(
        paying_client, f"/payouts/onboarding?organisation_id={studio}", {}, page=path
    )
    assert refused.status_code == 403

    statements = _page(paying_client, f"/statements?organisation_id={studio}")
    assert ": Nova Studio</h1>" in statements and "its assets" in statements

    paying_client.cookies.clear()
    portal_sign_in(paying_client, stranger)
    assert paying_client.get(path).status_code == 404
    assert paying_client.get(f"/statements?organisation_id={studio}").status_code == 404
