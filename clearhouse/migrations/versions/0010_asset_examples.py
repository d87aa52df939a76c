"""Owner-written keywords and example prompts on assets, and what the IP text check stores:
text embeddings per asset and sentence model, and a counter of catalogue changes.

Existing assets get no keywords and no example prompts, and no stored embeddings: the text
check embeds their descriptions when it first loads them (rights/matching/store.py), and
stores them the next time the owner changes the asset.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 22:17:15.242868
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "text_catalogue_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_catalogue_generation")),
    )
    op.execute("INSERT INTO text_catalogue_generation (id, generation) VALUES (1, 0)")
    op.create_table(
        "asset_text_embedding",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("model_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_asset_text_embedding_asset_id_asset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "asset_id", "model_key", "position", name=op.f("pk_asset_text_embedding")
        ),
    )
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keywords", clearhouse.db.JSONDocument, nullable=True))
        batch_op.add_column(sa.Column("example_prompts", clearhouse.db.JSONDocument, nullable=True))
        batch_op.add_column(
            sa.Column("catalogue_generation", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_asset_catalogue_generation"), ["catalogue_generation"], unique=False
        )
    asset = sa.table(
        "asset",
        sa.column("keywords", clearhouse.db.JSONDocument),
        sa.column("example_prompts", clearhouse.db.JSONDocument),
    )
    op.execute(asset.update().values(keywords=[], example_prompts=[]))
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.alter_column("keywords", nullable=False)
        batch_op.alter_column("example_prompts", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_catalogue_generation"))
        batch_op.drop_column("catalogue_generation")
        batch_op.drop_column("example_prompts")
        batch_op.drop_column("keywords")
    op.drop_table("asset_text_embedding")
    op.drop_table("text_catalogue_generation")
