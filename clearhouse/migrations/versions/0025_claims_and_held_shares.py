"""Claims and held shares: each character's or style's claim with its evidence (and an
uploaded document), the held shares of unverified assets' uses, and the ledger's held share
account kind (its two CHECKs rewritten).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-24 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import clearhouse.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "creator_wallet",
    "holder_payable",
    "platform_revenue",
    "stripe_clearing",
    "refunds",
    "allowance",
    "adjustments",
    "disputes",
)


def _in(kinds: Sequence[str]) -> str:
    return ", ".join(f"'{kind}'" for kind in kinds)


def _rewrite_account_checks(*, kinds: Sequence[str], owned: Sequence[str]) -> None:
    """The kind's CHECK and the owner-by-kind CHECK of ledger_account, for these kinds. On
    SQLite the table is rebuilt (it has no triggers; the partial index is made again)."""
    owner_by_kind = (
        f"(owner_id IS NOT NULL AND kind IN ({_in(owned)})) OR "
        f"(owner_id IS NULL AND kind NOT IN ({_in(owned)}))"
    )
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("uq_ledger_account_platform_kind", table_name="ledger_account")
    with op.batch_alter_table("ledger_account", recreate="always" if sqlite else "never") as batch:
        batch.drop_constraint(op.f("ck_ledger_account_owner_by_kind"), type_="check")
        batch.drop_constraint(op.f("ck_ledger_account_accountkind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_ledger_account_owner_by_kind"), sa.text(owner_by_kind)
        )
        batch.create_check_constraint(
            op.f("ck_ledger_account_accountkind"), sa.text(f"kind IN ({_in(kinds)})")
        )
    if sqlite:
        op.create_index(
            "uq_ledger_account_platform_kind",
            "ledger_account",
            ["kind", "currency"],
            unique=True,
            sqlite_where=sa.text("owner_id IS NULL"),
        )


def upgrade() -> None:
    op.create_table(
        "claim_document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["account.id"],
            name=op.f("fk_claim_document_owner_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_document")),
    )
    op.create_index(op.f("ix_claim_document_owner_id"), "claim_document", ["owner_id"])
    op.create_table(
        "asset_claim",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "verified",
                "rejected",
                name="claimstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "evidence_kind",
            sa.Enum(
                "trademark_registration",
                "copyright_registration",
                "link",
                "document",
                name="evidencekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_asset_claim_asset_id_asset"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["account.id"],
            name=op.f("fk_asset_claim_owner_id_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["account.id"],
            name=op.f("fk_asset_claim_decided_by_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["claim_document.id"],
            name=op.f("fk_asset_claim_document_id_claim_document"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_claim")),
        sa.UniqueConstraint("asset_id", name=op.f("uq_asset_claim_asset_id")),
    )
    op.create_index(op.f("ix_asset_claim_owner_id"), "asset_claim", ["owner_id"])
    op.create_index("ix_asset_claim_status_submitted", "asset_claim", ["status", "submitted_at"])
    op.create_table(
        "held_share",
        sa.Column("generation_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("holder_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "held",
                "paid",
                "returned",
                name="heldsharestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("held_at", clearhouse.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", clearhouse.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("settled_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_held_share_amount_positive")),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generation_job.id"],
            name=op.f("fk_held_share_generation_id_generation_job"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["asset.id"],
            name=op.f("fk_held_share_asset_id_asset"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["account.id"],
            name=op.f("fk_held_share_holder_id_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["account.id"],
            name=op.f("fk_held_share_creator_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("generation_id", "asset_id", name=op.f("pk_held_share")),
    )
    op.create_index("ix_held_share_asset_state", "held_share", ["asset_id", "state"])
    op.create_index("ix_held_share_holder_state", "held_share", ["holder_id", "state"])
    _rewrite_account_checks(
        kinds=(*KINDS, "held_share"),
        owned=("creator_wallet", "held_share", "holder_payable"),
    )


def downgrade() -> None:
    # Refused by the CHECKs while any held share account exists: its money must go somewhere.
    _rewrite_account_checks(kinds=KINDS, owned=("creator_wallet", "holder_payable"))
    op.drop_index("ix_held_share_holder_state", table_name="held_share")
    op.drop_index("ix_held_share_asset_state", table_name="held_share")
    op.drop_table("held_share")
    op.drop_index("ix_asset_claim_status_submitted", table_name="asset_claim")
    op.drop_index(op.f("ix_asset_claim_owner_id"), table_name="asset_claim")
    op.drop_table("asset_claim")
    op.drop_index(op.f("ix_claim_document_owner_id"), table_name="claim_document")
    op.drop_table("claim_document")
