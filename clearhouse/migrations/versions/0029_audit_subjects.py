"""The account an audit entry without an asset is about (an organisation, or the person whose
agents changed), as a column beside ``asset_id``: an organisation's audit log and a likeness's
(its person's agents) read it. It copies the body's ``details.subject_id``, which the entries
written so far carry already; upgrading copies it for them, with the append-only triggers
set aside for that one statement.

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UPDATE_TRIGGER = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry BEGIN "
    "SELECT RAISE(ABORT, 'audit_entry is append-only: UPDATE refused'); END"
)  # as 0001 made it


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_entry_subject_id"), ["subject_id"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_update_delete")
        op.execute(
            "UPDATE audit_entry SET subject_id = (body -> 'details' ->> 'subject_id')::uuid "
            "WHERE asset_id IS NULL AND body -> 'details' ->> 'subject_id' IS NOT NULL"
        )
        op.execute("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_update_delete")
    else:
        # SQLite keeps a UUID as 32 hex digits, without the dashes the body has.
        op.execute("DROP TRIGGER audit_entry_no_update")
        op.execute(
            "UPDATE audit_entry SET subject_id = "
            "replace(json_extract(body, '$.details.subject_id'), '-', '') "
            "WHERE asset_id IS NULL AND json_extract(body, '$.details.subject_id') IS NOT NULL"
        )
        op.execute(SQLITE_UPDATE_TRIGGER)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_entry_subject_id"), table_name="audit_entry")
    # Not in batch mode: SQLite's batch would copy the table and lose its triggers.
    op.drop_column("audit_entry", "subject_id")
