"""A verification link sent because someone signed up again with an unverified account's
address carries that sign-up's name and date of birth beside its password: using the link
makes all three the account's, so the squatter's claimed age no longer decides whether the
person who owns the address is protected as a minor. Links sent before carry none and keep
the account's.

Revision ID: 0036
Revises: 0035
Create Date: 2026-11-25 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("email_verification") as batch:
        batch.add_column(sa.Column("display_name", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("email_verification") as batch:
        batch.drop_column("date_of_birth")
        batch.drop_column("display_name")
