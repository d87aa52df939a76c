"""The holder's audit log page: their assets' entries, newest first and in words, each checked
against its hash; the filter by asset; a signed checkpoint to keep and check; nobody else's."""

import json

import pytest
from factories import create_asset, granted_asset, sign_up
from portal_browsers import browser_of
from portal_client import form_token, portal_sign_in, post_form
from sqlalchemy import text
from sqlmodel import Session


def test_the_holder_reads_their_assets_history_newest_first_in_words(client, holder, other_holder):
    _, given = granted_asset(client, holder, handle="lantern_fox")
    client.post(
        f"/v1/grants/{given['grant']['id']}/revoke", headers=holder.headers, json={"reason": "done"}
    )
    granted_asset(client, other_holder, handle="not_yours", name="Not Yours")
    portal_sign_in(client, holder)

    page = client.get("/audit")

    assert page.status_code == 200
    text_ = page.text
    revoked = text_.index("Withdrew consent (“done”); receipt issued; 0 released clips taken down.")
    consented = text_.index("Consented under policy version 1; receipt issued.")
    policy = text_.index("Set policy version 1.")
    registered = text_.index("Registered the character @lantern_fox.")
    assert revoked < consented < policy < registered  # newest first
    assert text_.count('<span class="check-ok">Intact</span>') == 4
    assert f'href="/receipts/{given["receipt"]["id"]}"' in text_
    assert "not_yours" not in text_


def test_the_filter_shows_one_asset_and_another_holders_asset_is_a_404(
    client, holder, other_holder
):
    first = create_asset(client, holder, handle="first_one")
    create_asset(client, holder, handle="second_one")
    theirs = create_asset(client, other_holder)
    portal_sign_in(client, holder)

    only_first = client.get(f"/audit?asset={first['id']}").text
    assert "Registered the character @first_one." in only_first
    assert "Registered the character @second_one." not in only_first
    assert client.get(f"/audit?asset={theirs['id']}").status_code == 404
    assert browser_of(client, sign_up(client, role="creator")).get("/audit").status_code == 403


def test_an_altered_entry_shows_as_altered(client, engine, holder):
    asset = create_asset(client, holder, handle="tampered")
    with Session(engine) as session:
        if session.bind.dialect.name == "postgresql":
            session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            session.execute(text("DROP TRIGGER audit_entry_no_update"))
        seq, body = session.execute(
            text("SELECT seq, body FROM audit_entry WHERE asset_id = :id"),
            {"id": asset["id"].replace("-", "") if "sqlite" in str(engine.url) else asset["id"]},
        ).one()
        body = json.loads(body) if isinstance(body, str) else body
        body["details"]["handle"] = "forged"
        session.execute(
            text("UPDATE audit_entry SET body = :body WHERE seq = :seq"),
            {"seq": seq, "body": json.dumps(body)},
        )
        session.commit()
    portal_sign_in(client, holder)

    page = client.get("/audit").text

    assert "Registered the character @forged." in page
    assert "Altered: this entry no longer matches its hash" in page


def test_a_checkpoint_downloads_and_checks_out(client, holder):
    create_asset(client, holder, handle="kept_record")
    portal_sign_in(client, holder)

    download = client.get("/audit/checkpoint")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    checked = post_form(
        client,
        "/audit/checkpoint/verify",
        {"token": download.text},
        page="/audit",
        follow_redirects=True,
    )
    assert checked.status_code == 200
    assert "The checkpoint holds" in checked.text

    refused = client.post("/audit/checkpoint/verify", data={"token": download.text})
    assert refused.status_code == 403  # no CSRF token


@pytest.mark.parametrize("path", ["/audit", "/audit/checkpoint"])
def test_signed_out_goes_to_sign_in(client, path):
    assert client.get(path, follow_redirects=False).status_code == 303


def test_another_holders_checkpoint_is_not_checked_against_yours(client, holder, other_holder):
    create_asset(client, holder, handle="mine_only")
    create_asset(client, other_holder, handle="theirs_only")
    portal_sign_in(client, holder)
    mine = client.get("/audit/checkpoint").text
    stranger = browser_of(client, other_holder)
    token = form_token(stranger, "/audit")

    answer = stranger.post("/audit/checkpoint/verify", data={"csrf_token": token, "token": mine})

    assert answer.status_code == 404


def test_a_long_log_comes_in_pages(client, holder):
    for number in range(21):  # one entry each
        create_asset(client, holder, handle=f"paged_{number:02d}")
    portal_sign_in(client, holder)

    first = client.get("/audit").text
    second = client.get("/audit?page=2").text

    assert "Page 1 of 2" in first and 'href="/audit?page=2"' in first
    assert "@paged_20." in first and "@paged_00." not in first  # newest first
    assert "@paged_00." in second and "@paged_20." not in second
