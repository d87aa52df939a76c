"""API keys carry scopes (clearhouse/accounts/scopes.py). Keys made before them keep what
they could do, less what no key may do any more (manage keys, use staff powers): every scope
but `clearance`, which is new.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-23 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearhouse.db

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: a migration keeps meaning what it meant when it was written.
LEGACY_KEY_SCOPES = ["account:read", "assets:read", "assets:write", "likeness:scan"]


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scopes", clearhouse.db.JSONDocument, nullable=True))
    api_key = sa.table("api_key", sa.column("scopes", clearhouse.db.JSONDocument))
    op.execute(api_key.update().values(scopes=LEGACY_KEY_SCOPES))
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.alter_column("scopes", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("scopes")
