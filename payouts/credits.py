"""Credits: buying them through Stripe, what a creator's wallet holds, and the check at
clearance that it holds enough.

A purchase is three short steps, none holding a transaction open while Stripe is called: the
purchase row is stored (pending); a PaymentIntent (or a Checkout Session, whose payment is a
PaymentIntent too) is made with an idempotency key derived from that row (a retried call makes
no second one) and metadata naming the purchase and the account; its id is stored. Its credits
reach the wallet only when Stripe's signed webhook says the payment succeeded
(payouts/purchase_events.py), never because a client says so.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import stripe
from sqlalchemy import Engine, bindparam
from sqlmodel import Session, col, select

from clearhouse.db import write_session
from clearhouse.errors import InvalidRequest
from clearhouse.pagination import PageParams, paginate
from clearhouse.settings import Settings
from generator.models import FINAL_STATES, GenerationJob
from licensing.models import Clearance
from licensing.quote import PUBLISHED_RATE_CARD
from payouts.accounts import wallet
from payouts.allowance import allowance_key, allowance_month, grant_monthly_allowance
from payouts.credit_schemas import MonthlyAllowance, WalletBalance, WalletMovement
from payouts.errors import InsufficientCredits, StripeOff, StripeUnavailable
from payouts.journal import entry_posted
from payouts.models import (
    AccountKind,
    CreditPurchase,
    JournalEntry,
    JournalLeg,
    LedgerAccount,
    PurchaseState,
)
from payouts.storage import ledger_store
from payouts.stripe_gateway import stripe_client


def purchase_idempotency_key(purchase_id: uuid.UUID) -> str:
    """Stripe's idempotency key for a purchase's PaymentIntent: one purchase, one intent."""
    return f"credit-purchase:{purchase_id}"


@dataclass(frozen=True, slots=True)
class CreditOrder:
    """What a creator asks to buy."""

    account_id: uuid.UUID
    amount_minor: int
    currency: str


def checkout_idempotency_key(purchase_id: uuid.UUID) -> str:
    """Stripe's idempotency key for a purchase's Checkout Session: one purchase, one session."""
    return f"credit-checkout:{purchase_id}"


def start_purchase(
    engine: Engine, order: CreditOrder, *, settings: Settings, now: datetime
) -> tuple[CreditPurchase, str]:
    """Store a pending purchase and make its PaymentIntent; the purchase and the intent's
    client secret. Raises StripeOff (nothing is stored), InvalidRequest (a currency quotes are
    not priced in) and StripeUnavailable (the purchase is kept, failed)."""
    client, purchase = _pending_purchase(engine, order, settings=settings, now=now)
    with _failing_purchase(engine, purchase.id, now=now):
        intent = client.v1.payment_intents.create(
            params={
                "amount": order.amount_minor,
                "currency": order.currency.lower(),
                "metadata": _purchase_metadata(purchase),
            },
            options={"idempotency_key": purchase_idempotency_key(purchase.id)},
        )
    return _stored(engine, purchase.id, payment_intent_id=intent.id), intent.client_secret


def start_checkout(
    engine: Engine, order: CreditOrder, *, settings: Settings, now: datetime
) -> tuple[CreditPurchase, str]:
    """Store a pending purchase and make its Stripe Checkout Session (a page at Stripe where
    the creator pays); the purchase and the session's URL. The session and its PaymentIntent
    both carry the purchase in their metadata, so whichever event Stripe sends first finds it.
    Raises as :func:`start_purchase`."""
    client, purchase = _pending_purchase(engine, order, settings=settings, now=now)
    back = f"{settings.public_url.rstrip('/')}/v1/credits/purchases/{purchase.id}"
    with _failing_purchase(engine, purchase.id, now=now):
        checkout = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": order.currency.lower(),
                            "unit_amount": order.amount_minor,
                            "product_data": {"name": "Clearhouse credits"},
                        },
                    }
                ],
                "success_url": f"{back}?checkout=success",
                "cancel_url": f"{back}?checkout=cancelled",
                "client_reference_id": str(purchase.id),
                "metadata": _purchase_metadata(purchase),
                "payment_intent_data": {"metadata": _purchase_metadata(purchase)},
            },
            options={"idempotency_key": checkout_idempotency_key(purchase.id)},
        )
    return _stored(engine, purchase.id, checkout_session_id=checkout.id), checkout.url


def _pending_purchase(
    engine: Engine, order: CreditOrder, *, settings: Settings, now: datetime
) -> tuple[stripe.StripeClient, CreditPurchase]:
    """Stripe's client and a pending purchase, stored; raises StripeOff or InvalidRequest
    first, storing nothing."""
    client = stripe_client(settings)
    if client is None:
        raise StripeOff("Stripe is off here, so credits cannot be bought; ask the operator.")
    if order.currency != PUBLISHED_RATE_CARD.currency:
        raise InvalidRequest(
            f"Credits are sold in {PUBLISHED_RATE_CARD.currency}, the currency quotes are "
            f"priced in; {order.currency} credits could pay for nothing."
        )
    purchase = CreditPurchase(
        account_id=order.account_id,
        amount_minor=order.amount_minor,
        currency=order.currency,
        state=PurchaseState.pending,
        created_at=now,
        updated_at=now,
    )
    with write_session(engine) as session:
        session.add(purchase)
    return client, purchase


def _stored(engine: Engine, purchase_id: uuid.UUID, **stripe_ids: str) -> CreditPurchase:
    """The purchase with the id Stripe gave its intent or session stored (a webhook may have
    come first and stored it already: it names the purchase)."""
    with write_session(engine) as session:
        stored = session.get(CreditPurchase, purchase_id)
        for name, value in stripe_ids.items():
            setattr(stored, name, value)
        return stored


def _purchase_metadata(purchase: CreditPurchase) -> dict[str, str]:
    return {"purchase_id": str(purchase.id), "account_id": str(purchase.account_id)}


@contextmanager
def _failing_purchase(engine: Engine, purchase_id: uuid.UUID, *, now: datetime) -> Iterator[None]:
    """Stripe's errors inside the block mark the purchase failed and raise StripeUnavailable."""
    try:
        yield
    except stripe.StripeError as failed:
        with write_session(engine) as session:
            stored = session.get(CreditPurchase, purchase_id)
            stored.state = PurchaseState.failed
            stored.failure_message = (failed.user_message or str(failed))[:500]
            stored.updated_at = now
        raise StripeUnavailable(
            f"Stripe did not make the payment ({failed.user_message or failed}); nothing was "
            "charged. Try again."
        ) from None


