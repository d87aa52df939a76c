"""Invitations (branch invitations): naming an agent or adding a member sends an invitation
to an address, and the relation exists only once the account at that address accepts it.

Revision ID: 0038
Revises: 0037
Create Date: 2026-11-26 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "invitation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", _enum("invitationkind", "agent", "member"), nullable=False),
        sa.Column("inviter_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("role", _enum("memberrole", "owner", "manager", "viewer"), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column(
            "state",
            _enum("invitationstate", "pending", "accepted", "declined", "withdrawn", "ended"),
            nullable=False,
        ),
        sa.Column("created_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["account.id"],
            name=op.f("fk_invitation_inviter_id_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_invitation_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
    )
    op.create_index(op.f("ix_invitation_address"), "invitation", ["address"])
    op.create_index(op.f("ix_invitation_inviter_id"), "invitation", ["inviter_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_invitation_inviter_id"), table_name="invitation")
    op.drop_index(op.f("ix_invitation_address"), table_name="invitation")
    op.drop_table("invitation")
