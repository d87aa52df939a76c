"""Tables of payouts: each holder's Stripe connected account, and each payout to it.

A payout is one (holder, period, currency): unique, so a period's run pays a holder in a
currency at most once, however often it runs. Its ledger entry (key ``payout:<payout id>``)
is posted in the transaction that makes it; its Stripe transfer goes out afterwards and is
recorded when Stripe confirms it (payouts/runs.py says why that order, and what a crash does).
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from clearhouse.db import JSONDocument, UTCDateTime, enum_column, new_id, utcnow


class PayoutState(StrEnum):
    """Where a payout stands. pending: posted to the ledger, no transfer confirmed yet;
    paid: Stripe confirmed its transfer; failed: the last attempt met a transient error
    (network, Stripe's 5xx, our balance at Stripe too low) and the next run tries again;
    returned: it failed for good (Stripe refused the transfer, or reversed all of it) and its
    amount went back to the holder's payable."""

    pending = "pending"
    paid = "paid"
    failed = "failed"
    returned = "returned"


OPEN_STATES = (PayoutState.pending, PayoutState.failed)
"""The states a run sends (or looks up) the transfer of."""


class PayoutAccount(SQLModel, table=True):
    """A holder's Stripe Connect (Express) connected account: made once, never replaced, so
    every attempt of a payout is sent to the same destination."""

    __tablename__ = "payout_account"

    holder_id: uuid.UUID = Field(primary_key=True, foreign_key="account.id", ondelete="RESTRICT")
    stripe_account_id: str = Field(max_length=255, unique=True, description="acct_...")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # The account as Stripe's latest ``account.updated`` event described it (payouts/
    # account_events.py); all None until the first one arrives.
    details_submitted: bool | None = Field(default=None)
    payouts_enabled: bool | None = Field(
        default=None, description="False: Stripe will not pay this account out; runs skip it."
    )
    charges_enabled: bool | None = Field(default=None)
    requirements: dict | None = Field(
        default=None,
        sa_column=Column(JSONDocument, nullable=True),
        description="Stripe's ``requirements`` (currently_due, past_due, disabled_reason ...).",
    )
    stripe_state_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime, nullable=True),
        description="When Stripe made the event these fields come from: an older one is ignored.",
    )


class Payout(SQLModel, table=True):
    """What one holder is paid for one period in one currency, and how its transfer went."""

    __tablename__ = "payout"
    __table_args__ = (
        UniqueConstraint("holder_id", "period", "currency"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Its unique constraint, led by holder_id, is what the holder's list reads.
    holder_id: uuid.UUID = Field(foreign_key="account.id", ondelete="RESTRICT")
    period: str = Field(max_length=7, description="The run's month, YYYY-MM.")
    currency: str = Field(max_length=3, description="ISO 4217, upper case.")
    amount_minor: int = Field(
        sa_column=Column(BigInteger, nullable=False),
        description="What the holder was owed for the period when the payout was made: earned "
        "by the month's end and not paid (payouts/runs.py).",
    )
    state: PayoutState = Field(sa_column=enum_column(PayoutState, index=True))
    destination: str = Field(
        max_length=255, description="The connected account (acct_...) its transfer goes to."
    )
    stripe_transfer_id: str | None = Field(
        default=None, max_length=255, unique=True, description="tr_..., once Stripe confirmed it."
    )
    failed_attempts: int = Field(default=0, description="Attempts that met an error.")
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
