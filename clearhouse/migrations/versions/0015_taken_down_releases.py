"""Takedowns: when a released generation's clip was taken down, and by the withdrawal of
which grant (set in the revocation's transaction); licences found by their grant.

Released generations already licensed under a withdrawn grant are taken down as of that
withdrawal (the earliest, when several were).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 03:30:45.622404
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearhouse.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("taken_down_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("takedown_grant_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            "ix_generation_job_requester_taken_down",
            ["requester_id", "taken_down_at"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_generation_job_takedown_grant_id_consent_grant"),
            "consent_grant",
            ["takedown_grant_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.create_index("ix_licence_grant", ["grant_id"], unique=False)

    op.execute(
        sa.text(
            "UPDATE generation_job SET takedown_grant_id = ("
            " SELECT licence.grant_id FROM licence"
            " JOIN consent_grant ON consent_grant.id = licence.grant_id"
            " WHERE licence.generation_id = generation_job.id"
            " AND consent_grant.status = 'revoked'"
            " ORDER BY consent_grant.revoked_at, consent_grant.id LIMIT 1"
            ") WHERE state = 'released'"
        )
    )
    op.execute(
        sa.text(
            "UPDATE generation_job SET taken_down_at = ("
            " SELECT revoked_at FROM consent_grant"
            " WHERE consent_grant.id = generation_job.takedown_grant_id"
            ") WHERE takedown_grant_id IS NOT NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.drop_index("ix_licence_grant")

    with op.batch_alter_table("generation_job", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_generation_job_takedown_grant_id_consent_grant"), type_="foreignkey"
        )
        batch_op.drop_index("ix_generation_job_requester_taken_down")
        batch_op.drop_column("takedown_grant_id")
        batch_op.drop_column("taken_down_at")
