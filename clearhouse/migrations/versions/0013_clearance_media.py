"""Clearances with media: the input media a clearance's digest covers, and output checks
(each check of a cleared request's generated output, and the assets it found that the
clearance does not cover).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 00:55:10.671985
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearhouse.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "output_check",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clearance_id", sa.Uuid(), nullable=False),
        sa.Column(
            "verdict",
            sa.Enum(
                "release_allowed",
                "release_blocked",
                name="outputverdict",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("input_media_sha256", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("frames_checked", sa.Integer(), nullable=False),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clearance_id"],
            ["clearance.id"],
            name=op.f("fk_output_check_clearance_id_clearance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_output_check")),
    )
    with op.batch_alter_table("output_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_output_check_clearance_id"), ["clearance_id"], unique=False
        )

    with op.batch_alter_table("clearance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "input_media_sha256",
                clearhouse.db.JSONDocument,
                server_default="[]",
                nullable=False,
            )
        )

    with op.batch_alter_table("cleared_asset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("output_check_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cleared_asset_output_check_id_output_check"),
            "output_check",
            ["output_check_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("cleared_asset", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_cleared_asset_output_check_id_output_check"), type_="foreignkey"
        )
        batch_op.drop_column("output_check_id")

    with op.batch_alter_table("clearance", schema=None) as batch_op:
        batch_op.drop_column("input_media_sha256")

    with op.batch_alter_table("output_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_output_check_clearance_id"))

    op.drop_table("output_check")
