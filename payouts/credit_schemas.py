"""API shapes of credits: a purchase asked for, and what a creator reads of their wallet."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from clearhouse.schemas import RequestBody
from payouts.models import PurchaseState

#: Stripe's smallest charge in USD is 50 cents; a purchase starts at a dollar.
MIN_PURCHASE_MINOR = 100
#: The most one purchase buys: more is a conversation, not a card payment.
MAX_PURCHASE_MINOR = 500_000


class CreditPurchaseCreate(RequestBody):
    """Credits to buy, paid by card through Stripe."""

    amount_minor: int = Field(
        ge=MIN_PURCHASE_MINOR, le=MAX_PURCHASE_MINOR, examples=[2000], description="Minor units."
    )
    currency: str = Field(
        pattern=r"^[A-Z]{3}$",
        examples=["USD"],
        description="ISO 4217; the rate card's currency (quotes are priced in it).",
    )


class CreditPurchasePublic(BaseModel):
    id: uuid.UUID
    amount_minor: int
    currency: str
    state: PurchaseState
    payment_intent_id: str | None
    checkout_session_id: str | None
    refunded_minor: int
    failure_message: str | None
    created_at: datetime
    updated_at: datetime


class CreditPurchaseStarted(CreditPurchasePublic):
    client_secret: str = Field(
        description="The PaymentIntent's client secret: confirm the payment with Stripe.js "
        "(or the mobile SDKs). Its credits reach your wallet when Stripe tells us it succeeded."
    )


class CreditCheckoutStarted(CreditPurchasePublic):
    checkout_url: str = Field(
        description="Stripe Checkout's page for this purchase: send the creator there. Stripe "
        "sends them back to this purchase (`?checkout=success` or `?checkout=cancelled`); its "
        "credits reach your wallet when Stripe tells us the session was paid."
    )


class WalletBalance(BaseModel):
    currency: str
    balance_minor: int = Field(
        description="What you may spend. Below zero only after a refund of credits already spent."
    )


class MonthlyAllowance(BaseModel):
    month: str = Field(description="The UTC month, YYYY-MM.")
    amount_minor: int = Field(description="0: no allowance here.")
    currency: str
    granted: bool = Field(description="Whether this month's allowance is in your wallet.")


class CreditsPublic(BaseModel):
    balances: list[WalletBalance]
    allowance: MonthlyAllowance


class WalletMovement(BaseModel):
    """One entry that moved your wallet."""

    entry_id: uuid.UUID
    event: str = Field(description="purchase, refund, allowance, usage, reversal, adjustment.")
    memo: str
    amount_minor: int = Field(description="Positive: credits in; negative: credits out.")
    currency: str
    generation_id: uuid.UUID | None
    posted_at: datetime
