"""Disputes in the portal: an account opens one by the asset's handle, with a link or a
document (a refused document is shown in the form, what was typed kept; in a real browser too,
audited: axe-core, phone width, nothing from another host), the holder answers on its page, a
stranger gets a 404 page, staff decide it from the queue (never a party: 403)."""

import hashlib
import uuid
from html import unescape

from browser import audit, watched_page
from claiming import moderator
from factories import (
    PASSWORD,
    create_asset,
    promote,
    sign_up,
    unverified_holder_of,
    verify_again,
    verify_email,
)
from live_server import uvicorn_in_thread
from playwright.sync_api import Browser, expect
from portal_client import form_token, portal_sign_in, post_form, refused_page_as_unverified
from sqlmodel import Session

from rights.evidence import MAX_DOCUMENT_BYTES
from rights.models import Asset

STATEMENT = "This character copies the one our studio published in 2015."
LINK = "https://studio.example/published"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def _open(client, handle: str):
    return post_form(
        client,
        "/disputes",
        {"asset_handle": f"@{handle}", "kind": "improper_registration", "statement": STATEMENT},
        page="/disputes",
    )


def test_a_dispute_from_form_to_decision(client, session, holder):
    asset = create_asset(client, holder, kind="character")
    opener = sign_up(client, role="creator")
    portal_sign_in(client, opener)
    refused = post_form(client, "/disputes", {"asset_handle": asset["handle"]}, page="/disputes")
    assert refused.status_code == 400
    opened = _open(client, asset["handle"])
    assert opened.status_code == 303, opened.text
    page_path = opened.headers["location"].split("?")[0]
    assert "Your dispute is open" in client.get(opened.headers["location"]).text

    client.cookies.clear()
    stranger = sign_up(client)
    portal_sign_in(client, stranger)
    assert client.get(page_path).status_code == 404
    token = form_token(client, "/disputes")
    sneaked = client.post(f"{page_path}/message", data={"csrf_token": token, "body": "let me in"})
    assert sneaked.status_code == 404

    client.cookies.clear()
    portal_sign_in(client, holder)
    assert STATEMENT in client.get(page_path).text
    answered = post_form(client, f"{page_path}/answer", {"body": "We drew it."}, page=page_path)
    assert answered.status_code == 303, answered.text

    # The holder made staff still cannot decide it.
    promote(session, holder, "moderator")
    forced = post_form(
        client,
        f"/review{page_path}/decide",
        {"decision": "uphold", "reason": "mine"},
        page=page_path,
    )
    assert forced.status_code == 403 and "party to this dispute" in forced.text

    staff = moderator(client, session)
    client.cookies.clear()
    portal_sign_in(client, staff)
    assert f"@{asset['handle']}" in client.get("/review/disputes").text
    no_choice = post_form(
        client, f"/review{page_path}/decide", {"decision": "", "reason": "x"}, page=page_path
    )
    assert no_choice.status_code == 400
    decided = post_form(
        client,
        f"/review{page_path}/decide",
        {"decision": "uphold", "reason": "The studio's is older."},
        page=page_path,
    )
    assert decided.status_code == 303, decided.text
    assert "Upheld" in client.get(decided.headers["location"]).text
    with Session(client.app.state.engine) as db:
        assert db.get(Asset, uuid.UUID(asset["id"])).standing == "disputed"


def test_an_unverified_address_is_told_to_verify_before_it_opens_or_writes(client, engine, holder):
    asset = create_asset(client, holder, kind="character")
    opener = sign_up(client, role="creator", verified=False)
    portal_sign_in(client, opener)
    refused_page_as_unverified(_open(client, asset["handle"]))
    assert _disputes_of(client, opener) == []
    assert client.get("/v1/notices", headers=holder.headers).json()["items"] == []

    verify_email(client, opener.email)
    opened = _open(client, asset["handle"])
    assert opened.status_code == 303, opened.text
    assert [d["asset_id"] for d in _disputes_of(client, opener)] == [asset["id"]]

    # The holder's address is not verified either: no answer, no message from them.
    client.cookies.clear()
    unverified_holder, theirs = unverified_holder_of(client, engine, name="Unverified Knight")
    portal_sign_in(client, opener)
    against = _open(client, theirs["handle"]).headers["location"].split("?")[0]
    client.cookies.clear()
    portal_sign_in(client, unverified_holder)
    for step in ("answer", "message"):
        refused_page_as_unverified(
            post_form(client, f"{against}/{step}", {"body": "It is ours."}, page=against)
        )
    assert "It is ours." not in client.get(against).text
    verify_again(client, unverified_holder)
    answered = post_form(client, f"{against}/answer", {"body": "It is ours."}, page=against)
    assert answered.status_code == 303, answered.text


def test_the_dispute_queue_is_staff_only(client, holder):
    portal_sign_in(client, holder)
    assert client.get("/review/disputes").status_code == 403


