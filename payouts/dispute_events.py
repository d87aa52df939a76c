"""Card disputes of credit purchases, from Stripe's events.

When a creator's bank disputes a purchase, Stripe takes the disputed amount from the
platform's balance at once; the credits it bought are no longer paid for. So:

- ``charge.dispute.created``: the disputed amount moves from the creator's wallet into the
  platform's ``disputes`` account (key ``dispute:<dispute id>``), even below zero (the money is
  gone already, as with a refund).
- ``charge.dispute.closed``, once (key ``dispute_closed:<dispute id>``): **won** (or an
  inquiry closed with no chargeback, ``warning_closed``): the held credits go back to the
  wallet; **lost**: they are written off, from ``disputes`` against ``stripe_clearing`` (Stripe
  keeps the money, so the balance we hold there is lower by it).

Out of order: a ``closed`` that comes before its ``created`` posts the hold first, then the
closing, so the late ``created`` finds its key posted and does nothing. A second ``closed``
finds its closing posted and does nothing, whatever status it names. A dispute of a payment
that is not one of our purchases changes nothing. Stripe's dispute fee is not posted here
(it is the platform's cost, not the creator's).
"""

from datetime import datetime
from typing import Any

from sqlmodel import Session

from payouts.accounts import platform, wallet
from payouts.journal import EntryDraft, Leg, credit, debit, entry_posted, post_entry
from payouts.models import AccountKind, CreditPurchase, EntryEvent
from payouts.purchase_events import purchase_of_payment

#: How a closed dispute ended, by Stripe's status: the credits back, or written off.
WON = frozenset({"won", "warning_closed"})
LOST = frozenset({"lost"})


def dispute_opened(session: Session, dispute: dict[str, Any], now: datetime) -> None:
    """``charge.dispute.created``: the disputed credits held from the wallet, once."""
    purchase = _disputed_purchase(session, dispute)
    if purchase is not None:
        _hold(session, purchase, dispute, now)


def dispute_closed(session: Session, dispute: dict[str, Any], now: datetime) -> None:
    """``charge.dispute.closed``: the held credits back to the wallet (won) or written off
    (lost), once; the hold is posted first if its event has not come yet."""
    status = dispute.get("status")
    if status not in WON | LOST:
        return
    purchase = _disputed_purchase(session, dispute)
    if purchase is None:
        return
    key = f"{EntryEvent.dispute_closed.value}:{dispute['id']}"
    if entry_posted(session.connection(), key):
        return
    _hold(session, purchase, dispute, now)
    currency = dispute["currency"].upper()
    amount = dispute["amount"]
    held = platform(AccountKind.disputes, currency)
    to: Leg = (
        credit(wallet(purchase.account_id, currency), amount)
        if status in WON
        else credit(platform(AccountKind.stripe_clearing, currency), amount)
    )
    post_entry(
        session,
        EntryDraft(
            key=key,
            event=EntryEvent.dispute_closed,
            memo=f"Dispute {dispute['id']} of purchase {purchase.id} {status}: "
            + ("the credits are back" if status in WON else "the credits are written off"),
            legs=(debit(held, amount), to),
        ),
        now=now,
    )


def _hold(
    session: Session, purchase: CreditPurchase, dispute: dict[str, Any], now: datetime
) -> None:
    currency = dispute["currency"].upper()
    amount = dispute["amount"]
    post_entry(
        session,
        EntryDraft(
            key=f"{EntryEvent.dispute.value}:{dispute['id']}",
            event=EntryEvent.dispute,
            memo=f"Dispute {dispute['id']} of purchase {purchase.id} opened: the credits are held",
            legs=(
                debit(wallet(purchase.account_id, currency), amount),
                credit(platform(AccountKind.disputes, currency), amount),
            ),
            overdraws_wallet=True,
        ),
        now=now,
    )


def _disputed_purchase(session: Session, dispute: dict[str, Any]) -> CreditPurchase | None:
    intent_id = dispute.get("payment_intent")
    return None if not intent_id else purchase_of_payment(session, payment_intent_id=intent_id)
