"""Generation jobs: each cleared request run by the generator, with its state and progress;
the licence of each asset a released generation used, and its charge.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 01:52:46.343634
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "generation_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("clearance_id", sa.Uuid(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "generating",
                "checking_output",
                "released",
                "blocked",
                "cancelled",
                "failed",
                name="jobstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("declared_use", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("parameters", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("clearance_token", sa.Text(), nullable=False),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("steps_total", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reasons", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("output_check_id", sa.Uuid(), nullable=True),
        sa.Column("video_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("video_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clearance_id"],
            ["clearance.id"],
            name=op.f("fk_generation_job_clearance_id_clearance"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["output_check_id"],
            ["output_check.id"],
            name=op.f("fk_generation_job_output_check_id_output_check"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["account.id"],
            name=op.f("fk_generation_job_requester_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_job")),
        sa.UniqueConstraint("clearance_id", name=op.f("uq_generation_job_clearance_id")),
    )
    with op.batch_alter_table("generation_job", schema=None) as batch_op:
        batch_op.create_index(
            "ix_generation_job_requester_created", ["requester_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_generation_job_state_heartbeat", ["state", "heartbeat_at"], unique=False
        )

    op.create_table(
        "charge",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("generation_id", sa.Uuid(), nullable=False),
        sa.Column("payer_id", sa.Uuid(), nullable=False),
        sa.Column("clearance_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_charge_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["clearance_id"],
            ["clearance.id"],
            name=op.f("fk_charge_clearance_id_clearance"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generation_job.id"],
            name=op.f("fk_charge_generation_id_generation_job"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["account.id"],
            name=op.f("fk_charge_payer_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge")),
        sa.UniqueConstraint("generation_id", name=op.f("uq_charge_generation_id")),
    )
    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_payer_id"), ["payer_id"], unique=False)

    op.create_table(
        "licence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("generation_id", sa.Uuid(), nullable=False),
        sa.Column("clearance_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("policy_version_id", sa.Uuid(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["asset.id"], name=op.f("fk_licence_asset_id_asset"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["clearance_id"],
            ["clearance.id"],
            name=op.f("fk_licence_clearance_id_clearance"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generation_job.id"],
            name=op.f("fk_licence_generation_id_generation_job"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["consent_grant.id"],
            name=op.f("fk_licence_grant_id_consent_grant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["policy_version.id"],
            name=op.f("fk_licence_policy_version_id_policy_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence")),
        sa.UniqueConstraint("generation_id", "asset_id", name=op.f("uq_licence_generation_id")),
    )
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.create_index("ix_licence_asset_created", ["asset_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.drop_index("ix_licence_asset_created")

    op.drop_table("licence")
    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_payer_id"))

    op.drop_table("charge")
    with op.batch_alter_table("generation_job", schema=None) as batch_op:
        batch_op.drop_index("ix_generation_job_state_heartbeat")
        batch_op.drop_index("ix_generation_job_requester_created")

    op.drop_table("generation_job")
