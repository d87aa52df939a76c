"""Claims in the portal: the owner sees where their asset's claim stands and sends evidence
(with a document) from its page; staff find it in the review queue, open the document and
verify or reject it; the statements page shows what is held. Another holder's asset is a 404
page, and the staff pages a 403 page to everyone else."""

from html import unescape

import pytest
from claiming import moderator
from factories import create_asset, promote, sign_up
from portal_client import form_token, portal_sign_in, post_form
from stating import licensed_asset, release

from clearhouse.db import utcnow
from clearhouse.portal.pages import money
from payouts.statements import Period

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
STATEMENT = "I drew this character in 2019 and own its copyright."


def _send_evidence(client, asset_id: str, document: bytes | None = PDF, **fields):
    token = form_token(client, f"/assets/{asset_id}")
    data = {"csrf_token": token, "evidence_kind": "document", "statement": STATEMENT, **fields}
    files = [("document", ("proof.pdf", document or b"", "application/pdf"))]
    return client.post(f"/assets/{asset_id}/claim", data=data, files=files, follow_redirects=False)


@pytest.fixture
def asset(client, holder) -> dict:
    return create_asset(client, holder, kind="character")


def test_the_owner_sends_a_document_and_staff_verify_it_from_the_queue(
    client, session, holder, asset
):
    portal_sign_in(client, holder)
    page = client.get(f"/assets/{asset['id']}")
    assert "You have not sent evidence yet" in page.text
    sent = _send_evidence(client, asset["id"])
    assert sent.status_code == 303, sent.text
    page = client.get(sent.headers["location"])
    assert "waits for staff" in page.text and "the document you sent" in page.text

    staff = moderator(client, session)
    client.cookies.clear()
    portal_sign_in(client, staff)
    assert '1</span><span class="label">pending claim' in client.get("/review").text
    queue = client.get("/review/claims")
    assert f"@{asset['handle']}" in queue.text
    claim_id = client.get("/v1/claims", headers=staff.headers).json()["items"][0]["id"]
    document = client.get(f"/review/claims/{claim_id}/document")
    assert (document.status_code, document.content) == (200, PDF)
    decided = post_form(
        client,
        f"/review/claims/{claim_id}/decide",
        {"decision": "verify", "reason": "The certificate matches."},
        page=f"/review/claims/{claim_id}",
    )
    assert decided.status_code == 303, decided.text
    assert "Claim verified" in client.get(decided.headers["location"]).text
    read = client.get(f"/v1/assets/{asset['id']}/claim", headers=holder.headers).json()
    assert read["standing"] == "verified"


def test_refused_evidence_is_shown_on_the_asset_page_and_nothing_is_kept(client, holder, asset):
    portal_sign_in(client, holder)
    short = _send_evidence(client, asset["id"], statement="mine")
    assert short.status_code == 400 and "at least 20 characters" in short.text
    not_a_document = _send_evidence(client, asset["id"], document=b"GIF89a not allowed")
    assert not_a_document.status_code == 400 and "PDF, PNG or JPEG" in not_a_document.text
    no_document = _send_evidence(client, asset["id"], document=None)
    assert no_document.status_code == 400
    read = client.get(f"/v1/assets/{asset['id']}/claim", headers=holder.headers).json()
    assert read["claim"] is None


def test_a_rejection_with_no_reason_is_refused_then_recorded_with_one(
    client, session, holder, asset
):
    portal_sign_in(client, holder)
    assert _send_evidence(client, asset["id"]).status_code == 303
    staff = moderator(client, session)
    client.cookies.clear()
    portal_sign_in(client, staff)
    claim_id = client.get("/v1/claims", headers=staff.headers).json()["items"][0]["id"]
    page = f"/review/claims/{claim_id}"
    refused = post_form(client, f"{page}/decide", {"decision": "reject", "reason": ""}, page=page)
    assert refused.status_code == 400
    rejected = post_form(
        client, f"{page}/decide", {"decision": "reject", "reason": "Not theirs."}, page=page
    )
    assert rejected.status_code == 303
    read = client.get(f"/v1/assets/{asset['id']}/claim", headers=holder.headers).json()
    assert (read["standing"], read["claim"]["decision_reason"]) == ("rejected", "Not theirs.")


def test_another_holder_gets_a_404_page_and_sends_nothing(client, holder, other_holder, asset):
    portal_sign_in(client, other_holder)
    assert client.get(f"/assets/{asset['id']}").status_code == 404
    token = form_token(client, "/assets/new")
    answer = client.post(
        f"/assets/{asset['id']}/claim",
        data={"csrf_token": token, "evidence_kind": "document", "statement": STATEMENT},
        files=[("document", ("proof.pdf", PDF, "application/pdf"))],
        follow_redirects=False,
    )
    assert answer.status_code == 404
    read = client.get(f"/v1/assets/{asset['id']}/claim", headers=holder.headers).json()
    assert read["claim"] is None


def test_the_claim_pages_are_staff_only(client, session, holder, asset):
    portal_sign_in(client, holder)
    assert _send_evidence(client, asset["id"]).status_code == 303
    claim_id = client.get("/v1/claims", headers=moderator(client, session).headers).json()["items"][
        0
    ]["id"]
    for user in (holder, sign_up(client, role="creator")):
        client.cookies.clear()
        portal_sign_in(client, user)
        for path in (
            "/review/claims",
            f"/review/claims/{claim_id}",
            f"/review/claims/{claim_id}/document",
        ):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert STATEMENT not in answer.text


def test_an_admin_cannot_decide_their_own_claim_on_the_page(client, session, holder, asset):
    portal_sign_in(client, holder)
    assert _send_evidence(client, asset["id"]).status_code == 303
    promote(session, holder, "admin")
    claim_id = client.get("/v1/claims", headers=holder.headers).json()["items"][0]["id"]
    page = client.get(f"/review/claims/{claim_id}")
    assert "another member of staff must decide it" in page.text
    token = form_token(client, "/review/claims")  # no decision form: the queue's token
    answer = client.post(
        f"/review/claims/{claim_id}/decide",
        data={"csrf_token": token, "decision": "verify", "reason": "mine"},
    )
    assert answer.status_code == 409
    read = client.get(f"/v1/assets/{asset['id']}/claim", headers=holder.headers).json()
    assert read["standing"] == "pending"


def test_statements_show_what_is_held_apart_from_the_balance(client, engine, holder):
    creator = sign_up(client, role="creator")
    terms = licensed_asset(client, engine, holder, per_use_minor=500, claim_verified=False)
    release(engine, creator.id, terms, at=utcnow())
    held = 500 * terms.revenue_share_bps // 10_000
    month = Period.containing(utcnow())
    (statement,) = client.get(
        "/v1/statements", headers=holder.headers, params={"period": str(month)}
    ).json()["statements"]
    assert (statement["closing_minor"], statement["held_minor"]) == (0, held)
    portal_sign_in(client, holder)
    page = unescape(client.get("/statements").text)
    assert "Held until your claims are verified" in page and money(held, "USD") in page
    csv_rows = client.get(f"/statements/{month}.csv?currency=USD").text.splitlines()
    assert csv_rows[-1].startswith("held,") and f",{held}," in csv_rows[-1]
