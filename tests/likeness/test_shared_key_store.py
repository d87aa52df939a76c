"""The likeness key store in a PostgreSQL database of its own (CLEARHOUSE_LIKENESS_KEY_STORE_URL),
for API processes on several machines: each machine opens the faces another enrolled, a key
one destroys is gone for all, and the main database is refused as the keys' place."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import POSTGRES_URL
from enrolling import OBAMA, enrol, indexed_likenesses
from factories import create_asset, sign_up
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from clearhouse.app import create_app
from clearhouse.db import build_engine
from clearhouse.settings import Settings
from likeness.key_store import WrappedKeyStore, open_key_store
from likeness.key_table import SharedKeyStoreError, WrappedKeyTable
from likeness.vault_crypto import generate_master_key, load_master_key

pytestmark = pytest.mark.postgres


@pytest.fixture
def keys_url(postgres_url: str) -> Iterator[str]:
    """A database of its own on the test server (``postgres_url`` skips or fails without one)."""
    name = f"clearhouse_keys_{uuid.uuid4().hex[:12]}"
    admin = build_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:  # outside a transaction, as CREATE DATABASE must be
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.engine.dispose()


def test_two_machines_share_each_key_and_a_destroyed_one_is_gone_for_both(keys_url):
    master_key = load_master_key(key_b64=generate_master_key())
    first, second = (
        WrappedKeyStore(keys=WrappedKeyTable(keys_url), master_key=master_key) for _ in "ab"
    )
    kept, shredded = uuid.uuid4(), uuid.uuid4()
    kept_key = first.put(kept)
    assert second.put(kept) == kept_key  # an enrolment elsewhere gets the first one's key
    shredded_key = second.put(shredded)
    assert first.get_many([kept, shredded]) == {kept: kept_key, shredded: shredded_key}

    first.destroy(shredded)
    first.destroy(shredded)  # idempotent
    assert second.get(shredded) is None
    assert second.get_many([kept, shredded]) == {kept: kept_key}
    assert sorted(second.likeness_ids()) == [kept]


def test_the_main_database_or_a_file_url_is_refused_as_the_keys_place(keys_url, tmp_path: Path):
    master_key = load_master_key(key_b64=generate_master_key())
    with pytest.raises(SharedKeyStoreError, match="must be a PostgreSQL database"):
        open_key_store(
            path=tmp_path / "unused.db",
            url=f"sqlite:///{tmp_path / 'keys.db'}",
            master_key=master_key,
            main_database_url=POSTGRES_URL,
        )
    keys = build_engine(keys_url)
    with keys.begin() as connection:  # Clearhouse migrated into it, in a schema of its own
        connection.execute(text("CREATE SCHEMA main"))
        connection.execute(text("CREATE TABLE main.alembic_version (version_num text)"))
    keys.dispose()
    with pytest.raises(SharedKeyStoreError, match="a database of their own"):
        open_key_store(
            path=tmp_path / "unused.db",
            url=keys_url,
            master_key=master_key,
            main_database_url=POSTGRES_URL,
        )


@pytest.mark.still_photos
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_face_enrolled_on_one_machine_opens_on_another_and_its_deletion_shreds_it_for_both(
    stills_settings, keys_url, tmp_path
):
    def machine(name: str) -> Settings:
        """Each machine its own data dir and key files; the databases and master key shared."""
        return stills_settings.model_copy(
            update={
                "data_dir": tmp_path / name,
                "likeness_key_store": None,
                "likeness_key_store_url": keys_url,
                "face_master_key": master_key,
            }
        )

    master_key = generate_master_key()
    with TestClient(create_app(machine("one"))) as one:
        holder = sign_up(one)
        asset = create_asset(one, holder, kind="likeness")
        likeness_id = uuid.UUID(asset["id"])
        enrolled = enrol(one, holder, asset["id"], OBAMA)
        assert enrolled.json()["enrolment"]["status"] == "enrolled", enrolled.text
        with TestClient(create_app(machine("two"))) as two:
            runtime = two.app.state.likeness
            assert runtime.index.count() == 3  # rebuilt from the vault with the shared keys
            assert indexed_likenesses(runtime, "obama2.jpg") == {likeness_id}

            deleted = one.delete(f"/v1/assets/{asset['id']}", headers=holder.headers)
            assert deleted.status_code == 200, deleted.text
            assert runtime.key_store.get(likeness_id) is None
    with TestClient(create_app(machine("three"))) as three:
        assert three.app.state.likeness.index.count() == 0
