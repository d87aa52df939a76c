"""Agents: a person's agent manages their likeness's prices, policies and approvals, never
their consent; the person removes the agent and the agent's next request is refused."""

import pytest
from clearing import decision
from factories import FACE_POLICY, OPEN_POLICY, consented_likeness, create_asset, sign_up
from inviting import name_agent

REPRICED = {**FACE_POLICY, "price": {"currency": "USD", "per_use_minor": 900}}
WIDER = {**FACE_POLICY, "allowed_uses": ["personal", "parody", "commercial"]}


@pytest.fixture
def face(client, holder):
    """The holder's likeness, consented to under the open policy, and an agent for it."""
    likeness = consented_likeness(client, holder)
    agent = sign_up(client)
    name_agent(client, holder, agent)
    return likeness, agent


def test_an_agent_changes_a_price_but_never_grants_a_likeness(client, holder, face):
    likeness, agent = face
    asset = f"/v1/assets/{likeness['id']}"
    repriced = client.post(f"{asset}/policies", headers=agent.headers, json=REPRICED)
    assert repriced.status_code == 201, repriced.text
    regranted = client.post(f"{asset}/grants", headers=agent.headers, json={})
    assert regranted.status_code == 201, regranted.text
    # The new price is what a requester is quoted now.
    requester = sign_up(client)
    cleared = decision(client, requester, f"@{likeness['handle']} waving hello")
    assert cleared["outcome"] == "cleared", cleared
    fees = [line for line in cleared["quote"]["lines"] if line["asset_id"] == likeness["id"]]
    assert [line["unit_price_minor"] for line in fees if line["unit"] == "use"] == [900], fees

    # A version that lets the face be used for more is stored, but only the person grants it.
    wider = client.post(f"{asset}/policies", headers=agent.headers, json=WIDER)
    assert wider.status_code == 201
    refused = client.post(f"{asset}/grants", headers=agent.headers, json={})
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("consent-is-the-holders")
    assert "ask the holder to grant it themselves" in refused.json()["detail"]
    commercial = decision(
        client, requester, f"@{likeness['handle']} waving hello", use="commercial"
    )
    assert commercial["outcome"] == "denied"
    confirmed = client.post(f"{asset}/grants", headers=holder.headers, json={})
    assert confirmed.status_code == 201, confirmed.text


def test_an_agent_with_no_consent_to_work_within_grants_nothing(client, holder):
    likeness = create_asset(client, holder, kind="likeness")
    agent = sign_up(client)
    name_agent(client, holder, agent)
    asset = f"/v1/assets/{likeness['id']}"
    assert (
        client.post(f"{asset}/policies", headers=agent.headers, json=OPEN_POLICY).status_code == 201
    )
    refused = client.post(f"{asset}/grants", headers=agent.headers, json={})
    assert refused.status_code == 403, refused.text


def test_the_person_removes_the_agent_and_the_next_request_is_refused(client, holder, face):
    likeness, agent = face
    asset = f"/v1/assets/{likeness['id']}"
    assert client.get(asset, headers=agent.headers).status_code == 200
    agents = client.get("/v1/accounts/me/agents", headers=holder.headers).json()
    assert [a["agent_id"] for a in agents] == [str(agent.id)]
    removed = client.delete(f"/v1/accounts/me/agents/{agent.id}", headers=holder.headers)
    assert removed.status_code == 204, removed.text
    for method, url, body in (
        ("GET", asset, None),
        ("POST", f"{asset}/policies", REPRICED),
        ("POST", f"{asset}/grants", {}),
    ):
        answer = client.request(method, url, headers=agent.headers, json=body)
        assert answer.status_code == 404, (method, url, answer.text)
    assert client.get("/v1/assets", headers=agent.headers).json()["total"] == 0


def test_an_agent_reaches_only_the_persons_likenesses(client, holder, face):
    _, agent = face
    character = create_asset(client, holder)
    for method, url, body in (
        ("GET", f"/v1/assets/{character['id']}", None),
        ("POST", f"/v1/assets/{character['id']}/policies", OPEN_POLICY),
        ("PATCH", f"/v1/assets/{face[0]['id']}", {"name": "Renamed"}),
        ("DELETE", f"/v1/assets/{face[0]['id']}", None),
        ("POST", f"/v1/assets/{face[0]['id']}/revoke", {}),
    ):
        answer = client.request(method, url, headers=agent.headers, json=body)
        assert answer.status_code == 404, (method, url, answer.text)


def test_an_agent_reads_the_likeness_receipts_and_no_other(client, holder, face):
    likeness, agent = face
    regranted = client.post(f"/v1/assets/{likeness['id']}/grants", headers=holder.headers, json={})
    receipt = regranted.json()["receipt"]["id"]
    read = client.get(f"/v1/receipts/{receipt}", headers=agent.headers)
    assert read.status_code == 200, read.text
    character = create_asset(client, holder)
    client.post(f"/v1/assets/{character['id']}/policies", headers=holder.headers, json=OPEN_POLICY)
    granted = client.post(f"/v1/assets/{character['id']}/grants", headers=holder.headers, json={})
    other = granted.json()["receipt"]["id"]
    assert client.get(f"/v1/receipts/{other}", headers=agent.headers).status_code == 404


def test_nobody_removes_an_agent_of_someone_else(client, holder, other_holder, face):
    _, agent = face
    answer = client.delete(f"/v1/accounts/me/agents/{agent.id}", headers=other_holder.headers)
    assert answer.status_code == 404
    assert len(client.get("/v1/accounts/me/agents", headers=holder.headers).json()) == 1
