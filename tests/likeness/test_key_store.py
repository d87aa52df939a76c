"""Likeness data keys live in a key store apart from the main database: a deleted likeness
stays shredded when a backup of the main database taken before the deletion is restored."""

import os
import shutil
import sqlite3
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from enrolling import indexed_likenesses
from faces import FACES_DIR
from factories import create_asset
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect
from sqlmodel import Session, SQLModel, select

from clearhouse.app import create_app
from clearhouse.migrations import alembic_config, upgrade_database
from clearhouse.settings import Settings
from likeness import vault
from likeness.key_store import KeyStoreError, WrappedKeyFile, WrappedKeyStore, open_key_store
from likeness.models import EnrolmentMedia, FaceTemplateRecord, TemplateStatus
from likeness.tasks import destroy_orphan_keys
from likeness.vault_crypto import generate_master_key, load_master_key

pytestmark = pytest.mark.still_photos

OBAMA = ["obama.jpg", "obama2.jpg", "obama_partial_face.jpg"]
VAULT_TABLES = ("likeness_key", "face_template", "enrolment_media")


def _store(path: Path) -> WrappedKeyStore:
    master_key = load_master_key(key_b64=generate_master_key())
    return WrappedKeyStore(keys=WrappedKeyFile(path), master_key=master_key)


