"""Licence offers: an owner's offer of a licence for an output their asset blocked, to the
clearance's requester, at their current policy's price.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-24 16:35:05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import clearhouse.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCES = (
    ("asset_id", "asset"),
    ("clearance_id", "clearance"),
    ("cleared_asset_id", "cleared_asset"),
    ("generation_id", "generation_job"),
    ("grant_id", "consent_grant"),
    ("offered_by", "account"),
    ("output_check_id", "output_check"),
    ("owner_id", "account"),
    ("policy_version_id", "policy_version"),
    ("requester_id", "account"),
)


def upgrade() -> None:
    op.create_table(
        "licence_offer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cleared_asset_id", sa.Uuid(), nullable=False),
        sa.Column("clearance_id", sa.Uuid(), nullable=False),
        sa.Column("output_check_id", sa.Uuid(), nullable=False),
        sa.Column("generation_id", sa.Uuid(), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("offered_by", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("policy_version_id", sa.Uuid(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column(
            "lines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "accepted",
                "declined",
                name="offerstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_licence_offer_price_not_negative")),
        *(
            sa.ForeignKeyConstraint(
                [column],
                [f"{table}.id"],
                name=op.f(f"fk_licence_offer_{column}_{table}"),
                ondelete="RESTRICT",
            )
            for column, table in REFERENCES
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_offer")),
    )
    op.create_index(op.f("ix_licence_offer_asset_id"), "licence_offer", ["asset_id"])
    op.create_index("ix_licence_offer_blocked_use", "licence_offer", ["cleared_asset_id", "status"])
    op.create_index(
        "ix_licence_offer_requester_created", "licence_offer", ["requester_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_licence_offer_requester_created", table_name="licence_offer")
    op.drop_index("ix_licence_offer_blocked_use", table_name="licence_offer")
    op.drop_index(op.f("ix_licence_offer_asset_id"), table_name="licence_offer")
    op.drop_table("licence_offer")
