"""A holder's asset pages: the list, registering, the asset's page, editing, deleting and
reference pictures; and that nobody else reaches any of them."""

import re

import pytest
from drawn_characters import draw_character, png_bytes
from factories import create_asset, granted_asset, sign_up, verify_email
from fastapi.testclient import TestClient
from portal_client import form_token, portal_sign_in, post_form, refused_page_as_unverified

REGISTRATION = {
    "kind": "character",
    "name": "Captain Comet",
    "handle": "@captain_comet",
    "aliases": "The Comet\nCapitaine Comète",
    "description": "A 1950s spaceman in a fishbowl helmet who flies with a rocket pack.",
    "keywords": "fishbowl helmet\nrocket pack",
    "example_prompts": "a retro spaceman with a bubble helmet saving a moon base",
}


def _api_assets(client: TestClient, user) -> list[dict]:
    listed = client.get("/v1/assets", headers=user.headers)
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


def test_a_holder_registers_a_character_through_the_pages_and_the_api_lists_it(
    client: TestClient, holder
) -> None:
    portal_sign_in(client, holder)
    answer = post_form(client, "/assets/new", REGISTRATION)
    assert answer.status_code == 303, answer.text
    (asset,) = _api_assets(client, holder)
    assert answer.headers["location"] == f"/assets/{asset['id']}?notice=asset-registered"
    assert asset["kind"] == "character"
    assert asset["handle"] == "captain_comet"
    assert asset["aliases"] == ["The Comet", "Capitaine Comète"]
    assert asset["keywords"] == ["fishbowl helmet", "rocket pack"]

    page = client.get(f"/assets/{asset['id']}")
    assert page.status_code == 200
    assert "<h1>Captain Comet</h1>" in page.text
    assert "Nobody may use it" in page.text
    assert f'href="/uses?asset={asset["id"]}"' in page.text

    listing = client.get("/assets")
    assert f'href="/assets/{asset["id"]}"' in listing.text
    assert "None: nobody may use it" in listing.text  # no active grant yet


def test_registration_problems_show_beside_their_fields_and_nothing_is_registered(
    client: TestClient, holder
) -> None:
    portal_sign_in(client, holder)
    answer = post_form(
        client, "/assets/new", {**REGISTRATION, "handle": "x", "keywords": "ok\n" + "k" * 61}
    )
    assert answer.status_code == 400
    assert 'id="f-handle-error"' in answer.text
    assert 'id="f-keywords-error"' in answer.text
    assert "Line 2" in answer.text
    assert "Captain Comet" in answer.text  # what was typed stays
    assert _api_assets(client, holder) == []


def test_an_unverified_holder_is_told_to_verify_before_registering_and_nothing_is_kept(
    client: TestClient,
) -> None:
    unverified = sign_up(client, verified=False)
    portal_sign_in(client, unverified)
    refused_page_as_unverified(client.get("/assets/new"))
    refused_page_as_unverified(post_form(client, "/assets/new", REGISTRATION, page="/assets"))
    assert _api_assets(client, unverified) == []

    verify_email(client, unverified.email)
    assert post_form(client, "/assets/new", REGISTRATION).status_code == 303
    assert [asset["handle"] for asset in _api_assets(client, unverified)] == ["captain_comet"]


def test_a_handle_in_use_is_refused_beside_the_handle(client: TestClient, holder) -> None:
    create_asset(client, sign_up(client), handle="captain_comet")
    portal_sign_in(client, holder)
    answer = post_form(client, "/assets/new", REGISTRATION)
    assert answer.status_code == 409
    assert 'id="f-handle-error"' in answer.text
    assert _api_assets(client, holder) == []


