"""The operator's side: migrations up and down, the CLI (run for real, in a subprocess),
health and keys on first start."""

import json
import os
import stat
import subprocess
import sys

from alembic import command
from factories import granted_asset
from sqlalchemy import inspect

from clearhouse.db import build_engine
from clearhouse.migrations import alembic_config, upgrade_database


def test_migrations_go_down_and_up_again(database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    engine = build_engine(database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_database(database_url)
    assert {"asset", "consent_grant", "audit_entry"} <= set(inspect(engine).get_table_names())
    engine.dispose()


# The suite's cheap password hashing, for accounts the CLI makes.
FAST_HASHING = {
    "CLEARHOUSE_PASSWORD_HASH_TIME_COST": "1",
    "CLEARHOUSE_PASSWORD_HASH_MEMORY_KIB": "1024",
}


def _clearhouse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clearhouse", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_audit_verify_reports_a_broken_chain_and_exits_nonzero(client, holder, settings, engine):
    granted_asset(client, holder)
    env = {
        "CLEARHOUSE_DATABASE_URL": settings.database_url,
        "CLEARHOUSE_DATA_DIR": str(settings.data_dir),
    }
    ok = _clearhouse("audit", "verify", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True

    from sqlalchemy import text

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            connection.execute(text("DROP TRIGGER audit_entry_no_update"))
        connection.execute(text("UPDATE audit_entry SET action = 'asset.forged' WHERE seq = 2"))
    broken = _clearhouse("audit", "verify", env=env)
    assert broken.returncode == 1
    assert json.loads(broken.stdout)["first_broken_seq"] == 2


def test_first_start_creates_private_keys_and_answers_health(tmp_path):
    from fastapi.testclient import TestClient

    from clearhouse.app import create_app
    from clearhouse.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as fresh:
        assert fresh.get("/healthz").json() == {"status": "ok"}
        jwks = fresh.get("/.well-known/jwks.json").json()
    assert {key["alg"] for key in jwks["keys"]} == {"ES256"}
    for path in (tmp_path / "data" / "keys").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "data" / "clearhouse.db").exists()


def test_cli_help_lists_the_commands():
    result = _clearhouse("--help", env={})
    assert result.returncode == 0
    assert "serve" in result.stdout and "audit" in result.stdout


def _env(settings) -> dict[str, str]:
    return {
        "CLEARHOUSE_DATABASE_URL": settings.database_url,
        "CLEARHOUSE_DATA_DIR": str(settings.data_dir),
        "CLEARHOUSE_LIKENESS_KEY_STORE": str(settings.likeness_key_store_path),
        **FAST_HASHING,
    }


def _revision(database_url: str) -> str | None:
    from sqlalchemy import text

    engine = build_engine(database_url)
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    return revision


def test_db_upgrade_migrates_a_new_database_to_a_revision_then_to_head(tmp_path):
    from alembic.script import ScriptDirectory

    from clearhouse.migrations import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    first = scripts.get_base()
    data_dir = tmp_path / "new"
    env = {"CLEARHOUSE_DATA_DIR": str(data_dir)}
    url = f"sqlite:///{data_dir / 'clearhouse.db'}"

    partial = _clearhouse("db", "upgrade", first, env=env)
    assert partial.returncode == 0, partial.stderr
    assert partial.stdout.strip() == f"database at {first}"
    assert _revision(url) == first
    assert "face_template" not in inspect(build_engine(url)).get_table_names()

    for _ in range(2):  # a second run has nothing left to do
        full = _clearhouse("db", "upgrade", env=env)
        assert full.returncode == 0, full.stderr
        assert _revision(url) == scripts.get_current_head()
    assert {"asset", "audit_entry", "face_template"} <= set(
        inspect(build_engine(url)).get_table_names()
    )


def test_account_create_makes_a_staff_account_that_can_sign_in(client, settings):
    created = _clearhouse(
        "account", "create", "--email", "Ops@Example.org", "--role", "admin", env=_env(settings)
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("admin Ops@Example.org created; password: ")
    password = created.stdout.strip().rsplit(" ", 1)[1]

    token = client.post(
        "/v1/auth/token", data={"username": "ops@example.org", "password": password}
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/v1/accounts/me", headers=headers).json()["role"] == "admin"
    assert client.get("/v1/audit/verify", headers=headers).status_code == 200


def _enrolled_likeness(client, user) -> str:
    from faces import FACES_DIR
    from factories import create_asset

    likeness = create_asset(client, user, kind="likeness")["id"]
    opened = client.post(f"/v1/assets/{likeness}/enrolments", headers=user.headers, json={})
    photos = ["obama.jpg", "obama2.jpg", "obama_partial_face.jpg"]
    files = [("files", (name, (FACES_DIR / name).read_bytes(), "image/jpeg")) for name in photos]
    enrolled = client.post(
        f"/v1/enrolments/{opened.json()['id']}/frames", headers=user.headers, files=files
    )
    assert enrolled.status_code == 200, enrolled.text
    return likeness


def test_likeness_retention_destroys_templates_idle_past_the_setting(settings, holder):
    import uuid
    from datetime import timedelta

    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from clearhouse.app import create_app
    from clearhouse.db import utcnow
    from likeness.models import LikenessKey

    stills = settings.model_copy(update={"liveness_required": False})
    with TestClient(create_app(stills)) as client:
        likeness = _enrolled_likeness(client, holder)
        with Session(client.app.state.engine) as session:
            key = session.get(LikenessKey, uuid.UUID(likeness))
            key.last_activity_at = utcnow() - timedelta(days=10)
            session.add(key)
            session.commit()

        kept = _clearhouse(
            "likeness",
            "retention",
            env={**_env(settings), "CLEARHOUSE_TEMPLATE_RETENTION_DAYS": "30"},
        )
        assert kept.returncode == 0, kept.stderr
        assert json.loads(kept.stdout) == {"destroyed": [], "orphan_keys_destroyed": 0}

        destroyed = _clearhouse(
            "likeness",
            "retention",
            env={**_env(settings), "CLEARHOUSE_TEMPLATE_RETENTION_DAYS": "5"},
        )
        assert destroyed.returncode == 0, destroyed.stderr
        assert json.loads(destroyed.stdout) == {"destroyed": [likeness], "orphan_keys_destroyed": 0}
        audit = client.get(f"/v1/assets/{likeness}/audit", headers=holder.headers).json()
        assert audit["items"][-1]["action"] == "likeness.templates_destroyed"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_demo_starts_a_server_whose_printed_credentials_sign_in(tmp_path):
    import re
    import time

    import httpx

    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "clearhouse", "serve", "--demo", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "CLEARHOUSE_DATA_DIR": str(tmp_path / "data"),
                "PYTHONUNBUFFERED": "1",
                **FAST_HASHING,
            },
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{base}/healthz").json() == {"status": "ok"}:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        printed = log.read_text()
        email, password = re.search(r"Demo holder: (\S+) / (\S+)", printed).groups()
        assert f"curl -s -X POST {base}/v1/auth/token" in printed

        token = httpx.post(f"{base}/v1/auth/token", data={"username": email, "password": password})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assets = httpx.get(f"{base}/v1/assets", headers=headers).json()["items"]
        assert [asset["handle"] for asset in assets] == ["captain_comet"]
        grants = httpx.get(f"{base}/v1/assets/{assets[0]['id']}/grants", headers=headers).json()
        assert [grant["state"] for grant in grants["items"]] == ["active"]
    finally:
        server.terminate()
        server.wait(timeout=30)
