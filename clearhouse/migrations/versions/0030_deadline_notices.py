"""Deadline notices: when a licence offer's lapse was recorded, and when a dispute's holder was
reminded of its answer's deadline and both parties told it passed unanswered. Each is set once,
by the sweep that tells (clearhouse/deadlines.py).

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-24 19:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearhouse.db

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TO_LAPSE = "status = 'pending' AND lapsed_at IS NULL"


def upgrade() -> None:
    op.add_column(
        "licence_offer",
        sa.Column("lapsed_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_licence_offer_to_lapse",
        "licence_offer",
        ["expires_at"],
        sqlite_where=sa.text(TO_LAPSE),
        postgresql_where=sa.text(TO_LAPSE),
    )
    op.add_column(
        "dispute",
        sa.Column("answer_reminded_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "dispute",
        sa.Column("overdue_told_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("dispute") as batch:
        batch.drop_column("overdue_told_at")
        batch.drop_column("answer_reminded_at")
    op.drop_index("ix_licence_offer_to_lapse", table_name="licence_offer")
    with op.batch_alter_table("licence_offer") as batch:
        batch.drop_column("lapsed_at")
