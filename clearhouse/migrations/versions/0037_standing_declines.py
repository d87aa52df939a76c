"""An owner's decline stands: a declined request's ``expires_at`` is when the no lapses (the
requester's requests for the asset are refused until then), and the requester's declines of
the assets a clearance touches are read by requester and asset.

Declines answered before this revision kept the unanswered request's expiry, long past: they
are given the default 30 days from their answer, as they would have had. Going down keeps the
later expiries, which the earlier code never reads for a declined request.

Revision ID: 0037
Revises: 0036
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import clearhouse.db

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECLINE_DAYS = 30  # clearhouse.settings.Settings.decline_days's default

use_approval = sa.table(
    "use_approval",
    sa.column("id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("decided_at", clearhouse.db.UTCDateTime(timezone=True)),
    sa.column("expires_at", clearhouse.db.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("use_approval", schema=None) as batch_op:
        batch_op.create_index(
            "ix_use_approval_requester_asset", ["requester_id", "asset_id", "status"], unique=False
        )
    connection = op.get_bind()
    declined = connection.execute(
        sa.select(use_approval.c.id, use_approval.c.decided_at).where(
            use_approval.c.status == "declined", use_approval.c.decided_at.is_not(None)
        )
    ).all()
    for approval_id, decided_at in declined:
        connection.execute(
            use_approval.update()
            .where(use_approval.c.id == approval_id)
            .values(expires_at=decided_at + timedelta(days=DECLINE_DAYS))
        )


def downgrade() -> None:
    with op.batch_alter_table("use_approval", schema=None) as batch_op:
        batch_op.drop_index("ix_use_approval_requester_asset")
