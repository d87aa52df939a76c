"""Clearances with media: the input media a clearance's digest covers.

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
    with op.batch_alter_table("clearance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "input_media_sha256",
                clearhouse.db.JSONDocument,
                server_default="[]",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clearance", schema=None) as batch_op:
        batch_op.drop_column("input_media_sha256")
