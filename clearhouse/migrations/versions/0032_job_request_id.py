"""A generation job keeps the id of the HTTP request that queued it, so that the worker's
log lines about the job carry it.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("generation_job", sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_job") as batch:
        batch.drop_column("request_id")
