"""The holder's audit log page: their assets' entries, newest first and in words, each checked
against its hash; the filter by asset; a signed checkpoint to keep and check; nobody else's."""

import json

import pytest
from factories import create_asset, granted_asset, set_policy, sign_up
from inviting import name_agent
from organising import add, organisation
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


def _studio(client, owner):
    """``owner``'s organisation, a viewer in it, and a character a manager registered for it."""
    organisation_id = organisation(client, owner, name="Lumen Studio")
    manager, viewer = sign_up(client), sign_up(client)
    add(client, owner, organisation_id, manager, "manager")
    add(client, owner, organisation_id, viewer, "viewer")
    made = client.post(
        "/v1/assets",
        headers=manager.headers,
        json={"kind": "character", "handle": "lumen_knight", "name": "Lumen Knight"}
        | {"organisation_id": organisation_id},
    )
    assert made.status_code == 201, made.text
    return organisation_id, manager, viewer, made.json()


def test_a_member_reads_the_organisations_log_in_words(client, holder):
    organisation_id, manager, viewer, asset = _studio(client, holder)
    names = {
        user.id: client.get("/v1/accounts/me", headers=user.headers).json()["display_name"]
        for user in (holder, manager)
    }
    reader = browser_of(client, viewer)

    page = reader.get(f"/organisations/{organisation_id}/audit")

    assert page.status_code == 200
    text_ = page.text
    registered = text_.index("Registered the character @lumen_knight.")
    added_you = text_.index("Added you as viewer.")
    added_manager = text_.index(f"Added {names[manager.id]} as manager.")
    created = text_.index("Created the organisation Lumen Studio.")
    assert registered < added_you < added_manager < created  # newest first
    assert f"· {names[manager.id]} · @lumen_knight" in text_  # who registered it, by name
    assert text_.count('<span class="check-ok">Intact</span>') == 4
    assert (
        f'href="/organisations/{organisation_id}/audit"'
        in reader.get(f"/organisations/{organisation_id}").text
    )
    # The asset's own log, from the holder's audit page's filter, is theirs to read too.
    one = reader.get(f"/audit?asset={asset['id']}").text
    assert "Registered the character @lumen_knight." in one
    assert "Added you" not in one


def test_the_organisations_log_is_a_404_page_for_anyone_else_and_at_once(
    client, holder, other_holder
):
    organisation_id, _, viewer, asset = _studio(client, holder)
    reader = browser_of(client, viewer)
    for path in (f"/organisations/{organisation_id}/audit", f"/audit?asset={asset['id']}"):
        assert browser_of(client, other_holder).get(path).status_code == 404
        assert reader.get(path).status_code == 200
    removed = client.delete(
        f"/v1/organisations/{organisation_id}/members/{viewer.id}", headers=holder.headers
    )
    assert removed.status_code == 204
    for path in (f"/organisations/{organisation_id}/audit", f"/audit?asset={asset['id']}"):
        assert reader.get(path).status_code == 404


def test_the_persons_log_shows_their_agents_coming_and_going(client, holder):
    likeness = create_asset(client, holder, kind="likeness", handle="own_face")
    agent = sign_up(client)
    name_agent(client, holder, agent)
    set_policy(client, agent, likeness["id"])
    client.delete(f"/v1/accounts/me/agents/{agent.id}", headers=holder.headers)
    name = client.get("/v1/accounts/me", headers=agent.headers).json()["display_name"]
    portal_sign_in(client, holder)

    for path in ("/audit", f"/audit?asset={likeness['id']}"):
        text_ = client.get(path).text
        removed = text_.index(f"Removed {name} as an agent.")
        priced = text_.index(f"{name} · @own_face")
        authorised = text_.index(f"Authorised {name} as an agent")
        assert removed < priced < authorised, path
