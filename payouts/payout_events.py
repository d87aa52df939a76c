"""Reconciling payouts from Stripe's transfer events. The webhook endpoint (with its signature
check and its once-only store of events) calls these as ``handler(session, transfer, now)``
with the event's object, in its own transaction; ``PAYOUT_EVENT_HANDLERS`` maps event types
to them.

- ``transfer.created`` / ``transfer.updated``: a transfer naming one of our payouts (its
  metadata's ``payout_id``) that is still pending or failed is recorded as paid. This is what
  closes a payout whose run crashed after Stripe made the transfer and before recording it,
  without waiting for the next run (which would find it by its transfer group too).
- ``transfer.reversed``: each reversal of a paid payout's transfer posts, once (key
  ``payout_return:<reversal id>``), the reversed amount back from Stripe clearing to the
  holder's payable; when the whole transfer is reversed the payout is ``returned``.

Each is harmless to apply twice or out of order: recording paid only moves an open payout,
and each reversal's entry has its own idempotency key. A transfer that names no payout of
ours (or names one for another amount or destination) changes nothing.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from payouts.accounts import payable, platform
from payouts.journal import EntryDraft, credit, debit, post_entry
from payouts.models import AccountKind, EntryEvent
from payouts.payout_models import OPEN_STATES, Payout, PayoutState
from payouts.runs import mark_paid


def _payout_of(session: Session, transfer: Mapping[str, Any]) -> Payout | None:
    """The payout the transfer was sent for, if it is one of ours and matches it."""
    metadata = transfer.get("metadata") or {}
    try:
        payout_id = uuid.UUID(str(metadata.get("payout_id")))
    except ValueError:
        return None
    payout = session.get(Payout, payout_id)
    if payout is None or (
        payout.amount_minor,
        payout.currency.lower(),
        payout.destination,
    ) != (
        transfer.get("amount"),
        str(transfer.get("currency", "")).lower(),
        transfer.get("destination"),
    ):
        return None
    return payout


def on_transfer_sent(session: Session, transfer: dict[str, Any], now: datetime) -> None:
    """``transfer.created`` and ``transfer.updated``: record an open payout's transfer."""
    payout = _payout_of(session, transfer)
    if payout is not None and payout.state in OPEN_STATES:
        mark_paid(session, payout.id, transfer["id"], now)


def on_transfer_reversed(session: Session, transfer: dict[str, Any], now: datetime) -> None:
    """``transfer.reversed``: the reversed money back in the holder's payable."""
    payout = _payout_of(session, transfer)
    if payout is None:
        return
    if payout.state in OPEN_STATES:
        # Stripe made and reversed it before our run recorded it: record it first.
        mark_paid(session, payout.id, transfer["id"], now)
    reversals = (transfer.get("reversals") or {}).get("data") or []
    for reversal in reversals:
        post_entry(
            session,
            EntryDraft(
                key=f"{EntryEvent.payout_return.value}:{reversal['id']}",
                event=EntryEvent.payout_return,
                memo=f"Transfer {transfer['id']} of payout {payout.id} reversed at Stripe",
                legs=(
                    debit(
                        platform(AccountKind.stripe_clearing, payout.currency), reversal["amount"]
                    ),
                    credit(payable(payout.holder_id, payout.currency), reversal["amount"]),
                ),
            ),
            now=now,
        )
    if transfer.get("amount_reversed", 0) >= payout.amount_minor:
        session.execute(
            update(Payout)
            .where(Payout.id == payout.id, Payout.state == PayoutState.paid)
            .values(state=PayoutState.returned, updated_at=now, last_error="reversed at Stripe")
        )


PAYOUT_EVENT_HANDLERS = {
    "transfer.created": on_transfer_sent,
    "transfer.updated": on_transfer_sent,
    "transfer.reversed": on_transfer_reversed,
}
