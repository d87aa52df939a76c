"""Third-party usage: a third-party generator's release is licensed, charged and posted like
our generator's, with no generation. The licence's and the charge's generation become
optional (a charge is unique per clearance; a third-party release licenses each asset of its
clearance once), a usage entry names its clearance, and a held share belongs to a generation
or a clearance, one of the two (an id of its own as primary key).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02 10:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = sa.table(
    "held_share",
    sa.column("id", sa.Uuid()),
    sa.column("generation_id", sa.Uuid()),
    sa.column("asset_id", sa.Uuid()),
)


def upgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    with op.batch_alter_table("licence") as batch:
        batch.alter_column("generation_id", existing_type=sa.Uuid(), nullable=True)
    op.create_index(
        "uq_licence_third_party_clearance_asset",
        "licence",
        ["clearance_id", "asset_id"],
        unique=True,
        sqlite_where=sa.text("generation_id IS NULL"),
        postgresql_where=sa.text("generation_id IS NULL"),
    )
    with op.batch_alter_table("charge") as batch:
        batch.alter_column("generation_id", existing_type=sa.Uuid(), nullable=True)
        batch.create_unique_constraint(op.f("uq_charge_clearance_id"), ["clearance_id"])
    # Added in place, never rebuilt: SQLite would drop the entries' append-only triggers.
    if sqlite:
        op.execute(
            "ALTER TABLE journal_entry ADD COLUMN clearance_id CHAR(32) "
            "CONSTRAINT fk_journal_entry_clearance_id_clearance "
            "REFERENCES clearance (id) ON DELETE RESTRICT"
        )
    else:
        op.add_column("journal_entry", sa.Column("clearance_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f("fk_journal_entry_clearance_id_clearance"),
            "journal_entry",
            "clearance",
            ["clearance_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    _held_share_by_id()


def _held_share_by_id() -> None:
    """An id for each held share, made its primary key; its generation optional and a
    clearance beside it, exactly one of the two."""
    op.add_column("held_share", sa.Column("id", sa.Uuid(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_HELD.c.generation_id, _HELD.c.asset_id)).all()
    for generation_id, asset_id in rows:
        connection.execute(
            _HELD.update()
            .where(_HELD.c.generation_id == generation_id, _HELD.c.asset_id == asset_id)
            .values(id=uuid.uuid4())
        )
    with op.batch_alter_table("held_share") as batch:
        batch.drop_constraint(op.f("pk_held_share"), type_="primary")
        batch.alter_column("id", existing_type=sa.Uuid(), nullable=False)
        batch.alter_column("generation_id", existing_type=sa.Uuid(), nullable=True)
        batch.create_primary_key(op.f("pk_held_share"), ["id"])
        batch.add_column(sa.Column("clearance_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_held_share_clearance_id_clearance"),
            "clearance",
            ["clearance_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_unique_constraint(
            op.f("uq_held_share_generation_id"), ["generation_id", "asset_id"]
        )
        batch.create_unique_constraint(
            op.f("uq_held_share_clearance_id"), ["clearance_id", "asset_id"]
        )
        batch.create_check_constraint(
            op.f("ck_held_share_one_release"),
            sa.text("(generation_id IS NULL) <> (clearance_id IS NULL)"),
        )


def downgrade() -> None:
    op.execute("DELETE FROM held_share WHERE generation_id IS NULL")
    with op.batch_alter_table("held_share") as batch:
        batch.drop_constraint(op.f("ck_held_share_one_release"), type_="check")
        batch.drop_constraint(op.f("uq_held_share_clearance_id"), type_="unique")
        batch.drop_constraint(op.f("uq_held_share_generation_id"), type_="unique")
        batch.drop_constraint(op.f("fk_held_share_clearance_id_clearance"), type_="foreignkey")
        batch.drop_column("clearance_id")
        batch.drop_constraint(op.f("pk_held_share"), type_="primary")
        batch.alter_column("generation_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_primary_key(op.f("pk_held_share"), ["generation_id", "asset_id"])
        batch.drop_column("id")
    if op.get_context().dialect.name == "sqlite":
        # In place (SQLite 3.35+), never rebuilt: the append-only triggers stay.
        op.execute("ALTER TABLE journal_entry DROP COLUMN clearance_id")
    else:
        op.drop_constraint(
            op.f("fk_journal_entry_clearance_id_clearance"), "journal_entry", type_="foreignkey"
        )
        op.drop_column("journal_entry", "clearance_id")
    with op.batch_alter_table("charge") as batch:
        batch.drop_constraint(op.f("uq_charge_clearance_id"), type_="unique")
        batch.alter_column("generation_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("uq_licence_third_party_clearance_asset", table_name="licence")
    with op.batch_alter_table("licence") as batch:
        batch.alter_column("generation_id", existing_type=sa.Uuid(), nullable=False)
