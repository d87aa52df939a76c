"""Clearances: each decision on a generation request, the assets it touched, owners' approvals.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 22:08:24.954392
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clearance",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "cleared",
                "denied",
                "needs_approval",
                name="clearanceoutcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("request_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("declared_use", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("parameters", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("content_categories", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("reasons", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("quote", clearhouse.db.JSONDocument, nullable=True),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("token_expires_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["account.id"],
            name=op.f("fk_clearance_requester_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearance")),
    )
    with op.batch_alter_table("clearance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clearance_request_digest"), ["request_digest"], unique=False
        )
        batch_op.create_index(
            "ix_clearance_requester_created", ["requester_id", "created_at"], unique=False
        )

    op.create_table(
        "cleared_asset",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clearance_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "allow",
                "deny",
                "needs_approval",
                name="assetoutcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "found_in",
            sa.Enum(
                "request",
                "output",
                name="foundin",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reasons", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("matched_by", clearhouse.db.JSONDocument, nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("policy_version_id", sa.Uuid(), nullable=True),
        sa.Column("fee_minor", sa.Integer(), nullable=True),
        sa.Column("disclosed", sa.Boolean(), nullable=False),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_cleared_asset_asset_id_asset"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["clearance_id"],
            ["clearance.id"],
            name=op.f("fk_cleared_asset_clearance_id_clearance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["consent_grant.id"],
            name=op.f("fk_cleared_asset_grant_id_consent_grant"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["policy_version.id"],
            name=op.f("fk_cleared_asset_policy_version_id_policy_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cleared_asset")),
    )
    with op.batch_alter_table("cleared_asset", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cleared_asset_asset_created", ["asset_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cleared_asset_clearance_id"), ["clearance_id"], unique=False
        )

    op.create_table(
        "use_approval",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cleared_asset_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("request_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "declined",
                name="approvalstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_use_approval_asset_id_asset"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["cleared_asset_id"],
            ["cleared_asset.id"],
            name=op.f("fk_use_approval_cleared_asset_id_cleared_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["account.id"],
            name=op.f("fk_use_approval_owner_id_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["account.id"],
            name=op.f("fk_use_approval_requester_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_use_approval")),
        sa.UniqueConstraint("cleared_asset_id", name=op.f("uq_use_approval_cleared_asset_id")),
    )
    with op.batch_alter_table("use_approval", schema=None) as batch_op:
        batch_op.create_index("ix_use_approval_owner_status", ["owner_id", "status"], unique=False)
        batch_op.create_index(
            "ix_use_approval_request", ["requester_id", "request_digest", "asset_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("use_approval", schema=None) as batch_op:
        batch_op.drop_index("ix_use_approval_request")
        batch_op.drop_index("ix_use_approval_owner_status")

    op.drop_table("use_approval")
    with op.batch_alter_table("cleared_asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cleared_asset_clearance_id"))
        batch_op.drop_index("ix_cleared_asset_asset_created")

    op.drop_table("cleared_asset")
    with op.batch_alter_table("clearance", schema=None) as batch_op:
        batch_op.drop_index("ix_clearance_requester_created")
        batch_op.drop_index(batch_op.f("ix_clearance_request_digest"))

    op.drop_table("clearance")
