"""Protections no policy switches off: a minor's likeness is never usable by others, and a
likeness policy always excludes sexual content."""

from datetime import date

import pytest
from factories import create_asset, grant, set_policy, sign_up
from jose import jwt

from clearhouse.db import utcnow

ANYONE_FOR_EVERYTHING = {
    "audience": "anyone",
    "allowed_uses": ["commercial", "advertising", "political"],
}


def _born_years_ago(years: int) -> date:
    today = utcnow().date()
    return today.replace(year=today.year - years, day=min(today.day, 28))


@pytest.fixture
def minor(client):
    return sign_up(client, born=_born_years_ago(13))


def test_a_minor_registers_a_likeness_but_cannot_open_it_to_anyone(client, minor):
    likeness = create_asset(client, minor, kind="likeness")
    refused = client.post(
        f"/v1/assets/{likeness['id']}/policies", headers=minor.headers, json=ANYONE_FOR_EVERYTHING
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/minors-likeness-protected")
    assert "under 18" in problem["detail"]
    # Nothing was stored: the policy in force still admits nobody.
    in_force = client.get(f"/v1/assets/{likeness['id']}/policy", headers=minor.headers).json()
    assert in_force["version"] == 0


def test_a_minor_cannot_list_someone_else_but_may_list_themselves(client, minor, other_holder):
    likeness = create_asset(client, minor, kind="likeness")
    listing_other = {
        "audience": "listed",
        "listed_accounts": [str(other_holder.id), str(minor.id)],
        "allowed_uses": ["personal"],
    }
    refused = client.post(
        f"/v1/assets/{likeness['id']}/policies", headers=minor.headers, json=listing_other
    )
    assert refused.status_code == 403
    only_me = {**listing_other, "listed_accounts": [str(minor.id)]}
    set_policy(client, minor, likeness["id"], only_me)
    assert grant(client, minor, likeness["id"])["grant"]["state"] == "active"


def test_a_grant_of_a_minors_likeness_is_refused_even_on_a_version_stored_before(
    client, minor, session
):
    """A version that admits anyone, stored before the age check existed (written here
    straight to the database), still cannot be granted."""
    import uuid

    from policies.models import PolicyVersion

    likeness = create_asset(client, minor, kind="likeness")
    session.add(
        PolicyVersion(
            asset_id=uuid.UUID(likeness["id"]),
            version=1,
            document=ANYONE_FOR_EVERYTHING,
            revenue_share_bps=8000,
            created_by=minor.id,
        )
    )
    session.commit()
    refused = client.post(f"/v1/assets/{likeness['id']}/grants", headers=minor.headers, json={})
    assert refused.status_code == 403
    assert "under 18" in refused.json()["detail"]
    grants = client.get(f"/v1/assets/{likeness['id']}/grants", headers=minor.headers).json()
    assert grants["total"] == 0


def test_a_minors_character_and_an_adults_likeness_are_not_held_back(client, minor, holder):
    character = create_asset(client, minor, kind="character")
    set_policy(client, minor, character["id"], ANYONE_FOR_EVERYTHING)
    assert grant(client, minor, character["id"])["grant"]["state"] == "active"

    eighteen = sign_up(client, born=_born_years_ago(18))
    likeness = create_asset(client, eighteen, kind="likeness")
    set_policy(client, eighteen, likeness["id"], ANYONE_FOR_EVERYTHING)
    assert grant(client, eighteen, likeness["id"])["grant"]["state"] == "active"


def test_a_likeness_policy_always_excludes_sexual_content(client, holder):
    likeness = create_asset(client, holder, kind="likeness")
    stored = set_policy(
        client, holder, likeness["id"], {**ANYONE_FOR_EVERYTHING, "excluded_content": ["hate"]}
    )
    assert stored["policy"]["excluded_content"] == ["hate", "sexual"]
    in_force = client.get(f"/v1/assets/{likeness['id']}/policy", headers=holder.headers).json()
    assert "sexual" in in_force["policy"]["excluded_content"]
    receipt = grant(client, holder, likeness["id"])["receipt"]["token"]
    assert "sexual" in jwt.get_unverified_claims(receipt)["excludedContent"]

    character = create_asset(client, holder, kind="character")
    as_given = set_policy(client, holder, character["id"], ANYONE_FOR_EVERYTHING)
    assert as_given["policy"]["excluded_content"] == []
