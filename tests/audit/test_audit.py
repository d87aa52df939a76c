"""The audit log: every change is recorded, the chain detects tampering, the database refuses it."""

import pytest
from factories import create_asset, granted_asset, promote, set_policy
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from audit.service import verify_chain


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


def test_a_kept_checkpoint_stays_consistent_while_the_log_grows(client, holder):
    _make_history(client, holder)
    checkpoint = client.get("/v1/audit/checkpoint", headers=holder.headers).json()
    assert checkpoint["seq"] == 6
    create_asset(client, holder)  # the log grows past the checkpoint
    report = client.post(
        "/v1/audit/checkpoint/verify", headers=holder.headers, json={"token": checkpoint["token"]}
    ).json()
    assert report == {"valid": True, "consistent": True, "seq": 6, "reason": None}


def test_a_checkpoint_exposes_history_rewritten_by_someone_who_owns_the_database(
    client, holder, engine
):
    _make_history(client, holder)
    checkpoint = client.get("/v1/audit/checkpoint", headers=holder.headers).json()
    # The attacker recomputes every hash after altering entry 2, so the chain itself
    # verifies again; only the signed checkpoint can tell.
    with engine.begin() as connection, Session(bind=connection) as session:
        _without_guards(session)
        _rewrite_history(session, seq=2)
        assert verify_chain(session).ok
    report = client.post(
        "/v1/audit/checkpoint/verify", headers=holder.headers, json={"token": checkpoint["token"]}
    ).json()
    assert report["valid"] is True
    assert report["consistent"] is False
    assert "entry 6 is not the one signed" in report["reason"]


def test_a_forged_or_foreign_checkpoint_is_not_valid(client, holder):
    checkpoint = client.get("/v1/audit/checkpoint", headers=holder.headers).json()
    header, payload, signature = checkpoint["token"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    receipt = granted_asset(client, holder)[1]["receipt"]["token"]
    for token in (forged, receipt):
        report = client.post(
            "/v1/audit/checkpoint/verify", headers=holder.headers, json={"token": token}
        ).json()
        assert report["valid"] is False
        assert report["consistent"] is False


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
