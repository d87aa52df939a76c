"""One character, one owner: a character registered (or edited) into overlap with another
holder's is held in review as an overlap case, cannot be granted or licensed, and moderators
decide who holds it. Through the API, with the real sentence model and folding."""

import uuid

import pytest
from clearing import clear, licensed
from drawn_characters import draw_character, png_bytes
from factories import promote, set_policy, sign_up
from organising import add, character_of, organisation
from sqlmodel import select

from audit.models import AuditEntry

MARIO = {
    "kind": "character",
    "name": "Super Mario",
    "aliases": ["Mario", "Jumpman"],
    "description": "A mustachioed Italian plumber in a red cap and blue overalls who stomps "
    "on turtles and eats mushrooms to grow",
}
COMMERCIAL = {
    "audience": "anyone",
    "allowed_uses": ["personal", "commercial"],
    "price": {"currency": "USD", "per_use_minor": 150, "per_second_minor": 5},
}


def _register(client, user, handle: str, **fields) -> dict:
    response = client.post(
        "/v1/assets", headers=user.headers, json={**MARIO, "handle": handle, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _cases(client, user, **params) -> list[dict]:
    answer = client.get("/v1/overlaps", headers=user.headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def _decide(client, moderator, case_id: str, decision: str):
    return client.post(
        f"/v1/overlaps/{case_id}/decide",
        headers=moderator.headers,
        json={"decision": decision, "note": "checked the registration records"},
    )


def _cleared(client, prompt: str) -> dict:
    answer = clear(client, sign_up(client, role="creator"), prompt)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _touched(cleared: dict) -> set[str]:
    return {asset["asset_id"] for asset in cleared["assets"]}


@pytest.fixture
def moderator(client, session):
    return promote(session, sign_up(client), "moderator")


def test_the_squatter_scenario_ends_in_an_overlap_case_and_the_squatter_cannot_grant(
    client, holder
):
    original = _register(client, holder, "super_mario")
    licensed(client, holder, original["id"], COMMERCIAL)
    squatter = sign_up(client)
    copy = _register(client, squatter, "the_real_mario")
    assert copy["standing"] == "in_review"
    set_policy(client, squatter, copy["id"], COMMERCIAL)  # a policy may be set ...
    refused = client.post(f"/v1/assets/{copy['id']}/grants", headers=squatter.headers, json={})
    assert refused.status_code == 409  # ... but never granted
    problem = refused.json()
    assert problem["type"].endswith("asset-not-active")
    assert "moderators are reviewing it" in problem["detail"]

    # Clearance matches the earlier holder's character only: the squatter neither licenses
    # nor earns, nor blocks it.
    cleared = _cleared(client, "Super Mario jumping over a pipe")
    assert cleared["outcome"] == "cleared"
    assert _touched(cleared) == {original["id"]}

    # Each owner sees their own side and the other asset's public handle, nothing more.
    [mine] = _cases(client, squatter)
    assert (mine["your_part"], mine["status"], mine["other_handle"]) == (
        "claimant",
        "open",
        "super_mario",
    )
    assert mine["your_asset_id"] == copy["id"]
    assert mine["evidence"] is None and mine["existing_asset_id"] is None
    assert str(holder.id) not in str(mine)
    assert "cannot be granted, licensed or earn" in mine["explanation"]
    [theirs] = _cases(client, holder)
    assert (theirs["your_part"], theirs["other_handle"]) == ("existing_owner", "the_real_mario")
    assert str(squatter.id) not in str(theirs)
    bystander = sign_up(client)
    assert client.get(f"/v1/overlaps/{mine['id']}", headers=bystander.headers).status_code == 404


def test_a_disguised_name_or_alias_overlaps_after_folding(client, holder, other_holder):
    _register(client, holder, "super_mario")
    by_alias = _register(
        client,
        other_holder,
        "plumber_two",
        name="Luigi's Brother",
        aliases=["JUMP-MAN"],
        description="",
    )
    by_name = _register(
        client, other_holder, "plumber_three", name="Sup3r-M4rio", aliases=[], description=""
    )
    assert by_alias["standing"] == by_name["standing"] == "in_review"
    kinds = {c["your_asset_id"]: c["overlaps_by"] for c in _cases(client, other_holder)}
    assert kinds == {by_alias["id"]: ["alias"], by_name["id"]: ["name"]}


def test_a_description_the_matcher_takes_for_theirs_overlaps(client, holder, other_holder):
    _register(client, holder, "super_mario")
    described = _register(
        client,
        other_holder,
        "red_cap_hero",
        name="Red Cap Hero",
        aliases=[],
        description=MARIO["description"],
    )
    assert described["standing"] == "in_review"
    assert [c["overlaps_by"] for c in _cases(client, other_holder)] == [["description"]]


def test_a_different_character_and_the_owners_own_second_asset_stay_active(
    client, holder, other_holder
):
    _register(client, holder, "super_mario")
    again = _register(client, holder, "mario_again")  # the same holder's: no dispute
    other = _register(
        client,
        other_holder,
        "nova_knight",
        name="Nova Knight",
        aliases=["The Knight"],
        description="An armoured knight in silver plate who guards a lighthouse at night",
    )
    assert again["standing"] == other["standing"] == "active"
    licensed(client, other_holder, other["id"], COMMERCIAL)
    assert _cases(client, other_holder) == []


def test_editing_into_overlap_opens_a_case(client, holder, other_holder):
    _register(client, holder, "super_mario")
    mine = _register(
        client, other_holder, "nova_knight", name="Nova Knight", aliases=[], description=""
    )
    licensed(client, other_holder, mine["id"], COMMERCIAL)
    changed = client.patch(
        f"/v1/assets/{mine['id']}", headers=other_holder.headers, json={"aliases": ["Mario"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["standing"] == "in_review"
    # Its grant stands on record but licenses nothing while in review.
    cleared = _cleared(client, "Nova Knight on a hill")
    assert mine["id"] not in _touched(cleared)


def test_a_matching_reference_picture_overlaps(client, holder, other_holder):
    picture = png_bytes(draw_character(7))
    original = _register(client, holder, "super_mario")
    mine = _register(
        client, other_holder, "nova_knight", name="Nova Knight", aliases=[], description=""
    )
    for owner, asset in ((holder, original), (other_holder, mine)):
        uploaded = client.post(
            f"/v1/assets/{asset['id']}/references",
            headers=owner.headers,
            files=[("files", ("reference.png", picture, "image/png"))],
        )
        assert uploaded.status_code == 201, uploaded.text
    assert (
        client.get(f"/v1/assets/{mine['id']}", headers=other_holder.headers).json()["standing"]
        == "in_review"
    )
    assert [c["overlaps_by"] for c in _cases(client, other_holder)] == [["reference_image"]]


def test_moderators_keep_the_earlier_owner(client, holder, other_holder, moderator, session):
    original = _register(client, holder, "super_mario")
    copy = _register(client, other_holder, "the_real_mario")
    [case] = _cases(client, moderator, status="open")
    assert case["your_part"] == "moderator"
    assert case["evidence"] and case["claimant_asset_id"] == copy["id"]
    assert _decide(client, other_holder, case["id"], "uphold_claimant").status_code == 403

    decided = _decide(client, moderator, case["id"], "keep_existing")
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "existing_kept"
    assert _decide(client, moderator, case["id"], "uphold_claimant").status_code == 409
    shown = client.get(f"/v1/assets/{copy['id']}", headers=other_holder.headers).json()
    assert shown["standing"] == "inactive"
    set_policy(client, other_holder, copy["id"], COMMERCIAL)
    refused = client.post(f"/v1/assets/{copy['id']}/grants", headers=other_holder.headers, json={})
    assert refused.status_code == 409
    assert "belongs to another holder" in refused.json()["detail"]
    assert (
        client.get(f"/v1/assets/{original['id']}", headers=holder.headers).json()["standing"]
        == "active"
    )
    actions = session.exec(
        select(AuditEntry.action).where(AuditEntry.asset_id == uuid.UUID(copy["id"]))
    ).all()
    assert "overlap.opened" in actions and "overlap.existing_kept" in actions
    # Each holder heard of the case opening and its decision, about their own asset only.
    for who, asset in ((holder, original), (other_holder, copy)):
        notices = client.get("/v1/notices", headers=who.headers).json()["items"]
        told = sorted(n["kind"] for n in notices if n["kind"].startswith("overlap."))
        assert told == ["overlap.decided", "overlap.opened"], notices
        assert {n["facts"]["asset_id"] for n in notices if n["kind"].startswith("overlap.")} == {
            asset["id"]
        }


def test_a_moderator_in_an_organisation_holding_either_asset_does_not_decide(
    client, holder, other_holder, moderator
):
    """An organisation's asset is its members': a moderator among them (any role) is a party
    to its overlap case, as to its claim or a dispute about it."""
    studio = organisation(client, holder)
    add(client, holder, studio, moderator, "viewer")
    character_of(client, holder, studio, name=MARIO["name"])
    _register(client, other_holder, "the_real_mario")
    [case] = _cases(client, moderator, status="open")

    inside = _decide(client, moderator, case["id"], "keep_existing")
    assert inside.status_code == 409, inside.text
    assert inside.json()["type"].endswith("party-to-overlap-case")
    assert [c["id"] for c in _cases(client, moderator, status="open")] == [case["id"]]


def test_upholding_the_newer_holder_transfers_the_character(
    client, holder, other_holder, moderator, session
):
    original = _register(client, holder, "super_mario")
    licensed(client, holder, original["id"], COMMERCIAL)
    rightful = _register(client, other_holder, "mario_official")
    [case] = _cases(client, moderator)

    decided = _decide(client, moderator, case["id"], "uphold_claimant")
    assert decided.status_code == 200, decided.text
    assert (
        client.get(f"/v1/assets/{rightful['id']}", headers=other_holder.headers).json()["standing"]
        == "active"
    )
    assert (
        client.get(f"/v1/assets/{original['id']}", headers=holder.headers).json()["standing"]
        == "inactive"
    )
    # The earlier holder's grant was withdrawn as a revocation is: state and receipt.
    grants = client.get(f"/v1/assets/{original['id']}/grants", headers=holder.headers).json()
    assert [g["state"] for g in grants["items"]] == ["revoked"]
    assert "overlap case" in grants["items"][0]["revocation_reason"]
    [theirs] = _cases(client, holder)
    assert "yours is inactive" in theirs["explanation"]

    licensed(client, other_holder, rightful["id"], COMMERCIAL)
    cleared = _cleared(client, "Super Mario jumping over a pipe")
    assert cleared["outcome"] == "cleared"
    assert _touched(cleared) == {rightful["id"]}
    actions = session.exec(
        select(AuditEntry.action).where(AuditEntry.asset_id == uuid.UUID(original["id"]))
    ).all()
    assert "asset.deactivated" in actions and "grant.revoked" in actions
