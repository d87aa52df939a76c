"""Move the likeness data keys out of the main database into the likeness key store.

A key kept beside the templates it opens comes back with every restored backup, so a deleted
likeness would come back too. Upgrading copies each wrapped key (still wrapped by the master
key, byte for byte) into the key store file, durably, then drops the column; ``likeness_key``
keeps only timestamps. Downgrading copies the keys back; a likeness whose key the store no
longer holds was shredded, and its rows are deleted, since nothing can open them.

Both directions need the key store's path (``clearhouse db upgrade`` and the app pass
CLEARHOUSE_LIKENESS_KEY_STORE or its default) whenever there are keys to move.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:12:05.482113
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from likeness.key_store import WrappedKeyFile

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

likeness_key = sa.table(
    "likeness_key",
    sa.column("likeness_id", sa.Uuid()),
    sa.column("wrapped_data_key", sa.LargeBinary()),
)


def _key_file(*, moving: int, direction: str) -> WrappedKeyFile:
    path: Path | None = context.config.attributes.get("likeness_key_store")
    if path is None:
        raise RuntimeError(
            f"migration 0005 {direction} moves {moving} likeness data key(s) and needs the "
            "likeness key store: run `clearhouse db upgrade` (or pass likeness_key_store to "
            "upgrade_database) with CLEARHOUSE_DATA_DIR / CLEARHOUSE_LIKENESS_KEY_STORE set as "
            "the app runs"
        )
    return WrappedKeyFile(path)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(likeness_key.c.likeness_id, likeness_key.c.wrapped_data_key)
    ).all()
    if rows:
        key_file = _key_file(moving=len(rows), direction="up")
        for likeness_id, wrapped in rows:
            if key_file.insert(likeness_id, wrapped) != wrapped:
                raise RuntimeError(
                    f"the likeness key store {key_file.path} holds another data key for "
                    f"likeness {likeness_id} than the database; it belongs to another "
                    "installation: point CLEARHOUSE_LIKENESS_KEY_STORE at this one's"
                )
    with op.batch_alter_table("likeness_key", schema=None) as batch_op:
        batch_op.drop_column("wrapped_data_key")


def downgrade() -> None:
    with op.batch_alter_table("likeness_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    likeness_ids = connection.execute(sa.select(likeness_key.c.likeness_id)).scalars().all()
    if likeness_ids:
        stored = _key_file(moving=len(likeness_ids), direction="down").read_many(likeness_ids)
        for likeness_id in likeness_ids:
            if likeness_id in stored:
                connection.execute(
                    likeness_key.update()
                    .where(likeness_key.c.likeness_id == likeness_id)
                    .values(wrapped_data_key=stored[likeness_id])
                )
            else:
                for name in ("face_template", "enrolment_media", "likeness_key"):
                    table = sa.table(name, sa.column("likeness_id", sa.Uuid()))
                    connection.execute(table.delete().where(table.c.likeness_id == likeness_id))
    with op.batch_alter_table("likeness_key", schema=None) as batch_op:
        batch_op.alter_column("wrapped_data_key", existing_type=sa.LargeBinary(), nullable=False)
