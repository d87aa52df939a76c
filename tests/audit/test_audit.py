"""The audit log: every change is recorded, the chain detects tampering, the database refuses it."""

import json

import pytest
from factories import create_asset, granted_asset, promote, set_policy, sign_up
from jose import jwt
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from audit.models import AuditEntry
from audit.service import verify_chain
from clearhouse.db import snapshot_session


def _make_history(client, holder) -> None:
    asset, created = granted_asset(client, holder)
    client.patch(f"/v1/assets/{asset['id']}", headers=holder.headers, json={"name": "Renamed"})
    set_policy(client, holder, asset["id"], {"audience": "nobody"})
    client.post(f"/v1/grants/{created['grant']['id']}/revoke", headers=holder.headers, json={})


def test_an_owner_reads_every_event_of_their_asset(client, holder):
    asset, created = granted_asset(client, holder)
    client.post(f"/v1/grants/{created['grant']['id']}/revoke", headers=holder.headers, json={})
    entries = client.get(f"/v1/assets/{asset['id']}/audit", headers=holder.headers).json()
    actions = [entry["action"] for entry in entries["items"]]
    assert actions == ["asset.created", "policy.version_created", "grant.created", "grant.revoked"]
    assert all(e["body"]["actor_id"] == str(holder.id) for e in entries["items"])


def test_an_intact_chain_verifies(client, holder, session):
    _make_history(client, holder)
    report = verify_chain(session)
    assert report.ok, report
    assert report.entries_checked == 6


def test_entries_written_during_the_walk_do_not_break_the_chain(client, holder, engine):
    """The walk and the head are read in one snapshot: a write landing between them is not
    mistaken for a chain cut short (fails with the walk on autocommit or READ COMMITTED)."""
    _make_history(client, holder)
    asset = create_asset(client, holder)
    walked = []
    with snapshot_session(engine) as reading:
        entries = reading.exec(select(AuditEntry).order_by(AuditEntry.seq))
        walked.append(next(iter(entries)))
        # Another request writes while the walk is under way.
        client.patch(f"/v1/assets/{asset['id']}", headers=holder.headers, json={"name": "Later"})
        report = verify_chain(reading, batch_size=1)
    assert report.ok, report
    assert report.entries_checked == 7
    with snapshot_session(engine) as after:
        assert verify_chain(after).entries_checked == 8


