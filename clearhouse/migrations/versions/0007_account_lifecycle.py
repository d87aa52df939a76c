"""The account lifecycle: session epochs (a changed password ends every earlier access
token), signed-out access tokens, and deleted accounts (date of birth erased).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.alter_column("date_of_birth", existing_type=sa.Date(), nullable=True)
    op.create_table(
        "signed_out_token",
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_signed_out_token_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_signed_out_token")),
    )
    with op.batch_alter_table("signed_out_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signed_out_token_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_signed_out_token_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signed_out_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_out_token_expires_at"))
        batch_op.drop_index(batch_op.f("ix_signed_out_token_account_id"))
    op.drop_table("signed_out_token")
    # Deleted accounts have no date of birth left to restore: they get the epoch's first day.
    op.execute("UPDATE account SET date_of_birth = '1970-01-01' WHERE date_of_birth IS NULL")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.alter_column("date_of_birth", existing_type=sa.Date(), nullable=False)
        batch_op.drop_column("session_epoch")
        batch_op.drop_column("deleted_at")