def test_a_destroyed_key_is_gone_from_the_file_and_for_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "likeness-keys.db"
    store = _store(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    kept, shredded = uuid.uuid4(), uuid.uuid4()
    kept_key = store.put(kept)
    shredded_key = store.put(shredded)
    assert store.put(kept) == kept_key  # a second enrolment gets the first one's key
    wrapped = store.keys.read_many([shredded])[shredded]
    assert wrapped in path.read_bytes()

    store.destroy(shredded)
    store.destroy(shredded)  # idempotent

    # Another process opening the file sees the same: one key left, the other gone.
    again = WrappedKeyStore(keys=WrappedKeyFile(path), master_key=store.master_key)
    assert again.get(shredded) is None
    assert again.get_many([kept, shredded]) == {kept: kept_key}
    assert again.likeness_ids() == [kept]
    assert shredded_key.key not in path.read_bytes()
    assert wrapped not in path.read_bytes()  # secure_delete: not left in a free page
    assert list(path.parent.iterdir()) == [path]  # no journal left behind


def test_an_unsafe_or_misplaced_key_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "likeness-keys.db"
    _store(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        _store(path)
    main = tmp_path / "clearhouse.db"
    with pytest.raises(KeyStoreError, match="a file of its own"):
        open_key_store(
            path=main,
            master_key=load_master_key(key_b64=generate_master_key()),
            main_database_url=f"sqlite:///{main}",
        )


def _enrol(client: TestClient, user, asset_id: str) -> None:
    opened = client.post(
        f"/v1/assets/{asset_id}/enrolments", headers=user.headers, json={"keep_media": True}
    )
    assert opened.status_code == 201, opened.text
    files = [("files", (name, (FACES_DIR / name).read_bytes(), "image/jpeg")) for name in OBAMA]
    enrolled = client.post(
        f"/v1/enrolments/{opened.json()['id']}/frames", headers=user.headers, files=files
    )
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["enrolment"]["status"] == "enrolled"


def _back_up(engine: Engine, *, url: str, tmp_path: Path) -> Callable[[], str]:
    """A backup of the main database; calling the result restores it and gives its URL.

    SQLite: an online copy of the file (SQLite's backup API, WAL included), restored as a
    new file. PostgreSQL: the vault's rows and the asset row, written back in place.
    """
    if engine.dialect.name == "sqlite":
        backup = tmp_path / "backup.db"
        live, copy = sqlite3.connect(engine.url.database), sqlite3.connect(backup)
        live.backup(copy)
        live.close()
        copy.close()  # the last connection to close folds its WAL into the file

        def restore_file() -> str:
            restored = tmp_path / "restored.db"
            shutil.copy(backup, restored)
            return f"sqlite:///{restored}"

        return restore_file

    tables = {name: SQLModel.metadata.tables[name] for name in (*VAULT_TABLES, "asset")}
    with engine.connect() as connection:
        saved = {
            name: [dict(row._mapping) for row in connection.execute(table.select())]
            for name, table in tables.items()
        }

    def restore_rows() -> str:
        with engine.begin() as connection:
            for row in saved["asset"]:
                asset = tables["asset"]
                connection.execute(asset.update().where(asset.c.id == row["id"]).values(**row))
            for name in VAULT_TABLES:
                connection.execute(tables[name].delete())
                if saved[name]:
                    connection.execute(tables[name].insert(), saved[name])
        return url

    return restore_rows


def test_a_restored_database_backup_does_not_bring_a_deleted_face_back(
    client, holder, engine, stills_settings, tmp_path
):
    asset = create_asset(client, holder, kind="likeness")
    likeness_id = uuid.UUID(asset["id"])
    _enrol(client, holder, asset["id"])
    runtime = client.app.state.likeness
    with Session(engine) as session:  # the backup holds templates that open today
        assert len(list(vault.open_templates(session, key_store=runtime.key_store))) == 3
    restore = _back_up(engine, url=stills_settings.resolved_database_url, tmp_path=tmp_path)

    deleted = client.delete(f"/v1/assets/{asset['id']}", headers=holder.headers)
    assert deleted.status_code == 200, deleted.text
    restored_url = restore()

    # Settings anew, not model_copy: that would carry over the cached resolved_database_url.
    restored_settings = Settings(**{**stills_settings.model_dump(), "database_url": restored_url})
    with TestClient(create_app(restored_settings)) as restored:
        with Session(restored.app.state.engine) as session:
            sealed = session.exec(
                select(FaceTemplateRecord).where(FaceTemplateRecord.likeness_id == likeness_id)
            ).all()
            media = session.exec(
                select(EnrolmentMedia).where(EnrolmentMedia.likeness_id == likeness_id)
            ).all()
            assert (len(sealed), len(media)) == (3, 3)  # the backup has every sealed row...
            assert list(vault.open_templates(session, key_store=runtime.key_store)) == []
        restored_runtime = restored.app.state.likeness
        assert restored_runtime.key_store.get(likeness_id) is None  # ...and no key for them
        assert restored_runtime.index.count() == 0  # the rebuild skipped them, without error
        assert indexed_likenesses(restored_runtime, "obama2.jpg") == set()

        # The restored likeness is live again; its owner may enrol the face anew, and the
        # rows that can never open are purged rather than breaking the next rebuild.
        _enrol(restored, holder, asset["id"])
        assert indexed_likenesses(restored_runtime, "obama2.jpg") == {likeness_id}
        with Session(restored.app.state.engine) as session:
            assert len(list(vault.open_templates(session, key_store=runtime.key_store))) == 3
    with TestClient(create_app(restored_settings)) as restarted:
        assert restarted.app.state.likeness.index.count() == 3


def _seal_random_templates(session: Session, *, likeness_id: uuid.UUID, key_store) -> None:
    embeddings = np.random.default_rng(0).standard_normal((2, 128)).astype(np.float32)
    vault.seal_templates(
        session,
        likeness_id=likeness_id,
        model_key="dlib/resnet-v1",
        embeddings=embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True),
        status=TemplateStatus.active,
        key_store=key_store,
    )


def test_migration_0005_moves_the_keys_out_and_back(client, holder, engine, settings):
    url, key_store = settings.resolved_database_url, client.app.state.likeness.key_store
    kept = uuid.UUID(create_asset(client, holder, kind="likeness")["id"])
    shredded = uuid.UUID(create_asset(client, holder, kind="likeness")["id"])
    with Session(engine) as session:
        for likeness_id in (kept, shredded):
            _seal_random_templates(session, likeness_id=likeness_id, key_store=key_store)
        session.commit()
    kept_key = key_store.get(kept)
    key_store.destroy(shredded)
    config = alembic_config(url, likeness_key_store=settings.likeness_key_store_path)
    try:
        command.downgrade(config, "0004")
        columns = {c["name"] for c in inspect(engine).get_columns("likeness_key")}
        assert "wrapped_data_key" in columns
        with engine.connect() as connection:
            table = SQLModel.metadata.tables["face_template"]
            owners = {row.likeness_id for row in connection.execute(table.select())}
        assert owners == {kept}  # the shredded likeness's rows could never open: deleted
        key_store.destroy(kept)  # as before 0005: the key only in the main database

        with pytest.raises(RuntimeError, match="needs the likeness key store"):
            upgrade_database(url)
        upgrade_database(url, likeness_key_store=settings.likeness_key_store_path)
    finally:
        upgrade_database(url, likeness_key_store=settings.likeness_key_store_path)
    columns = {c["name"] for c in inspect(engine).get_columns("likeness_key")}
    assert "wrapped_data_key" not in columns
    assert key_store.get(kept) == kept_key
    with Session(engine) as session:
        opened = list(vault.open_templates(session, key_store=key_store))
    assert {template.likeness_id for template in opened} == {kept}
    assert len(opened) == 2


def test_retention_destroys_keys_that_outlived_their_likeness(client, holder, engine, tmp_path):
    key_store = _store(tmp_path / "likeness-keys.db")  # none of the other tests' keys
    live = uuid.UUID(create_asset(client, holder, kind="likeness")["id"])
    deleted = uuid.UUID(create_asset(client, holder, kind="likeness")["id"])
    assert client.delete(f"/v1/assets/{deleted}", headers=holder.headers).status_code == 200
    unknown = uuid.uuid4()  # a likeness newer than the backup this database came from
    for likeness_id in (live, deleted, unknown):  # e.g. an enrolment that raced the deletion
        key_store.put(likeness_id)
    with Session(engine) as session:
        orphans = destroy_orphan_keys(session, key_store=key_store)
    assert set(orphans) == {deleted, unknown}
    assert key_store.get_many([live, deleted, unknown]).keys() == {live}
