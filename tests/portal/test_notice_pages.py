"""The inbox, the email preference and the webhook pages: one's own notices with the unread
count in the menu, marked read; endpoints made with their secret shown once, their delivery
log, a replay, disabling and enabling, rotating; and another account's all a 404 page."""

import re

from noticing import tell
from portal_browsers import browser_of
from portal_client import form_token, portal_sign_in, post_form

from notifications.kinds import NoticeKind

PUBLIC_URL = "https://93.184.216.34/hooks"  # a public address: no name to resolve offline


def test_the_inbox_shows_ones_notices_and_the_menu_counts_the_unread(client, holder, engine):
    tell(engine, holder.id, NoticeKind.use_released, handle="nova_knight", fee_minor=150)
    second = tell(engine, holder.id, NoticeKind.use_blocked, handle="nova_knight")
    portal_sign_in(client, holder)

    page = client.get("/notices")
    assert page.status_code == 200
    assert NoticeKind.use_released.summary in page.text
    assert "handle: nova_knight; fee minor: 150" in page.text
    assert '2<span class="visually-hidden"> unread</span>' in page.text

    assert post_form(client, f"/notices/{second.id}/read", {}, page="/notices").status_code == 303
    page = client.get("/dashboard")
    assert '1<span class="visually-hidden"> unread</span>' in page.text
    assert NoticeKind.use_blocked.summary not in client.get("/notices?unread=1").text
    post_form(client, "/notices/read", {}, page="/notices")
    assert "unread</span>" not in client.get("/notices").text


def test_the_email_preference_is_saved(client, holder):
    portal_sign_in(client, holder)
    assert 'value="daily" checked' in client.get("/notices/preferences").text
    saved = post_form(client, "/notices/preferences", {"email_digest": "immediate"})
    assert saved.status_code == 303
    assert 'value="immediate" checked' in client.get(saved.headers["location"]).text
    api = client.get("/v1/notices/preferences", headers=holder.headers).json()
    assert api["email_digest"] == "immediate"


def test_an_endpoint_is_made_with_its_secret_shown_once_and_managed(client, holder, engine):
    portal_sign_in(client, holder)
    refused = post_form(client, "/webhooks", {"url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 400 and "inside a private network" in refused.text

    made = post_form(client, "/webhooks", {"url": PUBLIC_URL, "kinds": ["use.released"]})
    assert made.status_code == 200
    secret = re.search(r'value="(whsec_[^"]+)"', made.text).group(1)
    [endpoint] = client.get("/v1/webhooks/endpoints", headers=holder.headers).json()["items"]
    assert endpoint["kinds"] == ["use.released"]
    page_path = f"/webhooks/{endpoint['id']}"
    assert secret not in client.get(page_path).text
    assert secret not in client.get("/webhooks").text

    tell(engine, holder.id, NoticeKind.use_released, handle="nova_knight")
    page = client.get(page_path)
    assert "use.released" in page.text and "Pending" in page.text
    [delivery] = client.get(
        f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=holder.headers
    ).json()["items"]
    replayed = post_form(
        client, f"{page_path}/deliveries/{delivery['id']}/replay", {}, page=page_path
    )
    assert replayed.status_code == 303

    disabled = post_form(client, f"{page_path}/enabled", {"enabled": "false"}, page=page_path)
    assert disabled.headers["location"].endswith("notice=endpoint-disabled")
    assert "Disabled by its owner" in client.get(page_path).text
    post_form(client, f"{page_path}/enabled", {"enabled": "true"}, page=page_path)
    assert ">Enabled<" in client.get(page_path).text

    assert 'name="overlap_hours"' in client.get(page_path).text
    rotated = post_form(client, f"{page_path}/secret", {"overlap_hours": "6"}, page=page_path)
    new_secret = re.search(r'value="(whsec_[^"]+)"', rotated.text).group(1)
    assert new_secret != secret
    assert "The old one signs beside it until" in rotated.text
    assert "Signs beside the current one until" in client.get(page_path).text
    stopped = post_form(client, f"{page_path}/secret", {"overlap_hours": "0"}, page=page_path)
    assert "the old one no longer signs" in stopped.text
    assert "Signs beside the current one" not in client.get(page_path).text

    deleted = post_form(client, f"{page_path}/delete", {}, page=page_path)
    assert deleted.headers["location"] == "/webhooks?notice=endpoint-deleted"
    assert client.get(page_path).status_code == 404


def test_another_accounts_inbox_and_endpoints_are_404_pages(client, holder, other_holder, engine):
    portal_sign_in(client, holder)
    post_form(client, "/webhooks", {"url": PUBLIC_URL})
    notice = tell(engine, holder.id, NoticeKind.use_released, handle="guarded_hero")
    [endpoint] = client.get("/v1/webhooks/endpoints", headers=holder.headers).json()["items"]
    [delivery] = client.get(
        f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=holder.headers
    ).json()["items"]

    stranger = browser_of(client, other_holder)
    token = form_token(stranger, "/webhooks")
    assert "guarded_hero" not in stranger.get("/notices").text
    assert PUBLIC_URL not in stranger.get("/webhooks").text
    base = f"/webhooks/{endpoint['id']}"
    assert stranger.get(base).status_code == 404
    for path, data in (
        (f"/notices/{notice.id}/read", {}),
        (f"{base}/enabled", {"enabled": "false"}),
        (f"{base}/secret", {}),
        (f"{base}/delete", {}),
        (f"{base}/deliveries/{delivery['id']}/replay", {}),
    ):
        refused = stranger.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert refused.status_code == 404, path
    read = client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=holder.headers).json()
    assert read["enabled"] is True
    assert client.get("/v1/notices/unread", headers=holder.headers).json() == {"unread": 1}
