"""Wrapped likeness data keys in a PostgreSQL database of their own, shared by API machines.

The embedded key file (likeness.key_store.WrappedKeyFile) lives on one machine's disk, so
API processes on several machines need the keys somewhere they all reach:
``CLEARHOUSE_LIKENESS_KEY_STORE_URL`` names a PostgreSQL database for them. It must not be the
main database (nor share a database with it in another schema): a backup of the main
database would then carry the keys along, and a deleted face would come back with a restore.

A destroyed key's row is gone for every reader once ``delete`` returns (the commit is
durable). PostgreSQL does not overwrite a deleted row's bytes: they may stay in the table's
pages and the write-ahead log until reused, as the embedded file's journal may in free
blocks. Use encrypted storage; the keys are wrapped by the master key, so those bytes alone
open nothing.
"""

import uuid
from collections.abc import Iterable

from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine, make_url

from clearhouse.db import build_engine
from likeness.vault_crypto import VaultCryptoError

_metadata = MetaData()
_keys = Table(
    "likeness_data_key",
    _metadata,
    Column("likeness_id", String(36), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class SharedKeyStoreError(VaultCryptoError):
    """The shared key store's URL is not a PostgreSQL database apart from the main one."""


def _holds_the_main_database(engine: Engine) -> bool:
    """Whether Clearhouse's migrations ran in this database, in any schema."""
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT 1 FROM information_schema.tables"
                " WHERE table_name = 'alembic_version' LIMIT 1"
            )
        ).first()
    return found is not None


class WrappedKeyTable:
    """The wrapped keys as rows of one table in a database of their own (see the module)."""

    def __init__(self, url: str) -> None:
        if make_url(url).get_backend_name() != "postgresql":
            raise SharedKeyStoreError(
                "CLEARHOUSE_LIKENESS_KEY_STORE_URL must be a PostgreSQL database "
                "(postgresql://…); on one machine leave it unset for the embedded key file"
            )
        self.engine = build_engine(url)
        if _holds_the_main_database(self.engine):
            self.engine.dispose()
            raise SharedKeyStoreError(
                "CLEARHOUSE_LIKENESS_KEY_STORE_URL names a database that holds Clearhouse's "
                "main tables: give the likeness keys a database of their own, so that a backup "
                "of the main database never carries them"
            )
        _metadata.create_all(self.engine)

    def insert(self, likeness_id: uuid.UUID, wrapped: bytes) -> bytes:
        """Store ``wrapped`` unless the likeness has a key already; return the stored one."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(_keys)
                .values(likeness_id=str(likeness_id), wrapped=wrapped)
                .on_conflict_do_nothing(index_elements=["likeness_id"])
            )
            return connection.execute(
                select(_keys.c.wrapped).where(_keys.c.likeness_id == str(likeness_id))
            ).scalar_one()

    def read_many(self, likeness_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        wanted = [str(likeness_id) for likeness_id in likeness_ids]
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(_keys.c.likeness_id, _keys.c.wrapped).where(_keys.c.likeness_id.in_(wanted))
            ).all()
        return {uuid.UUID(likeness_id): wrapped for likeness_id, wrapped in rows}

    def delete(self, likeness_id: uuid.UUID) -> None:
        with self.engine.begin() as connection:
            connection.execute(_keys.delete().where(_keys.c.likeness_id == str(likeness_id)))

    def likeness_ids(self) -> list[uuid.UUID]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(_keys.c.likeness_id)).scalars().all()
        return [uuid.UUID(likeness_id) for likeness_id in rows]
