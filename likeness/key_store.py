"""The likeness key store: each likeness's data key, kept apart from the main database.

A backup of the main database holds sealed templates and kept media but never a data key, so
once a likeness is deleted here its rows in any restored copy stay ciphertext for good. The
vault talks to :class:`LikenessKeyStore`, which a cloud KMS can implement (a data key per
likeness, destroyed on deletion). :class:`WrappedKeyStore` keeps each key wrapped by the master
key, in a SQLite file of its own under the data directory's ``keys/`` by default
(:class:`WrappedKeyFile`), or for API machines beyond one in a PostgreSQL database of its own
(likeness.key_table).
"""

import contextlib
import json
import os
import sqlite3
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from likeness import vault_crypto
from likeness.vault_crypto import DataKey, MasterKey, VaultCryptoError


class KeyStoreError(VaultCryptoError):
    """The key store cannot be used: unsafe file, or the same place as the main database."""


class LikenessKeyStore(Protocol):
    """Where likeness data keys live. An absent key means destroyed, or never made."""

    def put(self, likeness_id: uuid.UUID) -> DataKey:
        """A new data key for the likeness, stored durably before it is returned.

        If one exists already (two enrolments at once), that one is returned: templates
        sealed by either request must open with the same key."""
        ...

    def get(self, likeness_id: uuid.UUID) -> DataKey | None:
        """The likeness's data key, or None: destroyed (the likeness is shredded) or unknown."""
        ...

    def get_many(self, likeness_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, DataKey]:
        """The data keys of those likenesses that still have one (the index rebuild's read)."""
        ...

    def destroy(self, likeness_id: uuid.UUID) -> None:
        """Destroy the likeness's data key for good; durable when this returns. Idempotent."""
        ...

    def likeness_ids(self) -> list[uuid.UUID]:
        """Every likeness that has a data key (to find keys whose likeness is gone)."""
        ...


class WrappedKeys(Protocol):
    """Where the wrapped data keys are kept, one per likeness."""

    def insert(self, likeness_id: uuid.UUID, wrapped: bytes) -> bytes:
        """Store ``wrapped`` unless the likeness has a key already; return the stored one."""
        ...

    def read_many(self, likeness_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bytes]: ...

    def delete(self, likeness_id: uuid.UUID) -> None:
        """Durable when this returns; idempotent."""
        ...

    def likeness_ids(self) -> list[uuid.UUID]: ...


class WrappedKeyFile:
    """A SQLite file of wrapped data keys, one row per likeness; nothing else lives in it.

    Created 0600 in a 0700 folder (SQLite gives its journal the file's mode). Every write
    commits with ``synchronous=EXTRA`` (the journal's deletion is synced too, so a commit
    survives a power cut) and ``secure_delete`` overwrites a destroyed key's bytes in the
    file. The rollback journal of a deletion briefly holds the old page; it is unlinked on
    commit, so only the filesystem's free blocks can still hold it (encrypt the disk).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise KeyStoreError(
                f"likeness key store {self.path} has mode {mode:04o}; others must not read "
                "it: chmod 600 it"
            )
        with self._connect() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS likeness_data_key ("
                " likeness_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL,"
                " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: safe across threads and forked workers, and cheap next to
        # the work that needs a key (an enrolment, a deletion, an index rebuild).
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("PRAGMA secure_delete = ON")
            connection.execute("PRAGMA synchronous = EXTRA")
            yield connection
        finally:
            connection.close()

    def insert(self, likeness_id: uuid.UUID, wrapped: bytes) -> bytes:
        """Store ``wrapped`` unless the likeness has a key already; return the stored one."""
        with self._connect() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO likeness_data_key (likeness_id, wrapped) VALUES (?, ?)",
                (str(likeness_id), wrapped),
            )
            (stored,) = connection.execute(
                "SELECT wrapped FROM likeness_data_key WHERE likeness_id = ?", (str(likeness_id),)
            ).fetchone()
        return stored

    def read_many(self, likeness_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        wanted = json.dumps([str(likeness_id) for likeness_id in likeness_ids])
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT likeness_id, wrapped FROM likeness_data_key"
                " WHERE likeness_id IN (SELECT value FROM json_each(?))",
                (wanted,),
            ).fetchall()
        return {uuid.UUID(likeness_id): wrapped for likeness_id, wrapped in rows}

    def delete(self, likeness_id: uuid.UUID) -> None:
        with self._connect() as connection:
            connection.execute(
                "DELETE FROM likeness_data_key WHERE likeness_id = ?", (str(likeness_id),)
            )

    def likeness_ids(self) -> list[uuid.UUID]:
        with self._connect() as connection:
            rows = connection.execute("SELECT likeness_id FROM likeness_data_key").fetchall()
        return [uuid.UUID(likeness_id) for (likeness_id,) in rows]


class WrappedKeyStore:
    """The built-in :class:`LikenessKeyStore`: keys wrapped by the master key (so the stored
    keys alone open nothing), kept in ``keys``."""

    def __init__(self, *, keys: WrappedKeys, master_key: MasterKey) -> None:
        self.keys = keys
        self.master_key = master_key

    def put(self, likeness_id: uuid.UUID) -> DataKey:
        _, wrapped = vault_crypto.new_data_key(master_key=self.master_key, likeness_id=likeness_id)
        return self._unwrap(likeness_id, self.keys.insert(likeness_id, wrapped))

    def get(self, likeness_id: uuid.UUID) -> DataKey | None:
        return self.get_many([likeness_id]).get(likeness_id)

    def get_many(self, likeness_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, DataKey]:
        return {
            likeness_id: self._unwrap(likeness_id, wrapped)
            for likeness_id, wrapped in self.keys.read_many(likeness_ids).items()
        }

    def destroy(self, likeness_id: uuid.UUID) -> None:
        self.keys.delete(likeness_id)

    def likeness_ids(self) -> list[uuid.UUID]:
        return self.keys.likeness_ids()

    def _unwrap(self, likeness_id: uuid.UUID, wrapped: bytes) -> DataKey:
        return vault_crypto.unwrap_data_key(
            master_key=self.master_key, likeness_id=likeness_id, wrapped=wrapped
        )


def open_key_store(
    *, path: Path, url: str | None = None, master_key: MasterKey, main_database_url: str
) -> WrappedKeyStore:
    """The shared key store in the PostgreSQL database at ``url`` if one is given, else the
    embedded one at ``path``; either refused where the main database is, since a backup of
    it would carry the keys along."""
    if url is not None:
        from likeness.key_table import WrappedKeyTable

        return WrappedKeyStore(keys=WrappedKeyTable(url), master_key=master_key)
    prefix = "sqlite:///"
    if main_database_url.startswith(prefix):
        main = Path(main_database_url.removeprefix(prefix).split("?")[0]).resolve()
        if Path(path).resolve() == main:
            raise KeyStoreError(
                f"CLEARHOUSE_LIKENESS_KEY_STORE ({path}) is the main database; give the key "
                "store a file of its own, e.g. keys/likeness-keys.db in the data directory"
            )
    return WrappedKeyStore(keys=WrappedKeyFile(path), master_key=master_key)
