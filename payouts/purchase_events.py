"""What Stripe's events about credit purchases do: a payment that succeeded credits the wallet
(whether a PaymentIntent's or a Checkout Session's event says so), one that failed marks the
purchase failed, each refund takes its credits back, and a refund that fails afterwards gives
them back again.

Every handler can run twice and in any order and leave the same result: the ledger's keys are
Stripe's own ids (``purchase:<PaymentIntent id>``, ``refund:<refund id>``), so an entry posts
once. A Checkout Session's payment is a PaymentIntent too, and ``checkout.session.completed``
credits under that PaymentIntent's key: its ``payment_intent.succeeded`` then finds the entry
posted and credits nothing more (and the other way round). A success wins over a failure
whatever order they come in (a payment may fail once and then succeed with another card, never
the other way round); a refund that comes before its payment's success is posted all the same,
and the success credits the wallet later. A failed refund posts the refund's entry (if its
success was not received yet) and then that entry's reversal, so a success delivered late finds
both posted.

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
from payouts.journal import EntryDraft, credit, debit, post_entry, reverse_entry
from payouts.models import AccountKind, CreditPurchase, EntryEvent, PurchaseState


def payment_succeeded(session: Session, intent: dict[str, Any], now: datetime) -> None:
    """``payment_intent.succeeded``: the purchase succeeded, its wallet credited once by what
    Stripe received."""
    purchase = _purchase_paid_by(session, intent)
    if purchase is None:
        return
    amount = intent.get("amount_received") or intent["amount"]
    _credit_purchase(
        session,
        purchase,
        payment_intent_id=intent["id"],
        amount=amount,
        currency=intent["currency"],
        now=now,
    )


def checkout_paid(session: Session, checkout: dict[str, Any], now: datetime) -> None:
    """``checkout.session.completed`` and ``checkout.session.async_payment_succeeded``: a
    session whose payment is ``paid`` credits its purchase's wallet, under its PaymentIntent's
    key (see the module). A session completed but not paid yet (a bank debit) waits for its
    ``async_payment_succeeded``."""
    if checkout.get("payment_status") != "paid" or not checkout.get("payment_intent"):
        return
    purchase = _purchase_checked_out(session, checkout)
    if purchase is None:
        return
    _credit_purchase(
        session,
        purchase,
        payment_intent_id=checkout["payment_intent"],
        amount=checkout["amount_total"],
        currency=checkout["currency"],
        now=now,
    )


def checkout_unpaid(session: Session, checkout: dict[str, Any], now: datetime) -> None:
    """``checkout.session.async_payment_failed`` and ``checkout.session.expired``: nothing is
    posted; a purchase still pending is marked failed (a success still wins)."""
    purchase = _purchase_checked_out(session, checkout)
    if purchase is not None:
        _mark_failed(purchase, "The Checkout Session expired or its payment failed.", now)


def payment_failed(session: Session, intent: dict[str, Any], now: datetime) -> None:
    """``payment_intent.payment_failed``: a pending purchase failed (a succeeded one stays)."""
    purchase = _purchase_paid_by(session, intent)
    if purchase is not None:
        error = intent.get("last_payment_error") or {}
        _mark_failed(purchase, error.get("message") or "The payment failed.", now)


def _credit_purchase(
    session: Session,
    purchase: CreditPurchase,
    *,
    payment_intent_id: str,
    amount: int,
    currency: str,
    now: datetime,
) -> None:
    """The purchase succeeded: its wallet credited by what Stripe received, once per
    PaymentIntent."""
    currency = currency.upper()
    post_entry(
        session,
        EntryDraft(
            key=f"{EntryEvent.purchase.value}:{payment_intent_id}",
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


def _mark_failed(purchase: CreditPurchase, message: str, now: datetime) -> None:
    if purchase.state == PurchaseState.succeeded:
        return
    purchase.state = PurchaseState.failed
    purchase.failure_message = message[:500]
    purchase.updated_at = now


def charge_refunded(session: Session, charge: dict[str, Any], now: datetime) -> None:
    """``charge.refunded``: each refund the charge lists (when Stripe includes them)."""
    for refund in (charge.get("refunds") or {}).get("data") or ():
        refund_changed(session, {**refund, "payment_intent": charge.get("payment_intent")}, now)


#: Refund states after which the money did not reach the card (Stripe's ``failed`` comes after
#: ``succeeded`` when the card's bank sends it back; ``canceled`` before it ever succeeded).
UNDONE_REFUND_STATES = frozenset({"failed", "canceled"})


def refund_changed(session: Session, refund: dict[str, Any], now: datetime) -> None:
    """``refund.created`` / ``refund.updated`` / ``charge.refund.updated`` / ``refund.failed``:
    a refund that succeeded takes its credits back from the purchase's wallet, once; one that
    failed or was canceled gives them back by reversing that entry, once (see the module)."""
    status = refund.get("status")
    if status not in UNDONE_REFUND_STATES | {"succeeded"} or not refund.get("payment_intent"):
        return
    purchase = purchase_of_payment(session, payment_intent_id=refund["payment_intent"])
    if purchase is None:
        return
    key = f"{EntryEvent.refund.value}:{refund['id']}"
    currency = refund["currency"].upper()
    posted = post_entry(
        session,
        EntryDraft(
            key=key,
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
    if status in UNDONE_REFUND_STATES:
        reversal = reverse_entry(
            session,
            key=key,
            memo=f"Refund {refund['id']} of purchase {purchase.id} {status} at Stripe: "
            "the credits are back",
            now=now,
        )
        if not reversal.replayed:
            purchase.refunded_minor -= refund["amount"]
            purchase.updated_at = now


def _purchase_checked_out(session: Session, checkout: dict[str, Any]) -> CreditPurchase | None:
    """The purchase a Checkout Session pays, locked: by the session's id, else by the purchase
    its metadata names (the webhook can come before the session's id is stored), never one
    bound to another session or PaymentIntent. Its PaymentIntent's id is stored on it."""
    purchase = session.exec(
        select(CreditPurchase)
        .where(CreditPurchase.checkout_session_id == checkout["id"])
        .with_for_update()
    ).first()
    if purchase is None:
        purchase = _named_purchase(session, (checkout.get("metadata") or {}).get("purchase_id"))
        if purchase is None or purchase.checkout_session_id not in (None, checkout["id"]):
            return None
        purchase.checkout_session_id = checkout["id"]
    intent_id = checkout.get("payment_intent")
    if intent_id:
        if purchase.payment_intent_id not in (None, intent_id):
            return None
        purchase.payment_intent_id = intent_id
    return purchase


def _purchase_paid_by(session: Session, intent: dict[str, Any]) -> CreditPurchase | None:
    named = (intent.get("metadata") or {}).get("purchase_id")
    return purchase_of_payment(session, payment_intent_id=intent["id"], named=named)


def purchase_of_payment(
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
    purchase = _named_purchase(session, named)
    if purchase is None or purchase.payment_intent_id not in (None, payment_intent_id):
        return None
    purchase.payment_intent_id = payment_intent_id
    return purchase


def _named_purchase(session: Session, named: str | None) -> CreditPurchase | None:
    """The purchase a Stripe object's metadata names, locked."""
    try:
        purchase_id = uuid.UUID(str(named))
    except ValueError:
        return None
    return session.exec(
        select(CreditPurchase).where(CreditPurchase.id == purchase_id).with_for_update()
    ).first()