def test_the_list_filters_by_kind_counts_active_grants_and_says_what_to_do_when_empty(
    client: TestClient, holder
) -> None:
    portal_sign_in(client, holder)
    empty = client.get("/assets")
    assert "Nothing registered yet" in empty.text
    assert 'href="/assets/new"' in empty.text

    granted, _ = granted_asset(client, holder)
    style = create_asset(client, holder, kind="style")
    listing = client.get("/assets")
    row = re.search(rf'href="/assets/{granted["id"]}".*?</tr>', listing.text, re.S).group(0)
    assert "<td>1</td>" in row
    styles = client.get("/assets?kind=style")
    assert f'/assets/{style["id"]}"' in styles.text
    assert f'/assets/{granted["id"]}"' not in styles.text


def test_the_list_pages_through_many_assets(client: TestClient, holder) -> None:
    made = [create_asset(client, holder)["id"] for _ in range(21)]
    portal_sign_in(client, holder)
    first, second = client.get("/assets"), client.get("/assets?page=2")
    assert "Page 1 of 2" in first.text
    assert f"/assets/{made[0]}" in first.text and f"/assets/{made[20]}" not in first.text
    assert f"/assets/{made[20]}" in second.text


def test_editing_changes_the_asset_the_api_shows(client: TestClient, holder) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    form = client.get(f"/assets/{asset['id']}/edit")
    assert 'value="Captain Test"' in form.text
    answer = post_form(
        client,
        f"/assets/{asset['id']}/edit",
        {**REGISTRATION, "name": "Captain Renamed", "handle": asset["handle"]},
    )
    assert answer.status_code == 303
    shown = client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()
    assert shown["name"] == "Captain Renamed"
    assert shown["example_prompts"] == [REGISTRATION["example_prompts"]]


def test_deleting_asks_first_then_withdraws_consent_and_removes_the_asset(
    client: TestClient, holder
) -> None:
    asset, given = granted_asset(client, holder)
    portal_sign_in(client, holder)
    confirm = client.get(f"/assets/{asset['id']}/delete")
    assert "cannot be undone" in confirm.text
    assert "1 active grant is withdrawn" in confirm.text
    answer = post_form(
        client, f"/assets/{asset['id']}/delete", {}, page=f"/assets/{asset['id']}/delete"
    )
    assert answer.status_code == 303
    assert client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).status_code == 404
    grant = client.get(f"/v1/grants/{given['grant']['id']}", headers=holder.headers).json()
    assert grant["state"] == "revoked"


def _upload(client: TestClient, asset_id: str, *files: tuple[str, bytes, str]):
    token = form_token(client, f"/assets/{asset_id}")
    return client.post(
        f"/assets/{asset_id}/references",
        data={"csrf_token": token},
        files=[("files", file) for file in files],
        follow_redirects=False,
    )


def test_reference_pictures_upload_through_the_page_as_through_the_api(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    answer = _upload(
        client,
        asset["id"],
        ("front.png", png_bytes(draw_character(7)), "image/png"),
        ("side.png", png_bytes(draw_character(8)), "image/png"),
    )
    assert answer.status_code == 303, answer.text
    listed = client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json()
    assert len(listed) == 2
    page = client.get(f"/assets/{asset['id']}")
    assert "Picture 2" in page.text

    removed = post_form(
        client,
        f"/assets/{asset['id']}/references/{listed[0]['id']}/delete",
        {},
        page=f"/assets/{asset['id']}",
    )
    assert removed.status_code == 303
    listed = client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json()
    assert len(listed) == 1


def test_a_file_that_is_no_picture_is_refused_by_name_and_nothing_is_added(
    client: TestClient, holder
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    answer = _upload(
        client,
        asset["id"],
        ("good.png", png_bytes(draw_character(7)), "image/png"),
        ("notes.txt", b"these are my notes, not a picture", "text/plain"),
    )
    assert answer.status_code == 400
    assert "Nothing was added" in answer.text
    assert "notes.txt:" in answer.text
    assert "good.png:" not in answer.text
    assert client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json() == []


def test_an_upload_without_the_csrf_token_is_refused(client: TestClient, holder) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    answer = client.post(
        f"/assets/{asset['id']}/references",
        files=[("files", ("a.png", png_bytes(draw_character(7)), "image/png"))],
    )
    assert answer.status_code == 403
    assert client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json() == []


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/assets/new", REGISTRATION),
        ("/assets/{id}/edit", {**REGISTRATION, "name": "Stolen"}),
        ("/assets/{id}/delete", {}),
    ],
)
def test_a_form_without_its_csrf_token_is_refused_and_nothing_changes(
    client: TestClient, holder, path: str, data: dict
) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    answer = client.post(path.format(id=asset["id"]), data=data, follow_redirects=False)
    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert _api_assets(client, holder) == [
        client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()
    ]
    assert _api_assets(client, holder)[0]["name"] == "Captain Test"


