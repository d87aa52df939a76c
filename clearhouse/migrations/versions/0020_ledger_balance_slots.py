"""Balance slots: a platform account's cached balance spread over rows a posting picks by its
connection, so that postings from several connections do not queue on one row's lock
(payouts.models.LedgerBalanceSlot). An account's balance is its row's plus its slots'; the
balances held before this revision stay on the account's row.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24 13:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_balance_slot",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("slot >= 0", name=op.f("ck_ledger_balance_slot_slot_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_account.id"],
            name=op.f("fk_ledger_balance_slot_account_id_ledger_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "slot", name=op.f("pk_ledger_balance_slot")),
    )


def downgrade() -> None:
    # The slots' part of each balance goes back onto its account's row first.
    op.execute(
        "UPDATE ledger_account SET balance_minor = balance_minor + "
        "(SELECT sum(s.balance_minor) FROM ledger_balance_slot s "
        "WHERE s.account_id = ledger_account.id) "
        "WHERE id IN (SELECT account_id FROM ledger_balance_slot)"
    )
    op.drop_table("ledger_balance_slot")