def test_the_form_opens_so_many_disputes_an_hour_and_no_more(settings, holder):
    from fastapi.testclient import TestClient

    from clearhouse.app import create_app

    with TestClient(
        create_app(settings.model_copy(update={"dispute_limit_per_hour": 1}))
    ) as client:
        asset = create_asset(client, holder, kind="character")
        opener = sign_up(client, role="creator")
        portal_sign_in(client, opener)
        assert _open(client, asset["handle"]).status_code == 303
        refused = _open(client, asset["handle"])
        assert refused.status_code == 429
        assert "may open within an hour (1)" in unescape(refused.text)
        assert STATEMENT in unescape(refused.text)  # what was typed is kept
        assert len(_disputes_of(client, opener)) == 1


def _open_with(client, handle: str, document: bytes, *, csrf: bool = True, **fields):
    data = {
        "asset_handle": f"@{handle}",
        "kind": "improper_registration",
        "statement": STATEMENT,
        **fields,
    }
    if csrf:
        data["csrf_token"] = form_token(client, "/disputes")
    files = [("document", ("evidence.pdf", document, "application/pdf"))]
    return client.post("/disputes", data=data, files=files, follow_redirects=False)


def _disputes_of(client, user) -> list[dict]:
    return client.get("/v1/disputes", headers=user.headers).json()["items"]


def test_a_document_sent_with_the_form_is_the_disputes_evidence(client, holder):
    asset = create_asset(client, holder, kind="character")
    opener = sign_up(client, role="creator")
    portal_sign_in(client, opener)

    opened = _open_with(client, asset["handle"], PDF)

    assert opened.status_code == 303, opened.text
    page = client.get(opened.headers["location"]).text
    assert "application/pdf" in page and hashlib.sha256(PDF).hexdigest()[:16] in page
    [dispute] = _disputes_of(client, opener)
    for party in (opener, holder):
        sent = client.get(f"/v1/disputes/{dispute['id']}/document", headers=party.headers)
        assert (sent.status_code, sent.content) == (200, PDF)


def test_a_refused_document_is_shown_in_the_form_with_what_was_typed(client, holder):
    asset = create_asset(client, holder, kind="character")
    opener = sign_up(client, role="creator")
    portal_sign_in(client, opener)
    too_large = b"%PDF-" + b"0" * MAX_DOCUMENT_BYTES

    for document, said in ((GIF, "not a PDF, PNG or JPEG"), (too_large, "at most")):
        refused = _open_with(client, asset["handle"], document, link=LINK)

        assert refused.status_code == 400, refused.text
        page = unescape(refused.text)
        assert said in page and 'id="f-document-error"' in page
        assert STATEMENT in page and f'value="{LINK}"' in page
        assert f'value="@{asset["handle"]}"' in page
        assert 'value="improper_registration" checked' in page
    assert _disputes_of(client, opener) == []


def test_the_form_without_its_csrf_token_opens_nothing(client, holder):
    asset = create_asset(client, holder, kind="character")
    opener = sign_up(client, role="creator")
    portal_sign_in(client, opener)

    forged = _open_with(client, asset["handle"], PDF, csrf=False)

    assert forged.status_code == 403
    assert _disputes_of(client, opener) == []


def test_the_dispute_form_takes_a_document_in_a_browser(
    client, settings, holder, browser: Browser, tmp_path
):
    asset = create_asset(client, holder, kind="character")
    opener = sign_up(client, role="creator")
    (tmp_path / "evidence.gif").write_bytes(GIF)
    (tmp_path / "evidence.pdf").write_bytes(PDF)

    with uvicorn_in_thread(settings) as portal, watched_page(browser) as page:
        page.goto(f"{portal}/sign-in")
        page.get_by_label("Email").fill(opener.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{portal}/disputes")
        audit(page, "disputes-form")
        page.get_by_label("The asset's handle").fill(f"@{asset['handle']}")
        page.get_by_label("Improper registration").check()
        page.get_by_label("In your own words").fill(STATEMENT)
        page.get_by_label("A document").set_input_files(tmp_path / "evidence.gif")
        page.get_by_role("button", name="Open the dispute").click()
        expect(page.locator("#f-document-error")).to_contain_text("PDF, PNG or JPEG")
        expect(page.get_by_label("In your own words")).to_have_value(STATEMENT)
        expect(page.get_by_label("Improper registration")).to_be_checked()
        audit(page, "disputes-form-refused-document")
        page.get_by_label("A document").set_input_files(tmp_path / "evidence.pdf")
        page.get_by_role("button", name="Open the dispute").click()
        expect(page.get_by_role("status")).to_contain_text("Your dispute is open")
        expect(page.get_by_text("application/pdf")).to_be_visible()
        audit(page, "dispute-with-document")

    [dispute] = _disputes_of(client, opener)
    assert dispute["document"]["sha256"] == hashlib.sha256(PDF).hexdigest()
