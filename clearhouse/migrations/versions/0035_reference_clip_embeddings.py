"""A reference picture keeps its CLIP embedding beside its fingerprint, with the model that
made it, when the operator configured a CLIP model (CLEARHOUSE_CLIP_MODEL_DIR): the picture
itself is never kept, so the embedding is computed at upload. Pictures uploaded before have
none and keep matching by fingerprint.

Revision ID: 0035
Revises: 0034
Create Date: 2026-11-25 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("asset_reference_image") as batch:
        batch.add_column(sa.Column("embedding_model", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_asset_reference_image_embedding_with_its_model"),
            sa.text("(embedding_model IS NULL) = (embedding IS NULL)"),
        )


def downgrade() -> None:
    with op.batch_alter_table("asset_reference_image") as batch:
        batch.drop_constraint(
            op.f("ck_asset_reference_image_embedding_with_its_model"), type_="check"
        )
        batch.drop_column("embedding")
        batch.drop_column("embedding_model")