def wallet_balances(session: Session, *, account_id: uuid.UUID) -> list[WalletBalance]:
    rows = session.exec(
        select(LedgerAccount.currency, LedgerAccount.balance_minor)
        .where(
            LedgerAccount.owner_id == account_id,
            LedgerAccount.kind == AccountKind.creator_wallet,
        )
        .order_by(LedgerAccount.currency)
    ).all()
    return [WalletBalance(currency=currency, balance_minor=balance) for currency, balance in rows]


def monthly_allowance(
    session: Session, *, account_id: uuid.UUID, settings: Settings, now: datetime
) -> MonthlyAllowance:
    """This month's allowance, and whether it was given yet (reading posts nothing)."""
    granted = entry_posted(session.connection(), allowance_key(account_id, now))
    return MonthlyAllowance(
        month=allowance_month(now),
        amount_minor=settings.free_monthly_credits_minor,
        currency=settings.free_monthly_credits_currency,
        granted=granted,
    )


def purchases_page(
    session: Session, *, account_id: uuid.UUID, params: PageParams
) -> tuple[list[CreditPurchase], int]:
    query = (
        select(CreditPurchase)
        .where(CreditPurchase.account_id == account_id)
        .order_by(col(CreditPurchase.created_at).desc(), col(CreditPurchase.id))
    )
    return paginate(session, query, params)


def movements_page(
    session: Session, *, account_id: uuid.UUID, params: PageParams
) -> tuple[list[WalletMovement], int]:
    """The entries that moved the account's wallets, newest first."""
    query = (
        select(JournalEntry, JournalLeg)
        .join(JournalLeg, col(JournalLeg.entry_id) == JournalEntry.id)
        .join(LedgerAccount, col(LedgerAccount.id) == JournalLeg.account_id)
        .where(
            LedgerAccount.owner_id == account_id,
            LedgerAccount.kind == AccountKind.creator_wallet,
        )
        .order_by(col(JournalEntry.posted_at).desc(), col(JournalEntry.id))
    )
    rows, total = paginate(session, query, params)
    return [
        WalletMovement(
            entry_id=entry.id,
            event=entry.event,
            memo=entry.memo,
            amount_minor=leg.credit_minor - leg.debit_minor,
            currency=leg.currency,
            generation_id=entry.generation_id,
            posted_at=entry.posted_at,
        )
        for entry, leg in rows
    ], total


def require_credits(
    session: Session,
    *,
    creator_id: uuid.UUID,
    amount_minor: int,
    currency: str,
    settings: Settings,
    now: datetime,
) -> None:
    """Raise InsufficientCredits unless the creator's wallet (this month's allowance posted
    first) holds ``amount_minor`` besides what their generations queued or running will be
    charged. The wallet's row is locked until the transaction ends, so two clearances of one
    creator are checked one after the other, each seeing the other's queued job."""
    grant_monthly_allowance(session, creator_id=creator_id, settings=settings, now=now)
    ref = wallet(creator_id, currency)
    balance = ledger_store(session.connection()).lock({ref}, now=now)[ref].balance_minor
    available = balance - _held_by_unfinished_generations(
        session, creator_id=creator_id, currency=currency
    )
    if available < amount_minor:
        raise InsufficientCredits(
            balance_minor=available, needed_minor=amount_minor, currency=currency
        )


# Read by every clearance that costs something: a Core statement built once (building a
# query and its cache key costs more than the database takes to answer it), run on the
# session's connection; it reads the rows anew each time.
_UNFINISHED_QUOTES = (
    select(Clearance.quote)
    .join(GenerationJob, col(GenerationJob.clearance_id) == Clearance.id)
    .where(
        GenerationJob.requester_id == bindparam("creator_id"),
        col(GenerationJob.state).not_in(sorted(FINAL_STATES)),
    )
)


def _held_by_unfinished_generations(
    session: Session, *, creator_id: uuid.UUID, currency: str
) -> int:
    """What the creator's generations that are not final yet will be charged on release: their
    clearances' quotes (released ones are in the wallet's balance already)."""
    quotes = session.connection().execute(_UNFINISHED_QUOTES, {"creator_id": creator_id}).scalars()
    return sum(quote["total_minor"] for quote in quotes if quote and quote["currency"] == currency)
