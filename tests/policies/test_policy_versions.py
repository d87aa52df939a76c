"""Policy versions through the API: each change is a new version; old ones stay readable."""

from factories import OPEN_POLICY, create_asset, grant, set_policy, sign_up


def test_an_asset_without_a_policy_admits_nobody(client, holder):
    asset = create_asset(client, holder)
    policy = client.get(f"/v1/assets/{asset['id']}/policy", headers=holder.headers).json()
    assert policy["version"] == 0
    assert policy["policy"]["audience"] == "nobody"


def test_each_change_is_a_new_version_and_old_ones_stay(client, holder):
    asset = create_asset(client, holder)
    first = set_policy(client, holder, asset["id"])
    second = set_policy(client, holder, asset["id"], {**OPEN_POLICY, "allowed_uses": ["news"]})
    assert (first["version"], second["version"]) == (1, 2)
    assert second["revenue_share_bps"] == 8000

    in_force = client.get(f"/v1/assets/{asset['id']}/policy", headers=holder.headers).json()
    assert in_force["version"] == 2
    assert in_force["policy"]["allowed_uses"] == ["news"]
    old = client.get(f"/v1/assets/{asset['id']}/policies/1", headers=holder.headers).json()
    assert old["policy"]["allowed_uses"] == ["parody", "personal"]
    listed = client.get(f"/v1/assets/{asset['id']}/policies", headers=holder.headers).json()
    assert [v["version"] for v in listed["items"]] == [2, 1]


def test_existing_grants_keep_their_version(client, holder):
    asset = create_asset(client, holder)
    set_policy(client, holder, asset["id"])
    created = grant(client, holder, asset["id"])
    set_policy(client, holder, asset["id"], {"audience": "nobody"})
    read = client.get(f"/v1/grants/{created['grant']['id']}", headers=holder.headers).json()
    assert read["policy_version"] == 1
    assert read["state"] == "active"


def test_listed_accounts_must_exist(client, holder):
    asset = create_asset(client, holder)
    creator = sign_up(client, role="creator")
    ok = client.post(
        f"/v1/assets/{asset['id']}/policies",
        headers=holder.headers,
        json={
            "audience": "listed",
            "allowed_uses": ["personal"],
            "listed_accounts": [str(creator.id)],
        },
    )
    assert ok.status_code == 201
    ghost = "7d3c7a3e-0000-4000-8000-000000000000"
    refused = client.post(
        f"/v1/assets/{asset['id']}/policies",
        headers=holder.headers,
        json={
            "audience": "listed",
            "allowed_uses": ["personal"],
            "listed_accounts": [ghost],
        },
    )
    assert refused.status_code == 400
    assert ghost in refused.json()["detail"]


def test_a_past_expiry_is_refused_and_an_expired_grant_reads_expired(client, holder, session):
    asset = create_asset(client, holder)
    past = client.post(
        f"/v1/assets/{asset['id']}/policies",
        headers=holder.headers,
        json={**OPEN_POLICY, "expires_at": "2001-01-01T00:00:00Z"},
    )
    assert past.status_code == 400
    assert "past" in past.json()["detail"]

    from sqlmodel import select

    from policies.models import PolicyVersion

    set_policy(client, holder, asset["id"], {**OPEN_POLICY, "expires_at": "2099-01-01T00:00:00Z"})
    created = grant(client, holder, asset["id"])
    version = session.exec(select(PolicyVersion)).one()
    version.document = {**version.document, "expires_at": "2001-01-01T00:00:00Z"}
    session.add(version)
    session.commit()
    read = client.get(f"/v1/grants/{created['grant']['id']}", headers=holder.headers).json()
    assert read["state"] == "expired"


def test_malformed_policies_get_problem_details_listing_each_field(client, holder):
    asset = create_asset(client, holder)
    response = client.post(
        f"/v1/assets/{asset['id']}/policies",
        headers=holder.headers,
        json={"audience": "everyone", "price": {"per_use_minor": -5}},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/malformed-body")
    locations = {tuple(error["location"]) for error in problem["errors"]}
    assert ("body", "audience") in locations
    assert ("body", "price", "per_use_minor") in locations


def test_a_version_past_what_the_database_holds_is_a_problem_not_a_500(client, holder):
    """Versions are 32-bit integers in the database: 2**31 is refused as input, not sent to
    PostgreSQL (which fails on it); 2**31 - 1 is looked up and not found."""
    asset = create_asset(client, holder)
    set_policy(client, holder, asset["id"])
    for version, status in ((2**31 - 1, 404), (2**31, 422)):
        granted = client.post(
            f"/v1/assets/{asset['id']}/grants",
            headers=holder.headers,
            json={"policy_version": version},
        )
        assert granted.status_code == status, granted.text
    for version, status in ((2**31 - 1, 404), (2**31, 404)):
        read = client.get(f"/v1/assets/{asset['id']}/policies/{version}", headers=holder.headers)
        assert read.status_code == status, read.text
        assert read.headers["content-type"] == "application/problem+json"
