"""Stripe's webhook events: verified, stored once, and handed to the handler of their type.

A handler is ``handler(session, obj, now)``: ``session`` is the write transaction the event is
stored in, ``obj`` the event's ``data.object`` as plain JSON (a dict: the PaymentIntent, the
refund, the transfer ...), ``now`` the time it is received. It returns nothing, commits
nothing, and must leave the same result when it runs again or after an event that Stripe sent
later: Stripe delivers at least once and in no set order. Add a handler by naming its type in
:data:`HANDLERS`; one that needs the event itself (its ``created`` time, to tell an older
state from a newer one) goes in :data:`EVENT_HANDLERS` and is given the whole event instead
of its object.

An event is stored under its id in the same transaction its handler runs in, so it is applied
exactly once: a second delivery finds the id and changes nothing (on PostgreSQL a delivery at
the same moment waits for the first one's commit, then finds it); a handler that fails rolls
its event back, and Stripe's next delivery runs it again. Types with no handler are stored and
acknowledged.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from clearhouse.db import write_session
from clearhouse.settings import Settings
from payouts import account_events, dispute_events, purchase_events
from payouts.models import StripeEvent
from payouts.payout_events import PAYOUT_EVENT_HANDLERS
from payouts.stripe_gateway import verified_event

EventHandler = Callable[[Session, dict[str, Any], datetime], None]

HANDLERS: Mapping[str, EventHandler] = {
    "payment_intent.succeeded": purchase_events.payment_succeeded,
    "payment_intent.payment_failed": purchase_events.payment_failed,
    "checkout.session.completed": purchase_events.checkout_paid,
    "checkout.session.async_payment_succeeded": purchase_events.checkout_paid,
    "checkout.session.async_payment_failed": purchase_events.checkout_unpaid,
    "checkout.session.expired": purchase_events.checkout_unpaid,
    "charge.refunded": purchase_events.charge_refunded,
    "refund.created": purchase_events.refund_changed,
    "refund.updated": purchase_events.refund_changed,
    "refund.failed": purchase_events.refund_changed,
    "charge.refund.updated": purchase_events.refund_changed,
    "charge.dispute.created": dispute_events.dispute_opened,
    "charge.dispute.closed": dispute_events.dispute_closed,
    **PAYOUT_EVENT_HANDLERS,
}

EVENT_HANDLERS: Mapping[str, EventHandler] = {
    "account.updated": account_events.account_updated,
}


def receive_event(
    engine: Engine,
    *,
    payload: bytes,
    signature: str | None,
    settings: Settings,
    now: datetime,
    handlers: Mapping[str, EventHandler] = HANDLERS,
    event_handlers: Mapping[str, EventHandler] = EVENT_HANDLERS,
) -> bool:
    """Verify the delivery (payouts.stripe_gateway.verified_event raises before anything is
    read or written), store its event and run its handler; False when the event had been
    received before (nothing was done)."""
    event = verified_event(settings, payload=payload, signature=signature)
    handler = handlers.get(event["type"])
    event_handler = event_handlers.get(event["type"])
    handled = handler is not None or event_handler is not None
    with write_session(engine) as session:
        if not _store_once(session, event, handled=handled, now=now):
            return False
        if handler is not None:
            handler(session, event["data"]["object"], now)
        if event_handler is not None:
            event_handler(session, event, now)
    return True


def _store_once(session: Session, event: dict[str, Any], *, handled: bool, now: datetime) -> bool:
    """Insert the event unless its id is stored; whether it was inserted now."""
    dialect = session.connection().dialect.name  # the two databases Clearhouse runs on
    values = {
        "id": event["id"],
        "type": event["type"][:100],
        "handled": handled,
        "payload": event,
        "received_at": now,
    }
    table = StripeEvent.__table__
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        builder(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table.c.id)
    )
    return session.connection().execute(statement).first() is not None