def _without_guards(session):
    """Act as a privileged attacker who bypasses the append-only triggers."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for operation in ("update", "delete"):
            session.execute(text(f"DROP TRIGGER audit_entry_no_{operation}"))


def _alter(session, seq):
    session.execute(
        text("UPDATE audit_entry SET body = :body WHERE seq = :seq"),
        {"seq": seq, "body": _body_with(session, seq, {"details": {"forged": True}})},
    )


def _delete(session, seq):
    session.execute(text("DELETE FROM audit_entry WHERE seq = :seq"), {"seq": seq})


def _swap_with_next(session, seq):
    rows = {
        row.seq: row
        for row in session.execute(
            text(
                "SELECT seq, asset_id, action, body, prev_hash, hash FROM audit_entry "
                "WHERE seq IN (:a, :b)"
            ),
            {"a": seq, "b": seq + 1},
        )
    }
    session.execute(text("DELETE FROM audit_entry WHERE seq IN (:a, :b)"), {"a": seq, "b": seq + 1})
    # Each row keeps its own body and hashes but moves to the other's position.
    for new_seq, old in ((seq, rows[seq + 1]), (seq + 1, rows[seq])):
        session.execute(
            text(
                "INSERT INTO audit_entry (seq, asset_id, action, body, prev_hash, hash) "
                "VALUES (:seq, :asset_id, :action, :body, :prev_hash, :hash)"
            ),
            {
                "seq": new_seq,
                "asset_id": old.asset_id,
                "action": old.action,
                "body": _as_json(old.body),
                "prev_hash": old.prev_hash,
                "hash": old.hash,
            },
        )


def _as_json(body) -> str:
    import json

    return body if isinstance(body, str) else json.dumps(body)


def _body_with(session, seq, changes) -> str:
    import json

    body = session.execute(
        text("SELECT body FROM audit_entry WHERE seq = :seq"), {"seq": seq}
    ).scalar_one()
    body = json.loads(body) if isinstance(body, str) else body
    return json.dumps({**body, **changes})


TAMPERING = {"altered": _alter, "deleted": _delete, "reordered": _swap_with_next}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_with_any_one_entry_is_found_at_that_entry(client, holder, engine, how):
    _make_history(client, holder)
    with Session(engine) as session:
        total = verify_chain(session).entries_checked
    last = total - 1 if how == "reordered" else total
    for seq in range(1, last + 1):
        with Session(engine) as session:
            _without_guards(session)
            TAMPERING[how](session, seq)
            report = verify_chain(session)
            session.rollback()  # undo, and try the next position
        assert not report.ok, (how, seq)
        assert report.first_broken_seq == seq, (how, seq, report)
        assert report.reason


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET action = 'nothing.happened' WHERE seq = 1",
        "DELETE FROM audit_entry WHERE seq = 1",
    ],
)
def test_the_database_refuses_to_change_audit_rows(client, holder, engine, statement):
    create_asset(client, holder)
    with engine.connect() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(statement))


def test_verify_endpoint_is_for_admins(client, holder, session):
    _make_history(client, holder)
    assert client.get("/v1/audit/verify", headers=holder.headers).status_code == 403
    promote(session, holder, "admin")
    report = client.get("/v1/audit/verify", headers=holder.headers).json()
    assert report == {"ok": True, "entries_checked": 6, "first_broken_seq": None, "reason": None}


def _checkpoint(client, user) -> dict:
    response = client.get("/v1/audit/checkpoint", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _check(client, user, token: str):
    return client.post("/v1/audit/checkpoint/verify", headers=user.headers, json={"token": token})


def _last_entry_hash(client, user, asset_id: str) -> str:
    entries = client.get(f"/v1/assets/{asset_id}/audit", headers=user.headers).json()
    return entries["items"][-1]["hash"]


def test_a_kept_checkpoint_stays_consistent_while_the_log_grows(client, holder):
    _make_history(client, holder)
    checkpoint = _checkpoint(client, holder)
    create_asset(client, holder)  # the log grows past the checkpoint
    report = _check(client, holder, checkpoint["token"]).json()
    assert report == {"valid": True, "consistent": True, "hash": checkpoint["hash"], "reason": None}


def test_a_checkpoint_exposes_history_rewritten_by_someone_who_owns_the_database(
    client, holder, engine
):
    _make_history(client, holder)
    checkpoint = _checkpoint(client, holder)
    # The attacker recomputes every hash after altering entry 2, so the chain itself
    # verifies again; only the signed checkpoint can tell.
    with engine.begin() as connection, Session(bind=connection) as session:
        _without_guards(session)
        _rewrite_history(session, seq=2)
        assert verify_chain(session).ok
    report = _check(client, holder, checkpoint["token"]).json()
    assert report["valid"] is True
    assert report["consistent"] is False
    assert "no longer in the log: the log was rewritten or cut" in report["reason"]


def test_a_checkpoint_exposes_its_entry_altered_in_place(client, holder, engine):
    _make_history(client, holder)
    checkpoint = _checkpoint(client, holder)
    with engine.begin() as connection, Session(bind=connection) as session:
        _without_guards(session)
        _alter(session, verify_chain(session).entries_checked)  # the last entry, the holder's
    report = _check(client, holder, checkpoint["token"]).json()
    assert (report["valid"], report["consistent"]) == (True, False)
    assert "was altered: the entry's content does not match its hash" in report["reason"]


def test_a_forged_or_foreign_checkpoint_is_not_valid(client, holder):
    create_asset(client, holder)
    checkpoint = _checkpoint(client, holder)
    header, payload, signature = checkpoint["token"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    receipt = granted_asset(client, holder)[1]["receipt"]["token"]
    for token in (forged, receipt):
        report = _check(client, holder, token).json()
        assert report["valid"] is False
        assert report["consistent"] is False


def test_a_malformed_checkpoint_is_a_400(client, holder):
    response = _check(client, holder, "not.a-token")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "not a JWS compact token" in response.json()["detail"]


def _interleaved_history(client, holder, other_holder) -> dict:
    """Two holders act in turn, so each one's entries sit between the other's."""
    mine = create_asset(client, holder)
    theirs = create_asset(client, other_holder, name="Their Test")
    set_policy(client, holder, mine["id"])
    set_policy(client, other_holder, theirs["id"])
    client.patch(f"/v1/assets/{mine['id']}", headers=holder.headers, json={"name": "Mine"})
    client.patch(f"/v1/assets/{theirs['id']}", headers=other_holder.headers, json={"name": "X"})
    return mine


def _hashes_of_others(engine, holder) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT e.hash FROM audit_entry e JOIN asset a ON a.id = e.asset_id "
                "WHERE a.owner_id <> :owner"
            ),
            {"owner": holder.id.hex if engine.dialect.name == "sqlite" else holder.id},
        ).all()
    return {row.hash for row in rows}


def test_a_holder_learns_nothing_of_the_log_beyond_their_own_entries(
    client, holder, other_holder, engine
):
    mine = _interleaved_history(client, holder, other_holder)
    seen = client.get(f"/v1/assets/{mine['id']}/audit", headers=holder.headers)
    checkpoint = _checkpoint(client, holder)
    report = _check(client, holder, checkpoint["token"])
    for entry in seen.json()["items"]:
        assert set(entry) == {"action", "body", "hash"}  # no seq, no prev_hash
        assert set(entry["body"]) == {"at", "action", "actor_id", "asset_id", "details"}
    # The checkpoint is the holder's own latest entry, not the log's head, and carries no
    # position: nothing in it or in the entries tells how many entries the log holds.
    assert set(checkpoint) == {"token", "hash"}
    assert checkpoint["hash"] == _last_entry_hash(client, holder, mine["id"])
    claims = jwt.get_unverified_claims(checkpoint["token"])
    assert set(claims) == {"iss", "sub", "iat", "jti", "hash"}
    # No hash of another holder's entry reaches them, as a link or otherwise.
    others = _hashes_of_others(engine, holder)
    assert len(others) == 3
    shown = seen.text + json.dumps(claims) + report.text
    assert [value for value in others if value in shown] == []


def test_checking_a_checkpoint_reads_its_entry_not_the_chain(
    client, holder, other_holder, engine, session
):
    """A break in another holder's entry is for admins to find; the holder's checkpoint,
    whose entry is intact, stays consistent (the chain is not walked, nor reported on)."""
    _interleaved_history(client, holder, other_holder)
    checkpoint = _checkpoint(client, holder)
    with engine.begin() as connection, Session(bind=connection) as tamper:
        _without_guards(tamper)
        _alter(tamper, 2)  # the other holder's first entry
    report = _check(client, holder, checkpoint["token"]).json()
    assert (report["valid"], report["consistent"], report["reason"]) == (True, True, None)
    admin = promote(session, sign_up(client), "admin")
    chain = client.get("/v1/audit/verify", headers=admin.headers).json()
    assert (chain["ok"], chain["first_broken_seq"]) == (False, 2)


def test_a_checkpoint_is_checked_only_by_its_holder(client, holder, other_holder):
    create_asset(client, holder)
    checkpoint = _checkpoint(client, holder)
    response = _check(client, other_holder, checkpoint["token"])
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_an_account_with_no_entries_has_no_checkpoint(client):
    creator = sign_up(client, role="creator")
    response = client.get("/v1/audit/checkpoint", headers=creator.headers)
    assert response.status_code == 404
    assert "no audit entries yet" in response.json()["detail"]


def test_checkpoint_checks_are_rate_limited_per_account(settings, holder, other_holder):
    from fastapi.testclient import TestClient

    from clearhouse.app import create_app

    limited = settings.model_copy(update={"checkpoint_verify_limit_per_minute": 2})
    with TestClient(create_app(limited)) as client:
        create_asset(client, holder)
        create_asset(client, other_holder)
        token = _checkpoint(client, holder)["token"]
        statuses = [_check(client, holder, token).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = _check(client, holder, token)
        assert int(refused.headers["retry-after"]) >= 1
        assert "checkpoints within a minute" in refused.json()["detail"]
        # Another account's checks are counted apart.
        other = _checkpoint(client, other_holder)["token"]
        assert _check(client, other_holder, other).status_code == 200


def _rewrite_history(session, *, seq: int) -> None:
    """Alter one entry and recompute the hash chain from it onwards, head included."""
    import json

    from audit.service import entry_hash

    rows = session.execute(
        text("SELECT seq, body, prev_hash FROM audit_entry WHERE seq >= :seq ORDER BY seq"),
        {"seq": seq},
    ).all()
    prev_hash = rows[0].prev_hash
    # Hashes are unique: clear the old ones first, then write the new chain.
    session.execute(
        text(
            "UPDATE audit_entry SET hash = 'old-' || seq, "
            "prev_hash = 'oldp-' || seq WHERE seq >= :seq"
        ),
        {"seq": seq},
    )
    for number, row in enumerate(rows):
        body = json.loads(row.body) if isinstance(row.body, str) else row.body
        if number == 0:
            body["details"] = {"forged": True}
        new_hash = entry_hash(prev_hash, body)
        session.execute(
            text(
                "UPDATE audit_entry SET body = :body, prev_hash = :prev, hash = :hash "
                "WHERE seq = :seq"
            ),
            {"body": json.dumps(body), "prev": prev_hash, "hash": new_hash, "seq": row.seq},
        )
        prev_hash = new_hash
    session.execute(text("UPDATE audit_head SET hash = :hash WHERE id = 1"), {"hash": prev_hash})


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("statement", ["TRUNCATE audit_entry", "TRUNCATE audit_entry CASCADE"])
def test_postgresql_refuses_to_truncate_the_audit_log(client, holder, engine, statement):
    # TRUNCATE fires no row triggers; only a statement trigger stops it (SQLite has no TRUNCATE).
    create_asset(client, holder)
    with engine.connect() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(statement))
    with Session(engine) as session:
        assert verify_chain(session).entries_checked == 1
