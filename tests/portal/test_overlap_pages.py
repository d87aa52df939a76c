"""Overlap cases in the portal: the owner's asset page says why it cannot be granted and
names the other side by its public handle only; moderators list and decide cases on the
review pages; another holder's asset page is a 404 and holders get 403 on review pages."""

import pytest
from factories import promote, sign_up
from portal_client import portal_sign_in, post_form

MARIO = {
    "kind": "character",
    "name": "Super Mario",
    "aliases": ["Mario"],
    "description": "",
}


def _register(client, user, handle: str) -> dict:
    answer = client.post("/v1/assets", headers=user.headers, json={**MARIO, "handle": handle})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def case(client, holder) -> dict:
    original = _register(client, holder, "super_mario")
    squatter = sign_up(client, email="squatter@example.org")
    copy = _register(client, squatter, "mario_copy")
    [opened] = client.get("/v1/overlaps", headers=squatter.headers).json()["items"]
    return {"id": opened["id"], "squatter": squatter, "copy": copy, "original": original}


@pytest.fixture
def moderator(client, session):
    return promote(session, sign_up(client, email="moderator@example.org"), "moderator")


def test_the_owner_sees_why_the_asset_is_in_review_and_only_the_other_handle(client, holder, case):
    portal_sign_in(client, case["squatter"])
    page = client.get(f"/assets/{case['copy']['id']}")
    assert page.status_code == 200
    assert "In review" in page.text and "@super_mario" in page.text
    assert "cannot be granted" in page.text
    assert holder.email not in page.text and str(holder.id) not in page.text
    # Another holder's asset is not found, as ever.
    assert client.get(f"/assets/{case['original']['id']}").status_code == 404


def test_a_moderator_lists_and_decides_a_case(client, holder, case, moderator):
    portal_sign_in(client, moderator)
    home = client.get("/review")
    assert home.status_code == 200 and "open overlap case" in home.text
    queue = client.get("/review/overlaps")
    assert queue.status_code == 200
    assert f'href="/review/overlaps/{case["id"]}"' in queue.text
    assert "@mario_copy" in queue.text and "@super_mario" in queue.text
    page = client.get(f"/review/overlaps/{case['id']}")
    assert "squatter@example.org" in page.text and holder.email in page.text

    asked_again = post_form(
        client, f"/review/overlaps/{case['id']}/decide", {"decision": ""}, page=page.url.path
    )
    assert asked_again.status_code == 400 and "Choose whether" in asked_again.text
    decided = post_form(
        client,
        f"/review/overlaps/{case['id']}/decide",
        {"decision": "keep_existing", "note": "registered first, with records"},
        page=f"/review/overlaps/{case['id']}",
    )
    assert decided.status_code == 303
    assert decided.headers["location"].endswith("?notice=overlap-existing_kept")
    read = client.get(f"/v1/assets/{case['copy']['id']}", headers=case["squatter"].headers)
    assert read.json()["standing"] == "inactive"
    assert "registered first, with records" in client.get(decided.headers["location"]).text


def test_holders_get_403_on_the_review_pages(client, case):
    portal_sign_in(client, case["squatter"])
    for path in ("/review/overlaps", f"/review/overlaps/{case['id']}"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "@super_mario" not in refused.text
