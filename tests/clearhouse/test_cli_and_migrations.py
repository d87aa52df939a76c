"""The operator's side: migrations up and down, the CLI, health and keys on first start."""

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
