"""Statements: the legs of one ledger account found by an index on (account, entry): a statement
reads a holder's payable's legs, and a plan that looks each entry's leg up on that account finds
it at once (on the account alone it read all the account's legs for each entry).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-24 06:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not in a batch: on SQLite a batch may rebuild the table, which would drop the legs'
    # append-only triggers; an index needs no rebuild.
    op.create_index("ix_journal_leg_account", "journal_leg", ["account_id", "entry_id"])


def downgrade() -> None:
    op.drop_index("ix_journal_leg_account", table_name="journal_leg")
