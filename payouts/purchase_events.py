"""What Stripe's events about credit purchases do: a payment that succeeded credits the wallet,
one that failed marks the purchase failed, each refund takes its credits back.

Every handler can run twice and in any order and leave the same result: the ledger's keys are
Stripe's own ids (``purchase:<PaymentIntent id>``, ``refund:<refund id>``), so an entry posts
once; a success wins over a failure whatever order they come in (a payment may fail once and
then succeed with another card, never the other way round); a refund that comes before its
payment's success is posted all the same, and the success credits the wallet later.

A refund debits the wallet and credits ``stripe_clearing``: the money leaves the balance Stripe
holds for the platform, so ``stripe_clearing`` keeps mirroring that balance, which is what a
reconciliation against Stripe compares it with. (The ``refunds`` account is for money the
platform gives back from its own revenue.) The refund is posted even when it takes the wallet
below zero: the money has already gone back to the card, and the wallet then shows the credits
the creator spent but no longer paid for; the next clearance meets a 402 until it is made up.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from payouts.accounts import platform, wallet
from payouts.journal import EntryDraft, credit, debit, post_entry
from payouts.models import AccountKind, CreditPurchase, EntryEvent, PurchaseState


def payment_succeeded(session: Session, intent: dict[str, Any], now: datetime) -> None:
    """``payment_intent.succeeded``: the purchase succeeded, its wallet credited once by what
    Stripe received."""
    purchase = _purchase_paid_by(session, intent)
    if purchase is None:
        return
    amount = intent.get("amount_received") or intent["amount"]
    currency = intent["currency"].upper()
    post_entry(
        session,
        EntryDraft(
            key=f"{EntryEvent.purchase.value}:{intent['id']}",
            event=EntryEvent.purchase,
            memo=f"Credits bought (purchase {purchase.id})",
            legs=(
                debit(platform(AccountKind.stripe_clearing, currency), amount),
                credit(wallet(purchase.account_id, currency), amount),
            ),
        ),
        now=now,
    )
    purchase.state = PurchaseState.succeeded
    purchase.failure_message = None
    purchase.updated_at = now


def payment_failed(session: Session, intent: dict[str, Any], now: datetime) -> None:
    """``payment_intent.payment_failed``: a pending purchase failed (a succeeded one stays)."""
    purchase = _purchase_paid_by(session, intent)
    if purchase is None or purchase.state == PurchaseState.succeeded:
        return
    purchase.state = PurchaseState.failed
    error = intent.get("last_payment_error") or {}
    purchase.failure_message = (error.get("message") or "The payment failed.")[:500]
    purchase.updated_at = now


def charge_refunded(session: Session, charge: dict[str, Any], now: datetime) -> None:
    """``charge.refunded``: each refund the charge lists (when Stripe includes them)."""
    for refund in (charge.get("refunds") or {}).get("data") or ():
        refund_changed(session, {**refund, "payment_intent": charge.get("payment_intent")}, now)


def refund_changed(session: Session, refund: dict[str, Any], now: datetime) -> None:
    """``refund.created`` / ``refund.updated``: a refund that succeeded takes its credits
    back from the purchase's wallet, once."""
    if refund.get("status") != "succeeded" or not refund.get("payment_intent"):
        return
    purchase = _purchase_of(session, payment_intent_id=refund["payment_intent"])
    if purchase is None:
        return
    currency = refund["currency"].upper()
    posted = post_entry(
        session,
        EntryDraft(
            key=f"{EntryEvent.refund.value}:{refund['id']}",
            event=EntryEvent.refund,
            memo=f"Refund {refund['id']} of purchase {purchase.id}",
            legs=(
                debit(wallet(purchase.account_id, currency), refund["amount"]),
                credit(platform(AccountKind.stripe_clearing, currency), refund["amount"]),
            ),
            overdraws_wallet=True,
        ),
        now=now,
    )
    if not posted.replayed:
        purchase.refunded_minor += refund["amount"]
        purchase.updated_at = now


def _purchase_paid_by(session: Session, intent: dict[str, Any]) -> CreditPurchase | None:
    named = (intent.get("metadata") or {}).get("purchase_id")
    return _purchase_of(session, payment_intent_id=intent["id"], named=named)


def _purchase_of(
    session: Session, *, payment_intent_id: str, named: str | None = None
) -> CreditPurchase | None:
    """The purchase a PaymentIntent pays, locked: by the intent's id, else by the purchase its
    metadata names (``named``: the webhook can come before the intent's id is stored). None
    for a payment that is not a credit purchase of ours."""
    purchase = session.exec(
        select(CreditPurchase)
        .where(CreditPurchase.payment_intent_id == payment_intent_id)
        .with_for_update()
    ).first()
    if purchase is not None or named is None:
        return purchase
    try:
        purchase_id = uuid.UUID(named)
    except ValueError:
        return None
    purchase = session.exec(
        select(CreditPurchase).where(CreditPurchase.id == purchase_id).with_for_update()
    ).first()
    if purchase is None or purchase.payment_intent_id not in (None, payment_intent_id):
        return None
    purchase.payment_intent_id = payment_intent_id
    return purchase
