"""Webhook secrets sealed at rest, and their rotation with an overlap: each endpoint's secret is
sealed (clearhouse/sealed_secrets.py) instead of kept in plain text, and the secret before the
last rotation is kept, sealed too, with the time until which it still signs. Upgrading seals
every existing secret; downgrading opens them again (the previous secrets are dropped).

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-24 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

import clearhouse.db
from clearhouse.sealed_secrets import SecretSealer

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSE = "webhook secret"  # notifications/endpoints.py seals with it

endpoint = sa.table(
    "webhook_endpoint",
    sa.column("id", sa.Uuid()),
    sa.column("secret", sa.String()),
    sa.column("sealed_secret", sa.LargeBinary()),
)


def _sealer(*, endpoints: int, direction: str) -> SecretSealer:
    sealer: SecretSealer | None = context.config.attributes.get("secret_sealer")
    if sealer is None:
        raise RuntimeError(
            f"migration 0027 {direction} {'seals' if direction == 'up' else 'opens'} the "
            f"secrets of {endpoints} webhook endpoint(s) and needs the master key: run "
            "`clearhouse db upgrade` (or pass secret_sealer to upgrade_database) with "
            "CLEARHOUSE_DATA_DIR / CLEARHOUSE_FACE_MASTER_KEY set as the app runs"
        )
    return sealer


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_secret", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("sealed_previous_secret", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("previous_secret_until", clearhouse.db.UTCDateTime(), nullable=True)
        )
    connection = op.get_bind()
    rows = connection.execute(sa.select(endpoint.c.id, endpoint.c.secret)).all()
    if rows:
        sealer = _sealer(endpoints=len(rows), direction="up")
        for endpoint_id, secret in rows:
            connection.execute(
                endpoint.update()
                .where(endpoint.c.id == endpoint_id)
                .values(sealed_secret=sealer.seal(secret, purpose=PURPOSE, row_id=endpoint_id))
            )
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.alter_column("sealed_secret", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("secret")


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
    connection = op.get_bind()
    rows = connection.execute(sa.select(endpoint.c.id, endpoint.c.sealed_secret)).all()
    if rows:
        sealer = _sealer(endpoints=len(rows), direction="down")
        for endpoint_id, sealed in rows:
            connection.execute(
                endpoint.update()
                .where(endpoint.c.id == endpoint_id)
                .values(secret=sealer.open(sealed, purpose=PURPOSE, row_id=endpoint_id))
            )
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False
        )
        batch_op.drop_column("previous_secret_until")
        batch_op.drop_column("sealed_previous_secret")
        batch_op.drop_column("sealed_secret")
