"""Disputes in the portal: an account opens one by the asset's handle, the holder answers on
its page, a stranger gets a 404 page, staff decide it from the queue (never a party: 403)."""

import uuid

from claiming import moderator
from factories import create_asset, promote, sign_up
from portal_client import form_token, portal_sign_in, post_form
from sqlmodel import Session

from rights.models import Asset

STATEMENT = "This character copies the one our studio published in 2015."


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


def test_the_dispute_queue_is_staff_only(client, holder):
    portal_sign_in(client, holder)
    assert client.get("/review/disputes").status_code == 403
