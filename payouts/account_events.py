"""``account.updated`` for holders' connected accounts: what Stripe says the account can do,
stored on its ``payout_account`` row, which the payouts API and the portal's /payouts page
show and payout runs read (a holder whose account Stripe reports cannot be paid out is
skipped, payouts/runs.py).

Stripe sends an account's events in no set order, and each carries the whole account as it was
when the event was made: the row keeps the state of the newest event (by its ``created``
time) and ignores any older one delivered later. A change of ``payouts_enabled`` goes into the
audit chain. An account that is not one of our holders' changes nothing.
"""

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from audit.service import record_event
from payouts.payout_models import PayoutAccount


def account_updated(session: Session, event: dict[str, Any], now: datetime) -> None:
    """Given the whole event (its ``created`` orders the account's states)."""
    account = event["data"]["object"]
    stored = session.exec(
        select(PayoutAccount)
        .where(PayoutAccount.stripe_account_id == account.get("id"))
        .with_for_update()
    ).first()
    if stored is None:
        return
    made_at = datetime.fromtimestamp(int(event["created"]), UTC)
    if stored.stripe_state_at is not None and stored.stripe_state_at > made_at:
        return
    payouts_enabled = bool(account.get("payouts_enabled"))
    if stored.payouts_enabled != payouts_enabled:
        record_event(
            session,
            action="payout_account.payouts_enabled"
            if payouts_enabled
            else "payout_account.payouts_disabled",
            actor_id=None,  # Stripe decided it, not a person here
            asset_id=None,
            details={
                "holder_id": str(stored.holder_id),
                "stripe_account_id": stored.stripe_account_id,
                "stripe_event_id": event["id"],
                "disabled_reason": (account.get("requirements") or {}).get("disabled_reason"),
            },
        )
    stored.details_submitted = bool(account.get("details_submitted"))
    stored.payouts_enabled = payouts_enabled
    stored.charges_enabled = bool(account.get("charges_enabled"))
    stored.requirements = account.get("requirements") or {}
    stored.stripe_state_at = made_at
    session.add(stored)
