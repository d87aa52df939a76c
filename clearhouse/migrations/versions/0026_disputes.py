"""Disputes: a dispute about an asset with its thread of messages, and the asset standing
``disputed`` (an upheld dispute; the standing's CHECK rewritten).

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-27 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STANDINGS = ("active", "in_review", "inactive")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _rewrite_standing_check(standings: Sequence[str]) -> None:
    """The CHECK of asset.standing. On SQLite the table is rebuilt (its partial index made
    again: reflection does not bring back its WHERE)."""
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("uq_asset_live_handle", table_name="asset")
    with op.batch_alter_table("asset", recreate="always" if sqlite else "never") as batch:
        batch.drop_constraint(op.f("ck_asset_assetstanding"), type_="check")
        values = ", ".join(f"'{standing}'" for standing in standings)
        batch.create_check_constraint(
            op.f("ck_asset_assetstanding"), sa.text(f"standing IN ({values})")
        )
    if sqlite:
        op.create_index(
            "uq_asset_live_handle",
            "asset",
            ["handle"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
        )


def upgrade() -> None:
    op.create_table(
        "dispute",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("opener_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            _enum("disputekind", "improper_registration", "improper_use", "content_standards"),
            nullable=False,
        ),
        sa.Column(
            "status",
            _enum("disputestatus", "open", "answered", "upheld", "dismissed"),
            nullable=False,
        ),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("opened_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer_due_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["asset.id"], name=op.f("fk_dispute_asset_id_asset"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["opener_id"],
            ["account.id"],
            name=op.f("fk_dispute_opener_id_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["account.id"],
            name=op.f("fk_dispute_decided_by_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["claim_document.id"],
            name=op.f("fk_dispute_document_id_claim_document"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute")),
    )
    op.create_index(op.f("ix_dispute_asset_id"), "dispute", ["asset_id"])
    op.create_index(op.f("ix_dispute_opener_id"), "dispute", ["opener_id"])
    op.create_index("ix_dispute_status_opened", "dispute", ["status", "opened_at"])
    op.create_table(
        "dispute_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("side", _enum("partyside", "opener", "holder", "staff"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_answer", sa.Boolean(), nullable=False),
        sa.Column("written_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["dispute.id"],
            name=op.f("fk_dispute_message_dispute_id_dispute"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["account.id"],
            name=op.f("fk_dispute_message_author_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_message")),
    )
    op.create_index(op.f("ix_dispute_message_dispute_id"), "dispute_message", ["dispute_id"])
    _rewrite_standing_check((*STANDINGS, "disputed"))


def downgrade() -> None:
    # Refused by the CHECK while an asset stands disputed: decide what it becomes first.
    _rewrite_standing_check(STANDINGS)
    op.drop_index(op.f("ix_dispute_message_dispute_id"), table_name="dispute_message")
    op.drop_table("dispute_message")
    op.drop_index("ix_dispute_status_opened", table_name="dispute")
    op.drop_index(op.f("ix_dispute_opener_id"), table_name="dispute")
    op.drop_index(op.f("ix_dispute_asset_id"), table_name="dispute")
    op.drop_table("dispute")
