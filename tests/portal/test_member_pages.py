"""The organisation pages and the account page's agents: members invited (joining once they
accept on their account page), re-roled and removed through forms, each change in effect at
once; another organisation's page is a 404 page."""

import uuid

from factories import OPEN_POLICY, create_asset, sign_up
from portal_browsers import browser_of
from portal_client import portal_sign_in, post_form, refused_page_as_unverified


def _accepts(client, invitee):
    """``invitee`` accepts, on their account page, the one invitation waiting for them: their
    browser, and where it was sent."""
    [invitation] = client.get("/v1/invitations", headers=invitee.headers).json()
    theirs = browser_of(client, invitee)
    page = theirs.get("/account").text
    assert invitation["invited_by"] in page and f"/invitations/{invitation['id']}/accept" in page
    answer = post_form(theirs, f"/invitations/{invitation['id']}/accept", {}, page="/account")
    assert answer.status_code == 303, answer.text
    return theirs, answer.headers["location"]


def _organisation(browser) -> str:
    made = post_form(browser, "/organisations", {"name": "Lumen Studio"})
    assert made.status_code == 303, made.text
    return made.headers["location"].rsplit("/", 1)[1]


def test_an_owner_manages_members_on_the_organisation_page(client, holder):
    portal_sign_in(client, holder)
    organisation_id = _organisation(client)
    page = f"/organisations/{organisation_id}"
    manager = sign_up(client)
    added = post_form(
        client, f"{page}/members", {"email": manager.email, "role": "manager"}, page=page
    )
    assert added.status_code == 303, added.text
    shown = client.get(page).text
    assert manager.email in shown and "Invited" in shown
    assert client.get("/v1/organisations", headers=manager.headers).json() == []
    theirs, landed = _accepts(client, manager)
    assert landed == page
    shown = client.get(page).text
    assert manager.email in shown and "Invited" not in shown

    # The manager registers a character for it on the asset form, which offers it.
    form = theirs.get("/assets/new").text
    assert f'<option value="{organisation_id}"' in form
    registered = post_form(
        theirs,
        "/assets/new",
        {
            "kind": "character",
            "handle": "lumen_fox",
            "name": "Lumen Fox",
            "organisation": organisation_id,
        },
    )
    assert registered.status_code == 303, registered.text
    asset_id = registered.headers["location"].split("/")[2].split("?")[0]
    asset = client.get(f"/v1/assets/{asset_id}", headers=holder.headers).json()
    assert asset["owner_id"] == organisation_id
    assert theirs.get(f"/assets/{asset_id}/policy").status_code == 200

    demoted = post_form(client, f"{page}/members/{manager.id}/role", {"role": "viewer"}, page=page)
    assert demoted.status_code == 303
    assert theirs.get(f"/assets/{asset_id}/policy").status_code == 404
    assert theirs.get(f"/assets/{asset_id}").status_code == 200
    removed = post_form(client, f"{page}/members/{manager.id}/remove", {}, page=page)
    assert removed.status_code == 303
    assert theirs.get(f"/assets/{asset_id}").status_code == 404
    assert theirs.get(page).status_code == 404


def test_the_last_owner_cannot_leave_and_the_page_says_why(client, holder):
    portal_sign_in(client, holder)
    organisation_id = _organisation(client)
    page = f"/organisations/{organisation_id}"
    refused = post_form(client, f"{page}/members/{holder.id}/remove", {}, page=page)
    assert refused.status_code == 409
    assert "no owner left" in refused.text


def test_another_organisation_is_a_not_found_page_and_a_viewer_changes_nothing(
    client, holder, other_holder
):
    portal_sign_in(client, holder)
    organisation_id = _organisation(client)
    page = f"/organisations/{organisation_id}"
    viewer = sign_up(client)
    post_form(client, f"{page}/members", {"email": viewer.email, "role": "viewer"}, page=page)
    theirs, _ = _accepts(client, viewer)

    stranger = browser_of(client, other_holder)
    assert stranger.get(page).status_code == 404
    # With the stranger's own token, from a page they may open.
    refused = post_form(
        stranger,
        f"{page}/members",
        {"email": other_holder.email, "role": "owner"},
        page="/organisations",
    )
    assert refused.status_code == 404

    shown = theirs.get(page)
    assert shown.status_code == 200 and "Add a member" not in shown.text
    refused = post_form(
        theirs, f"{page}/members", {"email": other_holder.email, "role": "owner"}, page=page
    )
    assert refused.status_code == 403
    assert other_holder.email not in client.get(page).text


def test_a_person_authorises_and_removes_an_agent(client, holder, other_holder):
    likeness = create_asset(client, holder, kind="likeness")
    agent = sign_up(client)
    portal_sign_in(client, holder)
    added = post_form(client, "/account/agents", {"email": agent.email}, page="/account")
    assert added.status_code == 303, added.text
    assert agent.email in client.get("/account").text
    _, landed = _accepts(client, agent)
    assert landed == "/account"
    policy = f"/v1/assets/{likeness['id']}/policies"
    assert client.post(policy, headers=agent.headers, json=OPEN_POLICY).status_code == 201

    # Nobody else removes her agent.
    stranger = browser_of(client, other_holder)
    refused = post_form(stranger, f"/account/agents/{agent.id}/remove", {}, page="/account")
    assert refused.status_code == 404
    removed = post_form(client, f"/account/agents/{agent.id}/remove", {}, page="/account")
    assert removed.status_code == 303
    assert client.post(policy, headers=agent.headers, json=OPEN_POLICY).status_code == 404
    assert agent.email not in client.get("/account").text


def test_an_address_with_no_account_is_invited_like_any_other(client, holder):
    """The form says nothing of who has an account: an unknown address is invited, and listed
    as invited, like a known one."""
    portal_sign_in(client, holder)
    unknown = f"{uuid.uuid4().hex}@example.org"
    answer = post_form(client, "/account/agents", {"email": unknown}, page="/account")
    assert answer.status_code == 303, answer.text
    assert unknown in client.get("/account").text


def test_the_invitee_declines_and_an_unverified_address_sees_nothing(client, holder):
    portal_sign_in(client, holder)
    organisation_id = _organisation(client)
    page = f"/organisations/{organisation_id}"
    invitee = sign_up(client)
    post_form(client, f"{page}/members", {"email": invitee.email, "role": "viewer"}, page=page)
    [invitation] = client.get("/v1/invitations", headers=invitee.headers).json()
    theirs = browser_of(client, invitee)
    declined = post_form(theirs, f"/invitations/{invitation['id']}/decline", {}, page="/account")
    assert declined.status_code == 303, declined.text
    assert "No invitation waits for your answer" in theirs.get("/account").text
    assert theirs.get(page).status_code == 404
    assert invitee.email not in client.get(page).text

    squatter = sign_up(client, verified=False)
    post_form(client, f"{page}/members", {"email": squatter.email, "role": "owner"}, page=page)
    [sent] = [
        view
        for view in client.get("/v1/invitations/sent", headers=holder.headers).json()
        if view["email"] == squatter.email
    ]
    unverified = browser_of(client, squatter)
    assert "Verify your email address to see the invitations" in unverified.get("/account").text
    refused_page_as_unverified(
        post_form(unverified, f"/invitations/{sent['id']}/accept", {}, page="/account")
    )