def _owner_urls(client: TestClient, owner) -> tuple[dict, list[str], list[tuple[str, dict]]]:
    asset = create_asset(client, owner)
    uploaded = client.post(
        f"/v1/assets/{asset['id']}/references",
        headers=owner.headers,
        files=[("files", ("a.png", png_bytes(draw_character(5)), "image/png"))],
    )
    (reference,) = uploaded.json()
    base = f"/assets/{asset['id']}"
    pages = [base, f"{base}/edit", f"{base}/delete", f"{base}/policy"]
    forms = [
        (f"{base}/edit", {**REGISTRATION, "name": "Stolen"}),
        (f"{base}/delete", {}),
        (f"{base}/references/{reference['id']}/delete", {}),
        (f"{base}/policy", {"audience": "nobody"}),
        (f"{base}/policy/preview", {"audience": "nobody", "sample_use": "personal"}),
    ]
    return asset, pages, forms


def test_another_holder_gets_a_404_page_on_every_url_and_changes_nothing(
    client: TestClient, holder, other_holder
) -> None:
    asset, pages, forms = _owner_urls(client, holder)
    portal_sign_in(client, other_holder)
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Captain Test" not in answer.text
    token = form_token(client, "/assets/new")
    for path, data in forms:
        answer = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code == 404, path
    uploaded = client.post(
        f"/assets/{asset['id']}/references",
        data={"csrf_token": token},
        files=[("files", ("b.png", png_bytes(draw_character(6)), "image/png"))],
    )
    assert uploaded.status_code == 404
    shown = client.get(f"/v1/assets/{asset['id']}", headers=holder.headers).json()
    assert shown["name"] == "Captain Test"
    references = client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers)
    assert len(references.json()) == 1
    assert (
        client.get(f"/v1/assets/{asset['id']}/policy", headers=holder.headers).json()["version"]
        == 0
    )


def test_a_creator_gets_a_403_page(client: TestClient, holder) -> None:
    _, pages, _ = _owner_urls(client, holder)
    creator = sign_up(client, role="creator")
    portal_sign_in(client, creator)
    for path in ["/assets", "/assets/new", *pages]:
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "for rights holders" in answer.text


def test_more_pictures_than_one_upload_takes_are_refused(client: TestClient, holder) -> None:
    asset = create_asset(client, holder)
    portal_sign_in(client, holder)
    pictures = [(f"{n}.png", png_bytes(draw_character(n)), "image/png") for n in range(6)]
    answer = _upload(client, asset["id"], *pictures)
    assert answer.status_code == 400
    assert "at most 5 pictures" in answer.text
    assert client.get(f"/v1/assets/{asset['id']}/references", headers=holder.headers).json() == []


def test_removing_a_picture_without_the_csrf_token_is_refused(client: TestClient, holder) -> None:
    _, pages, forms = _owner_urls(client, holder)
    remove = next(path for path, _ in forms if "/references/" in path)
    portal_sign_in(client, holder)
    answer = client.post(remove, data={}, follow_redirects=False)
    assert answer.status_code == 403
    asset_id = pages[0].rsplit("/", 1)[1]
    references = client.get(f"/v1/assets/{asset_id}/references", headers=holder.headers)
    assert len(references.json()) == 1
