"""Tables of the ledger: ledger accounts with their cached balances, journal entries, legs.

Amounts are integers in minor units (cents) with an ISO 4217 currency, never floats. A leg
carries a positive debit or a positive credit, never both (a CHECK); its currency is its
account's (a foreign key on the pair); every entry's debits equal its credits per currency
(on PostgreSQL a deferred constraint trigger checks each entry at commit; on every database
``payouts.journal`` refuses an unbalanced entry before writing it). An entry's legs are all
inserted with it: it states how many it has, and a leg's position must be below that number
(a CHECK and a foreign key on the pair). Entries and legs are never changed or deleted
(triggers, migration 0016): a correction is a new entry that reverses one.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    UniqueConstraint,
    text,
)
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class AccountKind(StrEnum):
    """What a ledger account holds. The first three belong to an account holder, the rest to
    the platform (one of each per currency)."""

    creator_wallet = "creator_wallet"  # credits a creator may spend on generations
    holder_payable = "holder_payable"  # what the platform owes a rights holder
    # A holder's shares of uses of their unverified assets: never paid out; moved to the
    # payable when a claim is verified, back to the creators when it is rejected
    # (payouts/held.py; which use and asset each share is for: HeldShare).
    held_share = "held_share"
    platform_revenue = "platform_revenue"  # the platform's part of each use
    stripe_clearing = "stripe_clearing"  # money held at Stripe: credits bought, not paid out
    refunds = "refunds"  # money given back to creators
    allowance = "allowance"  # the free monthly credits given to creators
    adjustments = "adjustments"  # operators' corrections of wallets
    disputes = (
        "disputes"  # credits held from a wallet while a card dispute of their purchase is open
    )


OWNED_KINDS = frozenset(
    {AccountKind.creator_wallet, AccountKind.holder_payable, AccountKind.held_share}
)


class EntryEvent(StrEnum):
    """The business event an entry records; its idempotency key starts with it."""

    # A release: our generator's, key ``release:<generation id>``; a third-party generator's,
    # ``release:clearance:<clearance id>``.
    usage = "usage"
    reversal = "reversal"  # undoes one entry: key ``reversal:<that entry's key>``
    adjustment = "adjustment"  # an operator's correction: key ``adjustment:<operator's key>``
    purchase = "purchase"  # credits bought: key ``purchase:<Stripe PaymentIntent id>``
    refund = "refund"  # a purchase refunded at Stripe: key ``refund:<Stripe refund id>``
    allowance = "allowance"  # the free monthly credits: ``allowance:<account id>:<YYYY-MM>``
    payout = "payout"  # a payout to a holder: key ``payout:<payout id>``
    # Part or all of a paid payout's transfer reversed at Stripe: key
    # ``payout_return:<the transfer reversal's id>``.
    payout_return = "payout_return"
    # A card dispute of a purchase opened: its amount held from the wallet, key
    # ``dispute:<Stripe dispute id>``; closed: ``dispute_closed:<dispute id>`` (won: back to the
    # wallet; lost: written off against Stripe clearing).
    dispute = "dispute"
    dispute_closed = "dispute_closed"
    # An asset's held shares moved to its holder's payable, its claim verified: key
    # ``held_release:<asset id>:<currency>:<digest of the uses>``.
    held_release = "held_release"
    # One use's held share given back to its creator, the claim rejected (or the asset's
    # claim rejected before the release): key ``held_return:<generation id>:<asset id>``
    # (``held_return:clearance:<clearance id>:<asset id>`` for a third-party release).
    held_return = "held_return"


def _owned_kinds_sql() -> str:
    return ", ".join(f"'{kind.value}'" for kind in sorted(OWNED_KINDS))


class LedgerAccount(SQLModel, table=True):
    """One account of the ledger: one per (owner, kind, currency), made on first use."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        UniqueConstraint("owner_id", "kind", "currency"),
        # NULLs are distinct in a unique constraint: the platform's accounts need their own.
        Index(
            "uq_ledger_account_platform_kind",
            "kind",
            "currency",
            unique=True,
            sqlite_where=text("owner_id IS NULL"),
            postgresql_where=text("owner_id IS NULL"),
        ),
        # What the legs' foreign key on (account, currency) points at.
        UniqueConstraint("id", "currency"),
        CheckConstraint(
            f"(owner_id IS NOT NULL AND kind IN ({_owned_kinds_sql()})) OR "
            f"(owner_id IS NULL AND kind NOT IN ({_owned_kinds_sql()}))",
            name="owner_by_kind",
        ),
        CheckConstraint("length(currency) = 3 AND upper(currency) = currency", name="currency"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    owner_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="account.id",
        ondelete="RESTRICT",
        description="The creator or holder it belongs to; none for the platform's accounts.",
    )
    kind: AccountKind = Field(sa_column=enum_column(AccountKind))
    currency: str = Field(max_length=3, description="ISO 4217, upper case.")
    balance_minor: int = Field(
        default=0,
        sa_column=Column(BigInteger, nullable=False, server_default="0"),
        description="Cached: the sum of its legs on its normal side less the other side "
        "(payouts.accounts.NORMAL_SIDE), updated in the transaction that posts them; with "
        "its balance slots' (LedgerBalanceSlot), where it has some.",
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class LedgerBalanceSlot(SQLModel, table=True):
    """Part of a platform account's cached balance. Every usage credits the platform's revenue:
    with its balance on one row, each posting held that row's lock until it committed and
    postings from several connections queued there. On PostgreSQL a posting moves a platform
    account by a slot of its connection's instead (payouts/storage.py), so postings on
    different slots do not wait for each other. An account's balance is its row's
    ``balance_minor`` plus its slots'."""

    __tablename__ = "ledger_balance_slot"
    __table_args__ = (CheckConstraint("slot >= 0", name="slot_not_negative"),)

    account_id: uuid.UUID = Field(
        primary_key=True, foreign_key="ledger_account.id", ondelete="RESTRICT"
    )
    slot: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    balance_minor: int = Field(
        sa_column=Column(BigInteger, nullable=False),
        description="What the postings on this slot moved the account by, on its normal side.",
    )


class JournalEntry(SQLModel, table=True):
    """One business event's movement of money: legs whose debits equal their credits."""

    __tablename__ = "journal_entry"
    __table_args__ = (
        CheckConstraint("leg_count >= 2", name="two_legs_or_more"),
        # What the legs' foreign key on (entry, leg count) points at.
        UniqueConstraint("id", "leg_count"),
        # Each entry is reversed at most once; the entries that reverse nothing (most) are
        # left out of the index.
        Index(
            "uq_journal_entry_reverses",
            "reverses_id",
            unique=True,
            sqlite_where=text("reverses_id IS NOT NULL"),
            postgresql_where=text("reverses_id IS NOT NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    idempotency_key: str = Field(
        max_length=200,
        unique=True,
        description="From the business event (``release:<generation id>``): the same event "
        "posted twice is recorded once.",
    )
    # A plain string, not an enum with a CHECK: a new event must not need the table rebuilt
    # (SQLite alters a table by rebuilding it, which would drop its append-only triggers).
    event: str = Field(max_length=32, description="An EntryEvent.")
    memo: str = Field(max_length=500, description="What happened, for a person to read.")
    generation_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="generation_job.id",
        ondelete="RESTRICT",
        description="The released generation a usage (or its reversal) is for.",
    )
    clearance_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="clearance.id",
        ondelete="RESTRICT",
        description="The clearance a third-party generator's usage (key "
        "``release:clearance:<clearance id>``) is for.",
    )
    reverses_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="journal_entry.id",
        ondelete="RESTRICT",
        description="The entry this one reverses (each at most once).",
    )
    leg_count: int = Field(
        sa_column=Column(SmallInteger, nullable=False),
        description="How many legs it has: its legs are positions 0 to leg_count - 1, all "
        "inserted with it (checked at commit on PostgreSQL), so none can be added later.",
    )
    posted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class JournalLeg(SQLModel, table=True):
    """One side of an entry on one ledger account: a positive debit or a positive credit."""

    __tablename__ = "journal_leg"
    __table_args__ = (
        ForeignKeyConstraint(
            ["entry_id", "entry_leg_count"],
            ["journal_entry.id", "journal_entry.leg_count"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["account_id", "currency"],
            ["ledger_account.id", "ledger_account.currency"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "(debit_minor > 0 AND credit_minor = 0) OR (debit_minor = 0 AND credit_minor > 0)",
            name="one_side_positive",
        ),
        CheckConstraint("position >= 0 AND position < entry_leg_count", name="position_in_entry"),
        # A statement reads one payable's legs, by entry (payouts/statements.py, migration 0019).
        Index("ix_journal_leg_account", "account_id", "entry_id"),
    )

    entry_id: uuid.UUID = Field(primary_key=True)
    position: int = Field(
        sa_column=Column(SmallInteger, primary_key=True, autoincrement=False),
        description="0, 1, 2 ... within the entry, below its leg count.",
    )
    entry_leg_count: int = Field(
        sa_column=Column(SmallInteger, nullable=False),
        description="Its entry's leg count (a foreign key on the pair holds it to the entry's).",
    )
    account_id: uuid.UUID
    currency: str = Field(max_length=3)
    debit_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    credit_minor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class PurchaseState(StrEnum):
    pending = "pending"  # the PaymentIntent is made; Stripe has not said it succeeded
    succeeded = "succeeded"  # paid: its credits are in the wallet
    failed = "failed"  # the payment failed (a later success still wins)


class CreditPurchase(SQLModel, table=True):
    """Credits a creator asked to buy: one Stripe PaymentIntent, made with an idempotency key
    derived from this row's id, and what Stripe later says of it."""

    __tablename__ = "credit_purchase"
    __table_args__ = (
        Index("ix_credit_purchase_account_created", "account_id", "created_at"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("refunded_minor >= 0", name="refunded_not_negative"),
        CheckConstraint("length(currency) = 3 AND upper(currency) = currency", name="currency"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    account_id: uuid.UUID = Field(
        foreign_key="account.id", ondelete="RESTRICT", description="Who buys (and whose wallet)."
    )
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3, description="ISO 4217, upper case.")
    state: PurchaseState = Field(sa_column=enum_column(PurchaseState))
    payment_intent_id: str | None = Field(
        default=None, max_length=255, unique=True, description="Stripe's pi_... id."
    )
    checkout_session_id: str | None = Field(
        default=None,
        max_length=255,
        unique=True,
        description="Stripe's cs_... id, when it is bought through a Checkout Session.",
    )
    refunded_minor: int = Field(
        default=0,
        sa_column=Column(BigInteger, nullable=False, server_default="0"),
        description="What Stripe refunded of it so far (each refund posted once).",
    )
    failure_message: str | None = Field(
        default=None, max_length=500, description="Stripe's reason for the last failure."
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class StripeEvent(SQLModel, table=True):
    """Each Stripe webhook event as received, once: its id is the key, so a second delivery
    finds it and changes nothing."""

    __tablename__ = "stripe_event"

    id: str = Field(primary_key=True, max_length=255, description="Stripe's evt_... id.")
    type: str = Field(max_length=100)
    handled: bool = Field(description="Whether a handler acted on it (unknown types are kept).")
    payload: dict = Field(sa_column=Column(JSONDocument, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class PendingTakedownReversal(SQLModel, table=True):
    """A taken-down generation whose usage could not be reversed when it was taken down
    (payouts/takedowns.py): recorded in the takedown's transaction, retried by each payout run
    and ``clearhouse payouts retry-reversals``, removed in the transaction that posts the
    reversal (whose idempotency key makes a second posting impossible anyway)."""

    __tablename__ = "pending_takedown_reversal"

    generation_id: uuid.UUID = Field(
        primary_key=True, foreign_key="generation_job.id", ondelete="RESTRICT"
    )
    reason: str = Field(max_length=400, description="Why it was taken down (the entry's memo).")
    attempts: int = Field(default=0, description="Retries that failed so far.")
    last_error: str | None = Field(default=None, max_length=500)
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class HeldShareState(StrEnum):
    held = "held"  # in the holder's held account
    paid = "paid"  # moved to the holder's payable: the claim was verified
    returned = "returned"  # given back to the creator: rejected, or the use taken down


class HeldShare(SQLModel, table=True):
    """A holder's share of one use of one unverified asset, held: what the held account's
    balance is made of, and where each part went. Settled once (a conditional change of
    state under the row's lock), never both paid and returned. The use is our generator's
    release (a generation) or a third-party generator's (a clearance), one of the two."""

    __tablename__ = "held_share"
    __table_args__ = (
        Index("ix_held_share_asset_state", "asset_id", "state"),
        Index("ix_held_share_holder_state", "holder_id", "state"),
        UniqueConstraint("generation_id", "asset_id"),
        UniqueConstraint("clearance_id", "asset_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("(generation_id IS NULL) <> (clearance_id IS NULL)", name="one_release"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    generation_id: uuid.UUID | None = Field(
        default=None, foreign_key="generation_job.id", ondelete="RESTRICT"
    )
    clearance_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="clearance.id",
        ondelete="RESTRICT",
        description="A third-party generator's release, which has no generation.",
    )
    asset_id: uuid.UUID = Field(foreign_key="asset.id", ondelete="RESTRICT")
    holder_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    creator_id: uuid.UUID = Field(
        foreign_key="account.id", ondelete="RESTRICT", description="Whose wallet it came from."
    )
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    state: HeldShareState = Field(sa_column=enum_column(HeldShareState))
    held_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    settled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    settled_key: str | None = Field(
        default=None, max_length=200, description="The entry that paid or returned it."
    )
