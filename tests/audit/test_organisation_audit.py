"""The audit log beyond one's own assets: an organisation's log (its changes and its assets'
events) for its members in every role, an organisation-held asset's log for them too, and a
person's agent changes in their likenesses' logs. Anyone else gets a 404, a removed member at
once; the chain still verifies, and the column the logs read is checked against the body."""

import json
import uuid

import pytest
from alembic import command
from factories import FACE_POLICY, consented_likeness, create_asset, promote, sign_up
from inviting import name_agent
from organising import add, character_of, organisation
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from audit.service import verify_chain
from clearhouse.db import snapshot_session
from clearhouse.migrations import alembic_config

REPRICED = {**FACE_POLICY, "price": {"currency": "USD", "per_use_minor": 900}}


def _log(client, user, path, **params) -> dict:
    answer = client.get(path, headers=user.headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def studio(client, holder):
    """``holder``'s organisation with a manager and a viewer; the manager registers a
    character for it and sets its policy; the holder re-roles the viewer and back."""
    organisation_id = organisation(client, holder)
    manager, viewer = sign_up(client), sign_up(client)
    add(client, holder, organisation_id, manager, "manager")
    add(client, holder, organisation_id, viewer, "viewer")
    asset = character_of(client, manager, organisation_id)
    policy = client.post(
        f"/v1/assets/{asset['id']}/policies", headers=manager.headers, json=FACE_POLICY
    )
    assert policy.status_code == 201, policy.text
    members = f"/v1/organisations/{organisation_id}/members/{viewer.id}"
    for role in ("manager", "viewer"):
        changed = client.patch(members, headers=holder.headers, json={"role": role})
        assert changed.status_code == 200, changed.text
    return organisation_id, manager, viewer, asset


def test_every_member_reads_the_organisations_log_oldest_first(client, holder, studio):
    organisation_id, manager, viewer, asset = studio
    for member in (holder, manager, viewer):
        log = _log(client, member, f"/v1/organisations/{organisation_id}/audit")
        actions = [entry["action"] for entry in log["items"]]
        assert actions == [
            "organisation.created",
            "organisation.member_added",
            "organisation.member_added",
            "asset.created",
            "policy.version_created",
            "organisation.role_changed",
            "organisation.role_changed",
        ]
        assert log["total"] == 7
    items = log["items"]
    assert [e["body"]["actor_id"] for e in items[:3]] == [str(holder.id)] * 3
    assert items[1]["body"]["details"] == {
        "subject_id": organisation_id,
        "member_id": str(manager.id),
        "role": "manager",
        "invitation_id": items[1]["body"]["details"]["invitation_id"],
    }
    assert items[3]["body"]["asset_id"] == asset["id"]
    assert items[3]["body"]["actor_id"] == str(manager.id)
    assert items[5]["body"]["details"]["before"] == "viewer"
    assert all(len(e["hash"]) == 64 for e in items) and len({e["hash"] for e in items}) == 7
    assert "seq" not in items[0]["body"] and "prev_hash" not in items[0]

    second = _log(client, viewer, f"/v1/organisations/{organisation_id}/audit", limit=2, offset=2)
    assert [e["hash"] for e in second["items"]] == [e["hash"] for e in items[2:4]]


def test_the_log_holds_only_this_organisations_events(client, holder, other_holder, studio):
    organisation_id, _, viewer, _ = studio
    elsewhere = organisation(client, other_holder, name="Other Studio")
    add(client, other_holder, elsewhere, sign_up(client), "viewer")
    character_of(client, other_holder, elsewhere, name="Marsh Heron")
    create_asset(client, holder)  # the owner's own asset is not the organisation's

    ours = _log(client, viewer, f"/v1/organisations/{organisation_id}/audit")
    theirs = _log(client, other_holder, f"/v1/organisations/{elsewhere}/audit")

    assert ours["total"] == 7
    assert [e["action"] for e in theirs["items"]] == [
        "organisation.created",
        "organisation.member_added",
        "asset.created",
    ]
    assert not {e["hash"] for e in ours["items"]} & {e["hash"] for e in theirs["items"]}


def test_its_assets_log_is_its_members_to_read(client, holder, studio):
    _, manager, viewer, asset = studio
    for member in (holder, manager, viewer):
        log = _log(client, member, f"/v1/assets/{asset['id']}/audit")
        assert [e["action"] for e in log["items"]] == ["asset.created", "policy.version_created"]


def test_another_organisations_member_and_a_stranger_get_404(client, holder, other_holder, studio):
    organisation_id, _, _, asset = studio
    elsewhere = organisation(client, other_holder, name="Other Studio")
    their_viewer = sign_up(client)
    add(client, other_holder, elsewhere, their_viewer, "viewer")
    stranger = sign_up(client)
    for outsider in (other_holder, their_viewer, stranger):
        for path in (
            f"/v1/organisations/{organisation_id}/audit",
            f"/v1/assets/{asset['id']}/audit",
        ):
            answer = client.get(path, headers=outsider.headers)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["type"].endswith("not-found")
    unknown = client.get(f"/v1/organisations/{uuid.uuid4()}/audit", headers=holder.headers)
    assert unknown.status_code == 404
    # A person's own account is no organisation: its id reads no log.
    assert (
        client.get(f"/v1/organisations/{holder.id}/audit", headers=holder.headers).status_code
        == 404
    )


def test_a_removed_member_loses_the_logs_at_once(client, holder, studio):
    organisation_id, _, viewer, asset = studio
    paths = (f"/v1/organisations/{organisation_id}/audit", f"/v1/assets/{asset['id']}/audit")
    assert all(client.get(p, headers=viewer.headers).status_code == 200 for p in paths)

    removed = client.delete(
        f"/v1/organisations/{organisation_id}/members/{viewer.id}", headers=holder.headers
    )
    assert removed.status_code == 204, removed.text

    assert [client.get(p, headers=viewer.headers).status_code for p in paths] == [404, 404]
    last = _log(client, holder, paths[0])["items"][-1]
    assert last["action"] == "organisation.member_removed"
    assert last["body"]["details"]["member_id"] == str(viewer.id)


def test_a_key_reads_the_log_with_assets_read_only(client, holder, studio):
    organisation_id, *_ = studio
    path = f"/v1/organisations/{organisation_id}/audit"
    for scopes, status in ((["assets:read"], 200), (["account:read"], 403)):
        key = client.post(
            "/v1/api-keys", headers=holder.headers, json={"name": "log", "scopes": scopes}
        ).json()["secret"]
        assert client.get(path, headers={"X-API-Key": key}).status_code == status


def test_agent_changes_and_the_agents_acts_show_in_the_likeness_log(client, holder, other_holder):
    likeness = consented_likeness(client, holder)
    character = create_asset(client, holder)
    theirs = consented_likeness(client, other_holder)
    agent = sign_up(client)
    name_agent(client, holder, agent)
    repriced = client.post(
        f"/v1/assets/{likeness['id']}/policies", headers=agent.headers, json=REPRICED
    )
    assert repriced.status_code == 201, repriced.text
    # The agent reads the log of the likeness it manages, its own acts in it.
    during = _log(client, agent, f"/v1/assets/{likeness['id']}/audit")["items"]
    assert [e["action"] for e in during][-2:] == ["agent.authorised", "policy.version_created"]
    assert during[-1]["body"]["actor_id"] == str(agent.id)
    removed = client.delete(f"/v1/accounts/me/agents/{agent.id}", headers=holder.headers)
    assert removed.status_code == 204

    log = _log(client, holder, f"/v1/assets/{likeness['id']}/audit")["items"]
    assert [e["action"] for e in log] == [
        "asset.created",
        "policy.version_created",
        "grant.created",
        "agent.authorised",
        "policy.version_created",
        "agent.removed",
    ]
    assert log[3]["body"]["details"] == {
        "subject_id": str(holder.id),
        "agent_id": str(agent.id),
        "invitation_id": log[3]["body"]["details"]["invitation_id"],
    }
    assert log[3]["body"]["actor_id"] == str(holder.id)
    assert log[4]["body"]["actor_id"] == str(agent.id)
    # A character is no agent's business; another person's likeness is not this one's.
    for user, asset in ((holder, character), (other_holder, theirs)):
        other = _log(client, user, f"/v1/assets/{asset['id']}/audit")["items"]
        assert not [e for e in other if e["action"].startswith("agent.")]
    assert (
        client.get(f"/v1/assets/{likeness['id']}/audit", headers=agent.headers).status_code == 404
    )


def test_the_chain_verifies_and_the_subject_column_is_checked(
    client, session, engine, holder, studio
):
    admin = promote(session, sign_up(client), "admin")
    name_agent(client, holder, admin)
    verified = client.get("/v1/audit/verify", headers=admin.headers)
    assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text

    organisation_id = studio[0]
    with Session(engine) as attacker:  # moves the organisation's creation to another's log
        if attacker.bind.dialect.name == "postgresql":
            attacker.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            attacker.execute(text("DROP TRIGGER audit_entry_no_update"))
        attacker.execute(
            text(
                "UPDATE audit_entry SET subject_id = :other WHERE action = 'organisation.created'"
            ),
            {"other": uuid.uuid4().hex if engine.dialect.name == "sqlite" else str(uuid.uuid4())},
        )
        attacker.commit()
    with snapshot_session(engine) as reading:
        report = verify_chain(reading)
    assert not report.ok
    assert report.first_broken_seq == 1
    assert report.reason == "the entry's columns disagree with its body"
    log = _log(client, holder, f"/v1/organisations/{organisation_id}/audit")
    assert "organisation.created" not in json.dumps(log)


def test_entries_written_before_the_column_join_the_logs_on_upgrade(
    client, engine, database_url, holder, studio
):
    """Migration 0029 copies the subject of the entries already written into the column, and
    leaves the log append-only."""
    organisation_id = studio[0]
    before = _log(client, holder, f"/v1/organisations/{organisation_id}/audit")
    config = alembic_config(database_url)
    command.downgrade(config, "0028")
    command.upgrade(config, "head")
    engine.dispose()  # the app's connections knew the table without the column

    after = _log(client, holder, f"/v1/organisations/{organisation_id}/audit")
    assert after == before and after["total"] == 7
    with snapshot_session(engine) as reading:
        assert verify_chain(reading).ok
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE audit_entry SET action = 'forged' WHERE seq = 1"))
