"""Verified email addresses, the outbox, and look-alike handle reservations.

Accounts made before this are unverified: their addresses were never checked. They sign in
as before and ask for a link (POST /v1/accounts/me/verification-email) before granting or
enrolling again. Existing handles are reserved by their skeleton, oldest asset first; a
deleted asset's handle stays reserved 365 days from its deletion.

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-23 19:10:00.000000
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db
from clearhouse.names import fold

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True)
        )

    op.create_table(
        "email_verification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_email_verification_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_verification")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_email_verification_token_sha256")),
    )
    with op.batch_alter_table("email_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_verification_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "outbox_email",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("sent_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_email")),
    )
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_email_recipient"), ["recipient"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_email_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    reservation = op.create_table(
        "handle_reservation",
        sa.Column("skeleton", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("reserved_until", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_handle_reservation_asset_id_asset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("skeleton", name=op.f("pk_handle_reservation")),
    )
    with op.batch_alter_table("handle_reservation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handle_reservation_asset_id"), ["asset_id"], unique=False
        )
    _reserve_existing_handles(reservation)


def _reserve_existing_handles(reservation: sa.Table) -> None:
    asset = sa.table(
        "asset",
        sa.column("id", sa.Uuid()),
        sa.column("handle", sa.String()),
        sa.column("created_at", clearhouse.db.UTCDateTime(timezone=True)),
        sa.column("deleted_at", clearhouse.db.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(asset.c.id, asset.c.handle, asset.c.deleted_at).order_by(
            asset.c.deleted_at.is_not(None), asset.c.created_at
        )
    ).all()
    reserved: dict[str, dict] = {}
    for row in rows:  # live assets first, then the oldest: they keep their handles' skeletons
        skeleton = fold(row.handle)
        if skeleton not in reserved:
            until = row.deleted_at + timedelta(days=365) if row.deleted_at else None
            reserved[skeleton] = {"skeleton": skeleton, "asset_id": row.id, "reserved_until": until}
    if reserved:
        op.bulk_insert(reservation, list(reserved.values()))


def downgrade() -> None:
    with op.batch_alter_table("handle_reservation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handle_reservation_asset_id"))
    op.drop_table("handle_reservation")
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_email_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_email_recipient"))
    op.drop_table("outbox_email")
    with op.batch_alter_table("email_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_verification_account_id"))
    op.drop_table("email_verification")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
